/**
 * FAULT 7: the slave's services start command hangs, or fails, when it takes over
 * (fixtures/hang-forever, fixtures/fail-start as its [services] start).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FIXTURES, PBX_HA, VOIP_VIP, faultCase, sleep } from './lib';

/** [services] timeout on the slave: a hung start is killed after this long. */
const TIMEOUT_S = 8;

function servicesStart(text: string, program: string): string {
  const withProgram = text.replace(/^start = .*$/m, `start = ${path.join(FIXTURES, program)}`);
  return /^\[services\]\ntimeout = /m.test(withProgram)
    ? withProgram
    : withProgram.replace(/^\[services\]$/m, `[services]\ntimeout = ${TIMEOUT_S}s`);
}

test('FAULT 7: the services start hangs, or fails, on takeover', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 7,
      name: 'services-start-hangs-or-fails',
      fault:
        "the slave's [services] start command hangs (killed after [services] timeout), or exits 1, when it takes over",
      holds:
        'the VIPs are taken and held all the same, an alert is in pbx-ha history, the agent answers pbx-ha status throughout',
    },
    {
      editConfig: (node, text) => (node === 'pbx2' ? servicesStart(text, 'hang-forever') : text),
    },
    async (f) => {
      // 1. A start that hangs: the takeover does not wait for it.
      await f.lab.cut('pbx1');
      await f.waitSoleHolder('pbx2');
      const calls = f.lab.hostPath('pbx2', '/run/fake-pbx/calls.log');
      await f.lab.waitFor(
        'the hanging start runs',
        async () => (await f.lab.fakeServiceCalls('pbx2')).some((l) => l.includes('hang-forever')),
        10_000,
      );
      for (let i = 0; i < 3; i++) {
        const asked = Date.now();
        const s = await f.status('pbx2');
        assert.equal(s.state, 'active');
        assert.ok(
          Date.now() - asked < 3000,
          `pbx-ha status answered in ${Date.now() - asked} ms while the start hangs`,
        );
        assert.ok(
          await f.lab.phonePingOnce(VOIP_VIP, 1000),
          'the phone reaches the VIP while the start hangs',
        );
        await sleep(500);
      }
      await f.lab.waitFor(
        'the alert for the hung start',
        async () =>
          /alert\s+! services start failed: .*hang-forever.* timed out and was killed/.test(
            await f.history('pbx2'),
          ),
        (TIMEOUT_S + 15) * 1000,
        500,
      );
      await f.checkInvariants({ holder: 'pbx2', otherState: 'fault' });
      assert.match(
        await f.lab.agentLog('pbx2'),
        /ALERT: services start failed: .*hang-forever.* timed out and was killed/,
      );
      f.detail(
        `hung start: VIPs held by pbx2, status answered, alert after the ${TIMEOUT_S} s timeout (${calls.replace(/.*\/pbx2\//, 'pbx2:/')})`,
      );

      await f.lab.restore('pbx1');
      await f.checkInvariants();

      // The master comes back while a hung start is still running on the slave: the stop that
      // comes with the release cancels it (killed), rather than waiting for its timeout.
      const hangs = (await f.lab.fakeServiceCalls('pbx2')).filter((l) => l.includes('hang-forever')).length;
      await f.lab.cut('pbx1');
      await f.waitSoleHolder('pbx2');
      await f.lab.waitFor(
        'a new hanging start',
        async () =>
          (await f.lab.fakeServiceCalls('pbx2')).filter((l) => l.includes('hang-forever')).length > hangs,
        10_000,
      );
      await sleep(1000);
      await f.lab.restore('pbx1');
      await f.checkInvariants({ settleMs: (TIMEOUT_S + 30) * 1000 });
      assert.match(
        await f.lab.agentLog('pbx2'),
        /services start still running: cancelled, the services are to be stopped/,
      );
      f.detail(
        "the master back while the slave's start still hung: the start was cancelled by the stop, the VIPs came back to the master",
      );

      // 2. A start that fails.
      await f.lab.writeConfig('pbx2', servicesStart(await f.lab.readConfig('pbx2'), 'fail-start'));
      await f.reload('pbx2');
      await f.lab.cut('pbx1');
      await f.waitSoleHolder('pbx2');
      await f.lab.waitFor(
        'the alert for the failed start',
        async () =>
          /alert\s+! services start failed: .*fail-start exited with code 1: fail-start: asterisk\.service failed to start/.test(
            await f.history('pbx2'),
          ),
        15_000,
        500,
      );
      await f.checkInvariants({ holder: 'pbx2', otherState: 'fault' });
      const status = await f.lab.exec('pbx2', [PBX_HA, 'status']);
      assert.match(status.stdout, /active/);
      f.detail(
        'failed start: VIPs held by pbx2, "services start failed: … exited with code 1: fail-start: asterisk.service failed to start" in its history',
      );
      await f.lab.restore('pbx1');
      await f.checkInvariants();
      // The slave's own cables and the gateway never failed: no fault of the slave, ever.
      const faults = (await f.lab.agentLog('pbx2')).split('\n').filter((l) => /pbx2: \w+ -> fault/.test(l));
      assert.deepEqual(
        faults,
        [],
        'the slave never went to fault (its link and the gateway were fine all along)',
      );
    },
  );
});
