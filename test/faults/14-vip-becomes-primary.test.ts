/**
 * FAULT 14: the addresses of the active master are flushed and its own addresses added back
 * after the agent re-added the VIPs, so that each VIP is its subnet's primary address; a later
 * release must not take the node's own address down with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../lab/harness';
import { DATA_VIP, VOIP_VIP, faultCase, sleep } from './lib';
import { inetAddresses } from './field';

const OWN = { eth0: '192.0.2.11', eth1: '198.51.100.11' } as const;
const VIP_OF = { eth0: VOIP_VIP, eth1: DATA_VIP } as const;

test(
  'FAULT 14: a VIP becomes the primary address, then the master releases it',
  { timeout: 300_000 },
  async (t) => {
    await faultCase(
      t,
      {
        n: 14,
        name: 'vip-becomes-primary',
        fault:
          "on the active master, `ip addr flush` of eth0 and eth1, its own addresses added back 300 ms later (after the VIPs came back, so each VIP is its subnet's primary address); then its cables are pulled (a release), later plugged back",
        holds:
          'the release deletes the VIPs only: the master keeps its own addresses, whatever the promote_secondaries sysctl says; afterwards the master takes the VIPs back',
      },
      {},
      async (f) => {
        const ns = f.lab.namespace('pbx1');
        // What a distribution or an administrator may have set: the kernel's default, explicitly.
        for (const dev of ['all', 'default', 'eth0', 'eth1']) {
          await run([
            'ip',
            'netns',
            'exec',
            ns,
            'sysctl',
            '-q',
            '-w',
            `net.ipv4.conf.${dev}.promote_secondaries=0`,
          ]);
        }
        for (const dev of ['eth0', 'eth1'] as const) await run(['ip', '-n', ns, 'addr', 'flush', 'dev', dev]);
        await sleep(300);
        for (const dev of ['eth0', 'eth1'] as const)
          await run(['ip', '-n', ns, 'addr', 'add', `${OWN[dev]}/24`, 'dev', dev]);
        // The fault took hold: each VIP is its subnet's primary address, the node's own a secondary.
        for (const dev of ['eth0', 'eth1'] as const) {
          const addrs = await inetAddresses(f, 'pbx1', dev);
          const vip = addrs.find((a) => a.local === VIP_OF[dev]);
          const own = addrs.find((a) => a.local === OWN[dev]);
          assert.ok(
            vip && !vip.secondary && own?.secondary,
            `on ${dev} the VIP is primary and ${OWN[dev]} secondary: ${JSON.stringify(addrs)}`,
          );
        }
        f.detail("each VIP came back before the node's own address and became its subnet's primary address");

        await f.lab.cut('pbx1');
        await f.waitSoleHolder('pbx2');
        await f.waitState('pbx1', 'fault');
        for (const dev of ['eth0', 'eth1'] as const) {
          const addrs = (await inetAddresses(f, 'pbx1', dev)).map((a) => a.local);
          assert.deepEqual(
            addrs,
            [OWN[dev]],
            `after the release pbx1 still has its own address on ${dev}, and only it`,
          );
        }
        f.detail('after the release the master kept its own addresses');
        await f.lab.restore('pbx1');
        await f.checkInvariants();
      },
    );
  },
);
