/**
 * FAULT 15: `systemctl stop pbx-ha` (SIGTERM) on the active master. Its host still answers, so
 * the slave's detector never fires: the stopping agent must hand over through the trusted link,
 * or keep the VIPs when nobody can take them, and the package upgrade path must keep them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PBX_HA, VOIP_VIP, faultCase, sleep } from './lib';

test('FAULT 15: SIGTERM of the agent on the active master', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 15,
      name: 'agent-sigterm-on-active',
      fault:
        "the agent of the active master is stopped with SIGTERM (systemctl stop), then started again; again after `pbx-ha keep-vips-on-stop` (an upgrade); again while the slave's agent is dead",
      holds:
        'the stopping master hands over to the healthy slave at once (phone outage under 3 s); after keep-vips-on-stop, or with no agent on the slave to take them, the master keeps the VIPs; the restarted master takes them back',
    },
    {},
    async (f) => {
      // 1. A plain stop: the slave takes over through the trusted link.
      const pinger = await f.lab.startPhonePinger(VOIP_VIP, 10);
      f.onCleanup(async () => void (await pinger.stop())); // also when the case fails half-way
      await sleep(500);
      await f.lab.stop('pbx1', 'TERM');
      f.pids.delete('pbx1');
      await f.waitSoleHolder('pbx2', 3000);
      await f.waitState('pbx2', 'active', 3000);
      await sleep(500);
      const ping = await pinger.stop();
      f.detail(
        `stop of the active master: the slave took over; the phone's longest gap ${Math.round(ping.longestGapMs)} ms`,
      );
      assert.ok(ping.longestGapMs < 3000, `the phone lost the VIP for ${ping.longestGapMs} ms`);
      assert.match(await f.lab.agentLog('pbx1'), /handed over to pbx2/);
      await f.checkInvariants({ holder: 'pbx2', otherState: null, settleMs: 5000, report: false });
      await f.start('pbx1');
      await f.checkInvariants({ report: false });

      // 2. The upgrade path: keep-vips-on-stop, then SIGTERM: the VIPs stay, the slave stays in standby.
      await f.lab.exec('pbx1', [PBX_HA, 'keep-vips-on-stop'], { timeoutMs: 10_000 });
      await f.lab.stop('pbx1', 'TERM');
      f.pids.delete('pbx1');
      await sleep(2000);
      assert.deepEqual(
        await f.holders(VOIP_VIP),
        ['pbx1'],
        'after keep-vips-on-stop the master keeps the VIPs',
      );
      assert.equal((await f.status('pbx2')).state, 'standby');
      await f.start('pbx1');
      await f.checkInvariants({ report: false });
      f.detail(
        'after keep-vips-on-stop the stopped master kept the VIPs and the restarted one went on with them',
      );

      // 3. Nobody can take them (the slave's agent is dead, its host answers): the VIPs are kept.
      await f.killAgent('pbx2');
      await f.lab.stop('pbx1', 'TERM');
      f.pids.delete('pbx1');
      await sleep(1000);
      assert.deepEqual(
        await f.holders(VOIP_VIP),
        ['pbx1'],
        'with nobody to take them, the stopping master keeps the VIPs',
      );
      assert.ok(await f.lab.phonePingOnce(VOIP_VIP, 1000), 'the phone still reaches the VIP');
      f.detail('with no agent on the slave, the stopping master kept the VIPs');
      await f.start('pbx1');
      await f.start('pbx2');
      await f.checkInvariants();
    },
  );
});
