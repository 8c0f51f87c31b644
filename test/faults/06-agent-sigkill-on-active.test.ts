/** FAULT 6: the agent on the active node is killed with SIGKILL, then restarted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOIP_VIP, faultCase, sleep } from './lib';

test('FAULT 6: SIGKILL of the agent on the active node, then a restart', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 6,
      name: 'agent-sigkill-on-active',
      fault: 'the agent of the active master is killed with SIGKILL, then restarted',
      holds:
        'the VIPs stay where they are (the host still answers): no outage over a few hundred ms for the phone, no release or flap by the restarted agent',
    },
    {},
    async (f) => {
      const pinger = await f.lab.startPhonePinger(VOIP_VIP, 10);
      const sampler = f.holderSampler();
      await sleep(500);
      await f.killAgent('pbx1');
      await sleep(3000);
      assert.equal(
        (await f.status('pbx2')).state,
        'standby',
        'the slave does not take over: the master host still answers',
      );
      const logBefore = (await f.lab.agentLog('pbx1')).length;
      await f.start('pbx1');
      await f.waitState('pbx1', 'active');
      await sleep(2000);
      const ping = await pinger.stop();
      const holders = await sampler.stop();
      const restartLog = (await f.lab.agentLog('pbx1')).slice(logBefore);
      f.detail(
        `the phone's longest gap: ${Math.round(ping.longestGapMs)} ms over ${ping.replies} replies; holders seen: ${holders.everHeld.join(', ')}`,
      );
      assert.match(restartLog, /pbx1: init -> active \(already holds voip, data\)/);
      assert.doesNotMatch(
        restartLog,
        /-192\.0\.2\.10|-198\.51\.100\.10/,
        'the restarted agent never removed a VIP',
      );
      assert.deepEqual(holders.everHeld, ['pbx1'], 'nobody but the master held the VIPs');
      assert.ok(ping.replies > 300, 'the pinger ran');
      assert.ok(ping.longestGapMs < 500, `the phone lost the VIP for ${ping.longestGapMs} ms`);
      await f.checkInvariants();
    },
  );
});
