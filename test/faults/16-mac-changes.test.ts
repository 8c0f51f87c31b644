/**
 * FAULT 16: a node's MAC address changes (a bond failing over to another NIC, a VM's NIC
 * replaced). Every announcement must carry the interface's MAC as it is at that moment, and a
 * holder whose MAC changes must tell the network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../lab/harness';
import { VOIP_VIP, faultCase, sleep } from './lib';
import { primeNeighbours, waitNetworkPointsAt } from './field';

test('FAULT 16: the MAC address of a node changes', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 16,
      name: 'mac-changes',
      fault:
        "the standby slave's interfaces get new MAC addresses, then the master's cables are pulled; then the MACs of the slave, now active, change again; then the master's cables are plugged back",
      holds:
        "the slave's gratuitous ARP carries its new MACs: within 2 s of the takeover the phone and the gateway point at them (phone outage under 3 s); within 2 s of the second change too; afterwards the master takes the VIPs back",
    },
    {},
    async (f) => {
      const ns = f.lab.namespace('pbx2');
      const setMacs = async (eth0: string, eth1: string) => {
        await run(['ip', '-n', ns, 'link', 'set', 'dev', 'eth0', 'address', eth0]);
        await run(['ip', '-n', ns, 'link', 'set', 'dev', 'eth1', 'address', eth1]);
      };
      await setMacs('02:00:00:00:02:10', '02:00:00:00:02:11');
      await sleep(1000);
      await primeNeighbours(f);
      const pinger = await f.lab.startPhonePinger(VOIP_VIP, 10);
      f.onCleanup(async () => void (await pinger.stop())); // also when the case fails half-way
      await sleep(500);
      await f.lab.cut('pbx1');
      await f.lab.waitFor(
        'pbx2 holds the VOIP VIP',
        async () => (await f.holders(VOIP_VIP)).includes('pbx2'),
        5000,
        10,
      );
      const tookOverAt = Date.now();
      const pointedMs = await waitNetworkPointsAt(f, 'pbx2', tookOverAt, 2000);
      await sleep(1000);
      const ping = await pinger.stop();
      f.detail(
        `takeover after a MAC change: the network pointed at the slave's new MACs ${pointedMs} ms after it took the VIPs; the phone's longest gap ${Math.round(ping.longestGapMs)} ms`,
      );
      assert.ok(ping.longestGapMs < 3000, `the phone lost the VIP for ${ping.longestGapMs} ms`);

      const changedAt = Date.now();
      await setMacs('02:00:00:00:02:20', '02:00:00:00:02:21');
      const followedMs = await waitNetworkPointsAt(f, 'pbx2', changedAt, 2000);
      f.detail(`MAC change on the active slave: the network followed in ${followedMs} ms`);

      await f.lab.restore('pbx1');
      await f.checkInvariants();
    },
  );
});
