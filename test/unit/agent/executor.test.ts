import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executor } from '../../../src/agent/executor';
import { GarpScheduler } from '../../../src/agent/garp-scheduler';
import type { PbxHaConfig } from '../../../src/config';
import type { Action } from '../../../src/domain/actions';
import { claimChanges, releaseChanges } from '../../../src/domain/reconcile';
import type { NodeState } from '../../../src/domain/states';
import { FakeArp, FakeClock, FakeLan, RecordingLogger, RecordingRunner, flushPromises } from '../../fakes';
import { baseAddresses, pairConfig, vipOf } from '../../fakes/config';

const SERVICES = '/usr/local/sbin/pbx-services';
const NOTIFY = ['/usr/local/sbin/pbx-notify', '--to', 'admin'];

function setup(config: PbxHaConfig = pairConfig(), state: NodeState = 'active') {
  const clock = new FakeClock(0);
  const lan = new FakeLan(clock);
  const net = lan.addNode('pbx2', baseAddresses(config, 'pbx2'));
  const arp = new FakeArp(lan, 'pbx2');
  const log = new RecordingLogger();
  const runner = new RecordingRunner(clock);
  const garp = new GarpScheduler(
    arp,
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
    state: () => state,
  });
  return { config, clock, net, arp, log, runner, executor };
}

test('a slow services start does not delay the actions after it', async () => {
  const { config, clock, net, arp, runner, executor } = setup();
  runner.on([SERVICES, 'start'], { delayMs: 30_000 });
  const voip = vipOf(config, 'voip');
  const actions: Action[] = [
    { kind: 'services', command: 'start', wait: false },
    { kind: 'notify', event: 'transition', state: 'active' },
    { kind: 'net', changes: claimChanges(voip), reason: 'test' },
    { kind: 'garp', vips: ['voip'] },
  ];
  let done = false;
  const running = executor.run(actions).then(() => (done = true));
  await flushPromises();
  assert.equal(done, true, 'run() returned while the start command still runs');
  await running;
  const [start] = runner.callsOf([SERVICES, 'start']);
  assert.equal(start.endedMs, null, 'the start is still running');
  assert.equal(runner.callsOf(NOTIFY).length, 1, 'notify ran at once');
  assert.equal(net.applied.length, 2, 'the address, then the routes');
  assert.equal(net.applied[0].atMs, 0);
  assert.ok(net.holds('192.0.2.10'));
  assert.deepEqual(arp.announced(), ['192.0.2.10']);
  await clock.advance(30_000);
  assert.equal(start.endedMs, 30_000);
  assert.equal(start.timeoutMs, config.services.start!.timeoutMs);
});

test('a claim announces its VIPs as soon as their addresses are in, before the routes', async () => {
  const config = pairConfig();
  const events: string[] = [];
  const executor = new Executor({
    net: {
      read: () => Promise.reject(new Error('not read here')),
      apply: async (changes) => {
        await Promise.resolve();
        events.push(changes.map((c) => `${c.kind} ${c.vip}`).join(', '));
      },
    },
    garp: {
      announce: (vips: string[]) => void events.push(`garp ${vips.join(', ')}`),
    } as unknown as GarpScheduler,
    run: new RecordingRunner(new FakeClock(0)).run,
    log: new RecordingLogger(),
    config: () => config,
    identity: () => ({ node: 'pbx2', role: 'slave' }),
    state: () => 'active',
  });
  const vips = config.vips;
  await executor.run([
    { kind: 'net', changes: vips.flatMap(claimChanges), reason: 'standby -> active' },
    { kind: 'garp', vips: vips.map((v) => v.name) },
    { kind: 'services', command: 'start', wait: false },
  ]);
  assert.deepEqual(events, [
    'add-address voip, add-address data',
    'garp voip, data',
    'add-route voip, add-route data',
  ]);
  // A release (or anything but a claim) keeps its one batch, and the garp after it runs as given.
  events.length = 0;
  await executor.run([
    { kind: 'net', changes: releaseChanges(vipOf(config, 'voip')), reason: 'test' },
    { kind: 'garp', vips: ['data'] },
  ]);
  assert.deepEqual(events, ['delete-route voip, delete-address voip', 'garp data']);
});

test('a services stop with wait=true is awaited before the next net action', async () => {
  const { config, clock, net, runner, executor } = setup();
  await net.apply(claimChanges(vipOf(config, 'voip')));
  runner.on([SERVICES, 'stop'], { delayMs: 700 });
  const running = executor.run([
    { kind: 'notify', event: 'transition', state: 'standby' },
    { kind: 'services', command: 'stop', wait: true },
    { kind: 'net', changes: releaseChanges(vipOf(config, 'voip')), reason: 'test' },
  ]);
  await clock.advance(699);
  assert.equal(net.applied.length, 1, 'the release waits for the stop');
  assert.ok(net.holds('192.0.2.10'));
  await clock.advance(1);
  await running;
  assert.equal(net.applied.length, 2);
  assert.equal(net.applied[1].atMs, 700);
  assert.ok(!net.holds('192.0.2.10'));
  assert.equal(runner.callsOf(NOTIFY)[0].startedMs, 0, 'the notify before it was not held up');
});

test('service commands run one after another, never two at once', async () => {
  const { clock, runner, executor } = setup();
  runner.on([SERVICES, 'stop'], { delayMs: 5000 });
  runner.on([SERVICES, 'start'], { delayMs: 100 });
  const stopping = executor.run([{ kind: 'services', command: 'stop', wait: true }]);
  await clock.advance(1000);
  await executor.run([{ kind: 'services', command: 'start', wait: false }]);
  await clock.advance(1000);
  assert.equal(runner.callsOf([SERVICES, 'start']).length, 0, 'the start waits for the stop to end');
  await clock.advance(3100);
  await stopping;
  const [start] = runner.callsOf([SERVICES, 'start']);
  assert.equal(start.startedMs, 5000);
  assert.equal(start.endedMs, 5100);
});

test('a stop cancels a start still running (a hung start never holds up a release)', async () => {
  const { clock, log, runner, executor } = setup();
  runner.on([SERVICES, 'start'], { delayMs: 60_000 });
  runner.on([SERVICES, 'stop'], { delayMs: 100 });
  await executor.run([{ kind: 'services', command: 'start', wait: false }]);
  await clock.advance(1000);
  const stopping = executor.run([{ kind: 'services', command: 'stop', wait: true }]);
  await clock.advance(100);
  await stopping;
  const [start] = runner.callsOf([SERVICES, 'start']);
  const [stop] = runner.callsOf([SERVICES, 'stop']);
  assert.equal(start.endedMs, 1000, 'the start was killed when the stop came');
  assert.equal(stop.startedMs, 1000);
  assert.equal(stop.endedMs, 1100);
  assert.equal(log.matching(/services start still running: cancelled/, 'warn').length, 1);
  assert.equal(log.matching(/ALERT/).length, 0, 'a cancelled start is not a failure to alert');
});

test('a failing services command raises an alert: logged and sent to the notify script', async () => {
  const { clock, log, runner, executor } = setup(pairConfig(), 'active');
  runner.on([SERVICES, 'start'], { delayMs: 10, error: new Error('xivo-service exited with code 3') });
  await executor.run([{ kind: 'services', command: 'start', wait: false }]);
  await clock.advance(10);
  const alerts = log.matching(/ALERT: services start failed: xivo-service exited with code 3/, 'warn');
  assert.equal(alerts.length, 1, log.messages().join('\n'));
  const notified = runner.callsOf(NOTIFY);
  assert.equal(notified.length, 1);
  assert.deepEqual(notified[0].argv, [
    ...NOTIFY,
    'alert',
    'pbx2',
    'active',
    'slave',
    'services start failed: xivo-service exited with code 3',
  ]);
});

test('notify argv = script argv + [event, node, state, role], with the notify timeout', async () => {
  const { config, runner, executor } = setup(pairConfig(), 'standby');
  await executor.run([{ kind: 'notify', event: 'transition', state: 'active' }]);
  const [call] = runner.callsOf(NOTIFY);
  assert.deepEqual(call.argv, [
    '/usr/local/sbin/pbx-notify',
    '--to',
    'admin',
    'transition',
    'pbx2',
    'active',
    'slave',
  ]);
  assert.equal(call.timeoutMs, config.notify.script!.timeoutMs);
});

test('a notify script that fails is logged, and not alerted (which would call it again)', async () => {
  const { log, runner, executor } = setup();
  runner.on(NOTIFY, { error: new Error('exited with code 1') });
  await executor.run([{ kind: 'notify', event: 'transition', state: 'active' }]);
  await flushPromises();
  assert.equal(runner.calls.length, 1);
  assert.equal(log.matching(/notify script failed: exited with code 1/, 'warn').length, 1);
  assert.equal(log.matching(/ALERT/).length, 0);
});

test('no notify script, no services configured: nothing is run', async () => {
  const config = pairConfig({ notify: {}, services: {} });
  const { clock, runner, executor } = setup(config);
  await executor.run([
    { kind: 'services', command: 'start', wait: false },
    { kind: 'services', command: 'stop', wait: true },
    { kind: 'notify', event: 'transition', state: 'active' },
    { kind: 'alert', message: 'something' },
  ]);
  await clock.advance(1000);
  assert.deepEqual(runner.calls, []);
});

test('a refused network change raises an alert naming the changes, and the next actions still run', async () => {
  const { config, net, log, runner, executor } = setup();
  net.failNextApply = new Error('iproute2 refused 1 change(s)');
  await executor.run([
    { kind: 'net', changes: claimChanges(vipOf(config, 'voip')), reason: 'standby -> active' },
    { kind: 'notify', event: 'transition', state: 'active' },
  ]);
  const alert = log.matching(
    /ALERT: could not apply standby -> active \(\+192\.0\.2\.10\/24 on eth0, \+route 203\.0\.113\.0\/24 via 192\.0\.2\.1 src 192\.0\.2\.10\): iproute2 refused/,
  );
  assert.equal(alert.length, 1, log.messages().join('\n'));
  assert.deepEqual(
    runner.callsOf(NOTIFY).map((c) => c.argv[3]),
    ['alert', 'transition'],
  );
});

test('an alert action is logged as a warning and notified', async () => {
  const { log, runner, executor } = setup(pairConfig(), 'active');
  await executor.run([{ kind: 'alert', message: 'another node answers for VIP voip' }]);
  assert.deepEqual(log.matching(/ALERT/, 'warn'), ['ALERT: another node answers for VIP voip']);
  assert.deepEqual(runner.callsOf(NOTIFY)[0].argv.slice(3), [
    'alert',
    'pbx2',
    'active',
    'slave',
    'another node answers for VIP voip',
  ]);
});

test('garp: a burst at once, again after repeat_after, with the configured count and interval', async () => {
  const { clock, arp, executor } = setup(
    pairConfig({ garp: { count: '3', interval: '100ms', repeat_after: '2s' } }),
  );
  await executor.run([{ kind: 'garp', vips: ['voip', 'data'] }]);
  const frames = () => arp.announcements.map((a) => [a.atMs, a.address]);
  // One frame per VIP at once: the first frame of a takeover waits for nothing.
  assert.deepEqual(frames(), [
    [0, '192.0.2.10'],
    [0, '198.51.100.10'],
  ]);
  await clock.advance(200);
  assert.deepEqual(frames().slice(2), [
    [100, '192.0.2.10'],
    [100, '198.51.100.10'],
    [200, '192.0.2.10'],
    [200, '198.51.100.10'],
  ]);
  await clock.advance(1800);
  assert.deepEqual(frames().slice(6, 8), [
    [2000, '192.0.2.10'],
    [2000, '198.51.100.10'],
  ]);
});

test('garp: a burst stops with the VIP: no frame for a VIP this node released', async () => {
  const config = pairConfig({ garp: { count: '5', interval: '100ms', repeat_after: '0' } });
  const clock = new FakeClock(0);
  const arp = new FakeArp(new FakeLan(clock), 'pbx2');
  let held = true;
  const garp = new GarpScheduler(
    arp,
    clock,
    new RecordingLogger(),
    () => config,
    () => held,
  );
  garp.announce(['voip']);
  await clock.advance(150);
  held = false;
  await clock.advance(1000);
  assert.deepEqual(
    arp.announcements.map((a) => a.atMs),
    [0, 100],
  );
});
