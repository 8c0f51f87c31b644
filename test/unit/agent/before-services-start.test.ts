// The streaming mode's hook (ExecutorDeps.beforeServicesStart): the database is promoted before
// the services start, in the services' lane, so that the VIPs are never held up by it; a hook
// that fails is alerted and the services still start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executor } from '../../../src/agent/executor';
import { GarpScheduler } from '../../../src/agent/garp-scheduler';
import { claimChanges } from '../../../src/domain/reconcile';
import { FakeArp, FakeClock, FakeLan, RecordingLogger, RecordingRunner, flushPromises } from '../../fakes';
import { baseAddresses, pairConfig, vipOf } from '../../fakes/config';

const SERVICES = '/usr/local/sbin/pbx-services';

function setup(hook: () => Promise<void>) {
  const config = pairConfig();
  const clock = new FakeClock(0);
  const lan = new FakeLan(clock);
  const net = lan.addNode('pbx2', baseAddresses(config, 'pbx2'));
  const log = new RecordingLogger();
  const runner = new RecordingRunner(clock);
  const garp = new GarpScheduler(
    new FakeArp(lan, 'pbx2'),
    clock,
    log,
    () => config,
    () => true,
  );
  const executor = new Executor({
    net,
    garp,
    run: runner.run,
    log,
    config: () => config,
    identity: () => ({ node: 'pbx2', role: 'slave' }),
    state: () => 'active',
    beforeServicesStart: hook,
  });
  return { config, net, log, runner, executor };
}

test('the hook runs before the services start, and the VIPs do not wait for it', async () => {
  let finish: () => void = () => undefined;
  const order: string[] = [];
  const { config, net, runner, executor } = setup(
    () =>
      new Promise<void>((resolve) => {
        order.push('promote begins');
        finish = () => {
          order.push('promoted');
          resolve();
        };
      }),
  );
  await executor.run([
    { kind: 'services', command: 'start', wait: false },
    { kind: 'net', changes: claimChanges(vipOf(config, 'voip')), reason: 'test' },
  ]);
  await flushPromises();
  assert.equal(net.applied.length, 1, 'the VIPs are claimed while the promotion runs');
  assert.equal(runner.callsOf([SERVICES, 'start']).length, 0, 'no services start before the promotion');
  finish();
  await executor.settle();
  assert.deepEqual(order, ['promote begins', 'promoted']);
  assert.equal(runner.callsOf([SERVICES, 'start']).length, 1, 'the services start after it');
});

test('a hook that fails is alerted, and the services still start', async () => {
  const { log, runner, executor } = setup(async () => {
    throw new Error('pg_ctl promote exited with code 1');
  });
  await executor.run([{ kind: 'services', command: 'start', wait: true }]);
  assert.equal(runner.callsOf([SERVICES, 'start']).length, 1);
  assert.ok(
    log
      .messages('warn')
      .some((m) => /ALERT: before the services start: pg_ctl promote exited with code 1/.test(m)),
    JSON.stringify(log.entries),
  );
});
