import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PairWorld } from '../../fakes/world';
import { pairConfig } from '../../fakes/config';
import type { PeerHooks, PeerRequester } from '../../../src/ports/peer-requests';

// The test pair: interval 1s, fall 3, rise 3, two VIPs (test/fakes/config.ts).
const INTERVAL = 1000;
const DOWN_AFTER = 3 * INTERVAL;

async function steadyPair(masterPeer?: PeerHooks): Promise<PairWorld> {
  const w = new PairWorld();
  await w.boot('pbx1', masterPeer);
  await w.boot('pbx2');
  await w.run(10_000);
  assert.equal(w.soleHolder(), 'pbx1');
  assert.equal(w.state('pbx1'), 'active');
  assert.equal(w.state('pbx2'), 'standby');
  return w;
}

/** A steady pair whose master's trusted link sends its requests to `use`'s function (none until then). */
async function steadyPairWithRequester(): Promise<{ w: PairWorld; use: (send: PeerRequester) => void }> {
  let send: PeerRequester = async () => {
    throw new Error('no requester in this test yet');
  };
  const hooks: PeerHooks = {
    request: (request, stillWanted) => send(request, stillWanted),
    finalSync: async () => 'no replication',
    failbackFetch: async () => 'nothing to fetch',
    releasedDataChanged: () => false,
  };
  const w = await steadyPair(hooks);
  return { w, use: (f) => (send = f) };
}

test('both start at once: exactly one holder, the master; the slave stops its services and starts none', async () => {
  const w = new PairWorld();
  await w.boot('pbx1');
  await w.boot('pbx2');
  const claimedAt = await w.runUntil(() => w.soleHolder() === 'pbx1', 5000);
  // The master claims once its VIP probes have timed out unanswered (timeout = interval).
  assert.ok(claimedAt >= INTERVAL && claimedAt <= INTERVAL + 50, `claimed at ${claimedAt} ms`);
  await w.run(20_000);
  assert.equal(w.soleHolder(), 'pbx1');
  assert.deepEqual(w.violations, []);
  assert.equal(w.state('pbx1'), 'active');
  assert.equal(w.state('pbx2'), 'standby');
  const services = (name: string) =>
    w
      .node(name)
      .runner.callsOf(['/usr/local/sbin/pbx-services'])
      .map((c) => c.argv[1]);
  assert.deepEqual(services('pbx1'), ['start']);
  assert.deepEqual(services('pbx2'), ['stop']);
  // The master's routes went with its addresses (src = VIP), and it announced both VIPs.
  const routes = w.lan
    .net('pbx1')
    .routeList()
    .filter((r) => r.source === '192.0.2.10' || r.source === '198.51.100.10');
  assert.deepEqual(routes.map((r) => `${r.destination} via ${r.via} src ${r.source}`).sort(), [
    '203.0.113.0/24 via 192.0.2.1 src 192.0.2.10',
    'default via 198.51.100.1 src 198.51.100.10',
  ]);
  assert.deepEqual([...new Set(w.node('pbx1').arp.announced())].sort(), ['192.0.2.10', '198.51.100.10']);
  assert.deepEqual(w.node('pbx2').arp.announcements, []);
  await w.shutdown();
});

// Kill the master at several phases of the slave's probe cycle.
for (const offsetMs of [0, 1, 250, 500, 750, 999]) {
  test(`master dies (${offsetMs} ms into a probe cycle): the slave takes over within fall × interval ± one interval; the master fails back`, async () => {
    const w = await steadyPair();
    await w.run(offsetMs, 1);
    const diedAt = w.clock.nowMs();
    await w.crash('pbx1');
    assert.deepEqual(w.holders('voip'), [], 'a dead node answers for nothing');
    const tookOverAt = await w.runUntil(() => w.soleHolder() === 'pbx2', DOWN_AFTER + INTERVAL + 100, 1);
    const after = tookOverAt - diedAt;
    assert.ok(after >= DOWN_AFTER - INTERVAL, `took over ${after} ms after the death: too early`);
    assert.ok(after <= DOWN_AFTER + INTERVAL, `took over ${after} ms after the death: too late`);
    assert.equal(w.state('pbx2'), 'active');
    const slave = w.node('pbx2');
    // Exactly fall × interval after the last answer the slave got (+1 ms: the agent's timer
    // fires just after the deadline), whatever the phase of the probe cycle.
    const lastSent = Math.max(
      ...slave.prober.pings.filter((p) => p.address === '192.0.2.11' && p.atMs <= diedAt).map((p) => p.atMs),
    );
    const lastAnswer = lastSent + w.lan.answerDelayMs;
    assert.ok(
      tookOverAt - lastAnswer >= DOWN_AFTER && tookOverAt - lastAnswer <= DOWN_AFTER + 2,
      `took over ${tookOverAt - lastAnswer} ms after the last answer`,
    );
    // Takeover order on the slave: addresses and routes, gratuitous ARP, services start, notify.
    const arpAt = slave.arp.announcements.map((a) => a.atMs);
    assert.ok(arpAt.length >= 2 && arpAt[0] === tookOverAt, `gratuitous ARP at the takeover (${arpAt})`);
    const start = slave.runner.callsOf(['/usr/local/sbin/pbx-services', 'start']);
    assert.equal(start.length, 1);
    assert.equal(start[0].startedMs, tookOverAt);
    const notify = slave.runner
      .callsOf(['/usr/local/sbin/pbx-notify'])
      .filter((c) => c.argv.includes('active'));
    assert.equal(notify.length, 1);
    assert.equal(notify[0].startedMs, tookOverAt, 'the slow services start does not delay the notify');

    await w.run(10_000);
    assert.equal(w.soleHolder(), 'pbx2', 'the slave keeps the VIPs while the master is away');

    const backAt = w.clock.nowMs();
    await w.reboot('pbx1');
    const failedBackAt = await w.runUntil(() => w.soleHolder() === 'pbx1', 15_000, 50);
    assert.ok(failedBackAt - backAt >= 2 * INTERVAL, 'the slave waits for rise answers before giving back');
    await w.run(20_000);
    assert.equal(w.soleHolder(), 'pbx1');
    assert.equal(w.state('pbx1'), 'active');
    assert.equal(w.state('pbx2'), 'standby');
    assert.deepEqual(w.violations, [], 'never two holders of a VIP');
    // Going passive, the slave stopped its services before releasing the addresses.
    const stop = slave.runner.callsOf(['/usr/local/sbin/pbx-services', 'stop']).at(-1)!;
    const release = slave.net.applied.find(
      (a) => a.atMs >= backAt && a.changes.some((c) => c.kind === 'delete-address'),
    );
    assert.ok(release, 'the slave released the addresses');
    assert.ok(
      stop.endedMs !== null && stop.endedMs <= release.atMs,
      `services stopped (${stop.endedMs}) before the release (${release.atMs})`,
    );
    assert.ok(stop.startedMs < release.atMs, 'the stop command took time, and the release waited for it');
    await w.shutdown();
  });
}

test('a returning master sees the slave hold the VIPs through ARP even when the slave filters ICMP', async () => {
  const w = await steadyPair();
  w.lan.setIcmpFiltered('pbx2', true);
  await w.crash('pbx1');
  await w.runUntil(() => w.soleHolder() === 'pbx2', DOWN_AFTER + INTERVAL, 10);
  await w.run(5000);
  await w.reboot('pbx1');
  const master = w.node('pbx1');
  // The VIP check ends when the unanswered ping times out (1 s).
  await w.run(INTERVAL + 100, 10, () => assert.notEqual(w.state('pbx1'), 'active'));
  assert.equal(w.state('pbx1'), 'standby', 'ICMP says free, ARP says taken: the master waits');
  assert.ok(
    master.arp.queries.some((q) => q.address === '192.0.2.10'),
    'the master asked ARP',
  );
  // The slave still hears the master (the filter is on the slave) and hands the VIPs back.
  await w.runUntil(() => w.soleHolder() === 'pbx1', 15_000, 50);
  assert.deepEqual(w.violations, []);
  await w.shutdown();
});

test('the slave loses its carrier: fault, the master keeps the VIPs; carrier back: standby, never active', async () => {
  const w = await steadyPair();
  w.lan.setCarrier('pbx2', false);
  await w.run(100, 10);
  assert.equal(w.state('pbx2'), 'fault');
  const states = new Set<string>();
  await w.run(30_000, 50, () => states.add(w.state('pbx2')));
  assert.deepEqual([...states], ['fault'], 'in fault all the time the cable is out');
  assert.equal(w.soleHolder(), 'pbx1');
  assert.equal(w.state('pbx1'), 'active');

  w.lan.setCarrier('pbx2', true);
  states.clear();
  await w.run(30_000, 50, () => states.add(w.state('pbx2')));
  assert.ok(!states.has('active'), `the slave never took over after its carrier came back (${[...states]})`);
  assert.equal(w.state('pbx2'), 'standby');
  assert.equal(w.soleHolder(), 'pbx1');
  assert.deepEqual(w.violations, []);
  const slaveHeld = w.lan
    .net('pbx2')
    .appliedChanges()
    .filter((c) => c.kind === 'add-address');
  assert.deepEqual(slaveHeld, [], 'the slave never configured a VIP');
  await w.shutdown();
});

test('the master loses its carrier: it releases (fault) and the slave takes over; carrier back: failback, one holder throughout', async () => {
  const w = await steadyPair();
  w.lan.setCarrier('pbx1', false);
  await w.run(100, 10);
  assert.equal(w.state('pbx1'), 'fault');
  assert.deepEqual(w.holders('voip'), [], 'the master released at once');
  await w.runUntil(() => w.soleHolder() === 'pbx2', DOWN_AFTER + INTERVAL, 10);
  await w.run(10_000);
  assert.equal(w.state('pbx1'), 'fault');
  w.lan.setCarrier('pbx1', true);
  await w.runUntil(() => w.soleHolder() === 'pbx1', 15_000, 50);
  await w.run(10_000);
  assert.equal(w.soleHolder(), 'pbx1');
  assert.equal(w.state('pbx2'), 'standby');
  assert.deepEqual(w.violations, []);
  await w.shutdown();
});

test('a VIP deleted by hand on the master comes back at once (link monitor), with its route and a gratuitous ARP', async () => {
  const w = await steadyPair();
  const master = w.node('pbx1');
  const announced = master.arp.announcements.length;
  const deletedAt = w.clock.nowMs();
  w.lan.net('pbx1').deleteByHand('192.0.2.10');
  assert.equal(
    w.lan
      .net('pbx1')
      .routeList()
      .some((r) => r.source === '192.0.2.10'),
    false,
    'the kernel took the route with it',
  );
  const backAt = await w.runUntil(() => w.lan.net('pbx1').holds('192.0.2.10'), 1000, 1);
  assert.ok(backAt - deletedAt <= 50, `back after ${backAt - deletedAt} ms`);
  assert.ok(
    w.lan
      .net('pbx1')
      .routeList()
      .some((r) => r.destination === '203.0.113.0/24' && r.source === '192.0.2.10'),
  );
  assert.deepEqual(master.arp.announcements.slice(announced).map((a) => a.address)[0], '192.0.2.10');
  assert.equal(w.state('pbx1'), 'active', 'a repair is not a transition');
  await w.shutdown();
});

test('a stop of the active master hands over to the slave through the trusted link, then gives the VIPs up, routes first', async () => {
  const { w, use } = await steadyPairWithRequester();
  const master = w.node('pbx1');
  const slave = w.node('pbx2');
  const asked: string[] = [];
  use(async (request) => {
    asked.push(request);
    return (await slave.agent.command({ kind: 'peer-asks', request: 'takeover' })) === 'active';
  });
  let stopped = false;
  void master.agent.stop(true).then(() => (stopped = true));
  await w.runUntil(() => stopped, 5000);
  assert.deepEqual(asked, ['peer-takeover']);
  assert.equal(w.state('pbx2'), 'active');
  assert.deepEqual(w.holders('voip'), ['pbx2']);
  const last = master.net.applied.at(-1)!.changes.map((c) => c.kind);
  assert.deepEqual(last, ['delete-route', 'delete-address', 'delete-route', 'delete-address']);
  assert.equal(master.log.matching(/stopping: handed over to pbx2, which is now active/).length, 1);
  // The stopped master still answers pings (the host is up): the slave goes on serving.
  await w.run(10_000);
  assert.equal(w.state('pbx2'), 'active');
  w.nodes.delete('pbx1');
  await w.shutdown();
});

test('a stop of the active master whose slave cannot take over keeps the VIPs, with an alert', async () => {
  const { w, use } = await steadyPairWithRequester();
  const master = w.node('pbx1');
  use(async () => {
    throw new Error(
      'the peer refused "peer-takeover": pbx2 did not take over: it is fault (no carrier on eth0)',
    );
  });
  let stopped = false;
  void master.agent.stop(true).then(() => (stopped = true));
  await w.runUntil(() => stopped, 5000);
  assert.deepEqual(
    w.holders('voip'),
    ['pbx1'],
    "released, they would be nobody's: the slave hears the master's host",
  );
  assert.equal(
    master.log.matching(/ALERT: stopping: pbx2 could not take over \(.*it is fault.*\); the VIPs are kept/)
      .length,
    1,
  );
  await w.run(5000);
  assert.equal(w.state('pbx2'), 'standby');
  w.nodes.delete('pbx1');
  await w.shutdown();
});

test('a stop of an active master whose slave is silent gives the VIPs up; asked to keep them, it keeps them', async () => {
  const w = await steadyPair();
  await w.crash('pbx2');
  await w.run(5000);
  const master = w.node('pbx1');
  let stopped = false;
  void master.agent.stop(true).then(() => (stopped = true));
  await w.runUntil(() => stopped, 5000);
  assert.deepEqual(w.holders('voip'), []);
  w.nodes.delete('pbx1');
  await w.shutdown();

  const w2 = await steadyPair();
  stopped = false;
  void w2
    .node('pbx1')
    .agent.stop(false)
    .then(() => (stopped = true));
  await w2.runUntil(() => stopped, 5000);
  assert.deepEqual(w2.holders('voip'), ['pbx1']);
  w2.nodes.delete('pbx1');
  await w2.shutdown();
});

test('both agents stall for longer than fall × interval (CPU starved): no takeover, no fault, a warning', async () => {
  const w = await steadyPair();
  const transitionsBefore = w.node('pbx2').log.matching(/ -> /).length;
  // Half-way between two probe rounds (no answer in flight), neither process runs for 5 s: no
  // probe is sent, no answer read. When they run again, every timer fires late: the probe
  // round first (its answers take a moment), then the slave's long-past detection deadline.
  await w.run(INTERVAL / 2);
  await w.clock.stall(DOWN_AFTER + 2 * INTERVAL);
  await w.run(10_000);
  assert.equal(w.soleHolder(), 'pbx1');
  assert.deepEqual(w.violations, []);
  assert.equal(w.state('pbx1'), 'active');
  assert.equal(w.state('pbx2'), 'standby');
  assert.equal(w.node('pbx2').log.matching(/ -> /).length, transitionsBefore, 'the slave made no transition');
  assert.equal(
    w
      .node('pbx2')
      .log.matching(/the agent did not run for \d+ ms \(.* fired late: CPU starved or blocked\)/, 'warn')
      .length,
    1,
  );
  await w.shutdown();
});

test('a stall postpones the detection of a real death by at most the stall', async () => {
  const w = await steadyPair();
  const diedAt = w.clock.nowMs();
  await w.crash('pbx1');
  const STALL = 2000;
  await w.clock.stall(STALL);
  const tookOverAt = await w.runUntil(
    () => w.soleHolder() === 'pbx2',
    DOWN_AFTER + STALL + INTERVAL + 100,
    1,
  );
  const after = tookOverAt - diedAt;
  assert.ok(after <= DOWN_AFTER + STALL + INTERVAL, `took over ${after} ms after the death`);
  assert.ok(after >= DOWN_AFTER, `took over ${after} ms after the death: too early`);
  await w.shutdown();
});

test('a reading of the addresses taken before a release and answered after it is not used', async () => {
  const w = await steadyPair();
  const pbx1 = w.node('pbx1');
  // A read starts (a link event): its snapshot shows the VIPs held, its answer comes 500 ms later.
  pbx1.net.delayNextReadMs = 500;
  w.lan.changed('pbx1');
  await w.run(100, 10);
  // Meanwhile the master is taken out: it releases the VIPs.
  let state = '';
  void pbx1.agent.command({ kind: 'admin', command: 'failover' }).then((s) => (state = s));
  await w.runUntil(() => state !== '', 1000);
  assert.equal(state, 'maintenance');
  const appliedAfterRelease = pbx1.net.applied.length;
  assert.equal(pbx1.net.holds('192.0.2.10'), false);
  await w.run(2000, 10);
  // Used, the old reading would have shown VIPs on a node in maintenance: a "reconcile" removal.
  assert.deepEqual(pbx1.net.applied.slice(appliedAfterRelease), [], 'no change after the release');
  assert.equal(pbx1.log.matching(/^reconcile/).length, 0);
  await w.shutdown();
});

test('failback: a failing handback request (the quiesce that comes first) is a warning and is asked again; it is alerted when it keeps failing', async () => {
  const w = new PairWorld(pairConfig({ failover: { failback: 'auto', failback_delay: '1s' } }));
  await w.boot('pbx1');
  await w.boot('pbx2');
  await w.run(10_000);
  await w.crash('pbx1');
  await w.runUntil(() => w.soleHolder() === 'pbx2', 10_000);
  let asked = 0;
  const master = await w.reboot('pbx1', {
    request: async () => {
      asked++;
      throw new Error('connect EHOSTUNREACH 192.0.2.12:22');
    },
    finalSync: async () => 'no replication',
    failbackFetch: async () => 'nothing to fetch',
    releasedDataChanged: () => false,
  });
  await w.runUntil(() => asked === 1, 10_000);
  const firstAskAt = w.clock.nowMs();
  await w.runUntil(() => asked === 2, 10_000);
  assert.ok(w.clock.nowMs() - firstAskAt <= 1100, 'asked again about 1 s after the first failure');
  await w.run(10);
  assert.equal(
    master.log.matching(/peer-quiesce to pbx2 failed: connect EHOSTUNREACH .*; asked again/, 'warn').length,
    2,
  );
  assert.equal(master.log.matching(/ALERT/).length, 0, 'two failures are not alerted');
  await w.runUntil(() => asked === 3, 10_000);
  await w.run(100);
  assert.equal(master.log.matching(/ALERT: peer-quiesce to pbx2 failed: .* \(3 times in a row\)/).length, 1);
  assert.equal(w.soleHolder(), 'pbx2', 'the slave keeps serving meanwhile');
  await w.shutdown();
});
