/**
 * FAULT 3: the DATA link alone fails on the active master (VOIP fine, so the slave still hears
 * it): the master goes to fault and hands over to the slave over the trusted link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOIP_VIP, faultCase } from './lib';

test('FAULT 3: the DATA link fails on the active master', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 3,
      name: 'data-link-fails-on-master',
      fault: 'the DATA cable of the active master is pulled (VOIP still fine), later plugged back',
      holds:
        'the master goes to fault ("no carrier on eth1") and hands over to the slave at once over the trusted link; afterwards the master takes the VIPs back',
    },
    {},
    async (f) => {
      const pinger = await f.lab.startPhonePinger(VOIP_VIP, 10);
      await f.lab.cut('pbx1', 'eth1');
      // The slave's detector never fires (the master answers on VOIP): only the handover moves the VIPs.
      await f.checkInvariants({ holder: 'pbx2', otherState: 'fault' });
      const ping = await pinger.stop();
      f.detail(`the phone's longest gap during the handover: ${Math.round(ping.longestGapMs)} ms`);
      const master = await f.status('pbx1');
      assert.equal(master.reason, 'no carrier on eth1', "the master's status says why it is in fault");
      const slave = await f.status('pbx2');
      assert.match(slave.reason, /master pbx1 handed over/);
      assert.equal(slave.peer.reachability, 'up', 'the slave still hears the master on VOIP');
      assert.match(await f.lab.agentLog('pbx1'), /pbx1: active -> fault \(no carrier on eth1\)/);
      assert.match(await f.lab.agentLog('pbx1'), /peer-takeover: pbx2 is now active/);
      assert.match(await f.history('pbx1'), /active -> fault \(no carrier on eth1\)/);
      assert.ok(
        ping.longestGapMs < 3000,
        `the phone lost the VIP for ${ping.longestGapMs} ms during the handover`,
      );

      // Still the slave a while later: no flapping while the DATA link stays down.
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(await f.holders(VOIP_VIP), ['pbx2']);

      await f.lab.restore('pbx1', 'eth1');
      await f.checkInvariants();
    },
  );
});
