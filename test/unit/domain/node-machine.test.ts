import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PbxHaConfig } from '../../../src/config';
import type { Action, NetChange } from '../../../src/domain/actions';
import type { MachineEvent, ProbeTarget } from '../../../src/domain/node-machine';
import {
  FAILBACK_FETCH_RETRY_FIRST_MS,
  FAILBACK_FETCH_RETRY_MS,
  HANDBACK_GRACE_MS,
  NodeMachine,
  QUIESCE_HOLD_MS,
  RELEASE_RETRY_FIRST_MS,
  RELEASE_RETRY_MS,
} from '../../../src/domain/node-machine';
import type { ActualAddress, ActualNet, ActualRoute } from '../../../src/domain/reconcile';
import { claimChanges, releaseChanges } from '../../../src/domain/reconcile';
import { baseAddresses, machineSettings, pairConfig, vipOf } from '../../fakes/config';

// interval 1s, fall 3, rise 3: down 3000 ms after the last answer.
const DOWN_AFTER = 3000;

const HEALTHY = { eth0: true, eth1: true };

/** The node's own addresses plus the VIPs listed in `held` (with their routes). */
function actualNet(config: PbxHaConfig, node: string, held: string[] = []): ActualNet {
  const addresses: ActualAddress[] = baseAddresses(config, node);
  const routes: ActualRoute[] = [];
  for (const name of held) {
    const v = vipOf(config, name);
    addresses.push({ ifname: v.interface, address: v.address, prefixLength: v.prefixLength });
    for (const r of v.routes)
      routes.push({ destination: r.destination, via: r.via, ifname: v.interface, source: v.address });
  }
  return { addresses, routes };
}

/** A machine for `node` with a driver that keeps the time and the actions. */
class Driver {
  readonly m: NodeMachine;
  readonly all: { atMs: number; actions: Action[] }[] = [];
  states: string[] = [];

  constructor(
    readonly config: PbxHaConfig,
    readonly node: string,
    startMs = 0,
  ) {
    this.m = new NodeMachine(machineSettings(config, node), startMs);
  }

  get state(): string {
    return this.m.view().state;
  }

  handle(event: MachineEvent): Action[] {
    const { actions } = this.m.handle(event);
    this.all.push({ atMs: event.nowMs, actions });
    this.states.push(this.state);
    return actions;
  }

  read(nowMs: number, held: string[] = [], carrier: Record<string, boolean> = HEALTHY): Action[] {
    return this.handle({ kind: 'net-read', nowMs, actual: actualNet(this.config, this.node, held), carrier });
  }

  probe(target: ProbeTarget, sentAtMs: number, nowMs: number, answered: boolean): Action[] {
    return this.handle({ kind: 'probe-result', target, sentAtMs, nowMs, answered });
  }

  /** The peer answers a probe sent at `t` 2 ms later. */
  peerAnswers(t: number): Action[] {
    return this.probe({ kind: 'peer' }, t, t + 2, true);
  }

  /** A probe of the peer sent at `t` times out at t + 1000. */
  peerMisses(t: number): Action[] {
    return this.probe({ kind: 'peer' }, t, t + 1000, false);
  }

  tick(nowMs: number): Action[] {
    return this.handle({ kind: 'tick', nowMs });
  }

  /** Ticks at the machine's own deadline (as the agent's timer does). */
  tickAtDeadline(): { atMs: number; actions: Action[] } {
    const at = this.m.nextDeadlineMs();
    assert.notEqual(at, null, 'a deadline is pending');
    return { atMs: at!, actions: this.tick(at!) };
  }

  /** The id of the last failback fetch asked for. */
  lastFetchId(): number {
    const fetches = this.flat().filter((a) => a.kind === 'failback-fetch');
    assert.ok(fetches.length > 0, 'a failback fetch was asked for');
    const last = fetches[fetches.length - 1];
    return last.kind === 'failback-fetch' ? last.id : -1;
  }

  /** The last failback fetch ends (ok: the slave's data is merged here). */
  dataArrives(nowMs: number, ok = true, id = this.lastFetchId()): Action[] {
    return this.handle({
      kind: 'failback-data',
      nowMs,
      id,
      ok,
      detail: ok ? 'merged' : 'connection refused',
    });
  }

  /**
   * The slave answers the master's quiesce: its services stopped, the VIPs kept until the
   * release; `changed`: its data changed since the failback fetch.
   */
  quiesces(nowMs: number, changed = false): Action[] {
    return this.handle({
      kind: 'peer-answered',
      nowMs,
      request: 'peer-quiesce',
      ok: true,
      quiesced: true,
      slaveDataChanged: changed,
    });
  }

  /** Every action of every event so far. */
  flat(): Action[] {
    return this.all.flatMap((a) => a.actions);
  }
}

/** A compact picture of actions: `net(+addr voip,+route voip,...)`, `garp(voip,data)`, `services start nowait`... */
function shape(actions: Action[]): string[] {
  const change = (c: NetChange) =>
    `${c.kind.startsWith('add') ? '+' : '-'}${c.kind.endsWith('address') ? 'addr' : 'route'} ${c.vip}`;
  return actions.map((a) => {
    switch (a.kind) {
      case 'net':
        return `net(${a.changes.map(change).join(',')})`;
      case 'garp':
        return `garp(${a.vips.join(',')})`;
      case 'conflict-check':
        return 'conflict-check';
      case 'services':
        return `services ${a.command} ${a.wait ? 'wait' : 'nowait'}`;
      case 'notify':
        return `notify ${a.event} ${a.state}`;
      case 'failback-fetch':
        return a.final ? 'fetch final' : 'fetch';
      case 'final-sync':
        return 'final-sync';
      case 'peer-request':
        return `ask ${a.request}`;
      case 'alert':
        return 'alert';
    }
  });
}

const CLAIM_BOTH = 'net(+addr voip,+route voip,+addr data,+route data)';
const RELEASE_BOTH = 'net(-route voip,-addr voip,-route data,-addr data)';

/** A slave brought to standby: read at 0, the master answers probes sent at 0, 1000, 2000. */
function standbySlave(config = pairConfig()): Driver {
  const d = new Driver(config, 'pbx2');
  d.read(0);
  d.peerAnswers(0);
  d.peerAnswers(1000);
  d.peerAnswers(2000);
  assert.equal(d.state, 'standby');
  return d;
}

// --- slave ---------------------------------------------------------------------------

test('slave: init until `rise` answers, then standby, stopping its services and touching no address', () => {
  const d = new Driver(pairConfig(), 'pbx2');
  assert.deepEqual(d.read(0), []);
  assert.equal(d.state, 'init');
  d.peerAnswers(0);
  d.peerAnswers(1000);
  assert.equal(d.state, 'init', 'two answers are not enough');
  const actions = d.peerAnswers(2000);
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(actions), ['notify transition standby', 'services stop wait']);
});

test('slave: standby -> active exactly fall × interval after the last answer, in the order addresses, routes, garp, services, notify', () => {
  const config = pairConfig();
  const d = standbySlave(config); // last answer at 2002
  d.peerMisses(3000);
  d.peerMisses(4000);
  assert.equal(d.m.nextDeadlineMs(), 2002 + DOWN_AFTER);
  assert.deepEqual(d.tick(2002 + DOWN_AFTER - 1), []);
  assert.equal(d.state, 'standby', 'one millisecond early: still standby');
  const { atMs, actions } = d.tickAtDeadline();
  assert.equal(atMs, 5002);
  assert.equal(d.state, 'active');
  assert.deepEqual(shape(actions), [
    CLAIM_BOTH,
    'garp(voip,data)',
    'services start nowait',
    'notify transition active',
  ]);
  const net = actions[0];
  assert.ok(net.kind === 'net');
  assert.deepEqual(net.changes, [
    ...claimChanges(vipOf(config, 'voip')),
    ...claimChanges(vipOf(config, 'data')),
  ]);
  assert.deepEqual(d.m.view().held, ['voip', 'data']);
});

test('slave: the takeover time does not depend on the probe timeout (no count of timeouts)', () => {
  const config = pairConfig({ health: { timeout: '2500ms' } });
  const d = standbySlave(config); // last answer at 2002
  // No probe has timed out yet at the deadline (the one sent at 3000 times out at 5500).
  d.tickAtDeadline();
  assert.equal(d.state, 'active');
  assert.equal(d.all.at(-1)!.atMs, 5002);
});

test('slave: active -> standby after `rise` answers: notify, services stop (waited for), routes then addresses', () => {
  const d = standbySlave();
  d.tickAtDeadline();
  assert.equal(d.state, 'active');
  d.peerAnswers(9000);
  d.peerAnswers(10_000);
  assert.equal(d.state, 'active', 'two answers are not enough to give the VIPs back');
  const actions = d.peerAnswers(11_000);
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(actions), ['notify transition standby', 'services stop wait', RELEASE_BOTH]);
  assert.deepEqual(d.m.view().held, []);
});

test('slave: an answer, a miss, then answers: the count restarts and the VIPs stay until rise in a row', () => {
  const d = standbySlave();
  d.tickAtDeadline();
  d.peerAnswers(9000);
  d.peerAnswers(10_000);
  d.peerMisses(11_000);
  d.peerAnswers(12_000);
  d.peerAnswers(13_000);
  assert.equal(d.state, 'active');
  d.peerAnswers(14_000);
  assert.equal(d.state, 'standby');
});

test('slave: lost carrier -> fault, and never active however long the master is silent', () => {
  const d = standbySlave();
  const before = d.all.length;
  const actions = d.read(2500, [], { eth0: false, eth1: true });
  assert.equal(d.state, 'fault');
  assert.deepEqual(
    shape(actions),
    ['notify transition fault'],
    'fault leaves the services alone and holds nothing',
  );
  for (let t = 3000; t <= 120_000; t += 1000) {
    d.peerMisses(t);
    d.tick(t + 1000);
    if (t % 5000 === 0) d.read(t + 1000, [], { eth0: false, eth1: true });
  }
  assert.equal(d.state, 'fault');
  assert.ok(!d.states.includes('active'), 'never active');
  const later = d.all.slice(before + 1).flatMap((a) => a.actions);
  assert.deepEqual(later, [], 'nothing at all to do while in fault');
});

test('slave: when its carrier returns it does not take over at once; it needs fall × interval of fresh silence', () => {
  const d = standbySlave();
  d.read(2500, [], { eth0: false, eth1: true });
  for (let t = 3000; t < 30_000; t += 1000) d.peerMisses(t);
  assert.equal(d.m.view().peer.status, 'down', 'the master was not heard while the cable was out');
  const back = 31_000;
  const actions = d.read(back);
  assert.notEqual(d.state, 'active', 'silence heard while cut off is not the master dying');
  assert.ok(!actions.some((a) => a.kind === 'net'), 'no address claimed on the way out of fault');
  // A reply to a probe sent while cut off does not count either.
  d.probe({ kind: 'peer' }, back - 500, back + 10, true);
  assert.equal(d.m.view().peer.answersInRow, 0);
  // Fresh silence: the master is declared down a full fall × interval after the carrier came back.
  assert.equal(d.m.nextDeadlineMs(), back + DOWN_AFTER);
  d.peerMisses(back + 1000);
  d.tick(back + DOWN_AFTER - 1);
  assert.notEqual(d.state, 'active');
  d.tick(back + DOWN_AFTER);
  assert.equal(d.state, 'active');
});

test('slave: when its carrier returns and the master answers, it goes back to standby without ever holding', () => {
  const d = standbySlave();
  d.read(2500, [], { eth0: false, eth1: true });
  for (let t = 3000; t < 30_000; t += 1000) d.peerMisses(t);
  d.read(31_000);
  d.peerAnswers(31_000);
  d.peerAnswers(32_000);
  d.peerAnswers(33_000);
  assert.equal(d.state, 'standby');
  assert.ok(!d.states.includes('active'));
});

test('a tracked target silent for fall × interval -> fault; the VIPs of an active node are released', () => {
  const config = pairConfig({ health: { track: '192.0.2.1' } });
  const d = new Driver(config, 'pbx2');
  d.read(0);
  const gw: ProbeTarget = { kind: 'track', address: '192.0.2.1' };
  for (const t of [0, 1000, 2000]) {
    d.peerAnswers(t);
    d.probe(gw, t, t + 2, true);
  }
  assert.equal(d.state, 'standby');
  // The gateway stops answering at 2002; the master still answers.
  for (const t of [3000, 4000]) {
    d.peerAnswers(t);
    d.probe(gw, t, t + 1000, false);
  }
  assert.equal(d.state, 'standby');
  assert.equal(d.m.nextDeadlineMs(), 2002 + DOWN_AFTER, "the deadline is the gateway's");
  d.tick(2002 + DOWN_AFTER - 1);
  assert.equal(d.state, 'standby');
  d.tickAtDeadline();
  assert.equal(d.state, 'fault');
  assert.match(d.m.view().lastReason, /192\.0\.2\.1/);

  // The same on an active master: it releases the VIPs.
  const m = new Driver(config, 'pbx1');
  m.read(0, ['voip', 'data']);
  assert.equal(m.state, 'active');
  m.probe(gw, 0, 2, true);
  m.tick(2 + DOWN_AFTER - 1);
  assert.equal(m.state, 'active');
  const actions = m.tick(2 + DOWN_AFTER);
  assert.equal(m.state, 'fault');
  assert.deepEqual(shape(actions), ['notify transition fault', RELEASE_BOTH, 'ask peer-takeover']);
});

test('an active master that loses a carrier releases the VIPs and asks the slave to take over', () => {
  const m = new Driver(pairConfig(), 'pbx1');
  m.read(0, ['voip', 'data']);
  assert.equal(m.state, 'active');
  const actions = m.read(1000, ['voip', 'data'], { eth0: true, eth1: false });
  assert.equal(m.state, 'fault');
  assert.deepEqual(shape(actions), ['notify transition fault', RELEASE_BOTH, 'ask peer-takeover']);
});

test('slave: a master silent from the start is taken over fall × interval after the start', () => {
  const d = new Driver(pairConfig(), 'pbx2', 1000);
  d.read(1000);
  d.peerMisses(1000);
  assert.equal(d.m.nextDeadlineMs(), 1000 + DOWN_AFTER);
  d.tick(1000 + DOWN_AFTER - 1);
  assert.equal(d.state, 'init');
  d.tickAtDeadline();
  assert.equal(d.state, 'active');
});

// --- master --------------------------------------------------------------------------

test('master: init -> active once every VIP probe was silent', () => {
  const d = new Driver(pairConfig(), 'pbx1');
  d.read(0);
  assert.deepEqual(
    d.m.probeTargets().filter((t) => t.kind === 'vip'),
    [
      { kind: 'vip', name: 'voip' },
      { kind: 'vip', name: 'data' },
    ],
  );
  assert.deepEqual(d.probe({ kind: 'vip', name: 'voip' }, 0, 1000, false), []);
  assert.equal(d.state, 'init', 'one VIP checked is not enough');
  const free = d.probe({ kind: 'vip', name: 'data' }, 0, 1000, false);
  // The slave may have served and released the VIPs: its astdb is brought across first, as a
  // job (the queue runs on); the claim comes when it ends.
  assert.deepEqual(shape(free), ['fetch final']);
  assert.equal(d.state, 'init');
  const actions = d.dataArrives(1100);
  assert.equal(d.state, 'active');
  assert.deepEqual(shape(actions), [
    CLAIM_BOTH,
    'garp(voip,data)',
    'services start nowait',
    'notify transition active',
  ]);
  assert.deepEqual(
    d.m.probeTargets(),
    [{ kind: 'peer' }],
    'a holder does not probe its own VIPs (it would answer itself)',
  );
});

test('master: init -> standby when any VIP answers; its services keep running', () => {
  const d = new Driver(pairConfig(), 'pbx1');
  d.read(0);
  d.probe({ kind: 'vip', name: 'voip' }, 0, 1000, false);
  const actions = d.probe({ kind: 'vip', name: 'data' }, 0, 2, true);
  assert.equal(d.state, 'standby');
  // failback = auto without delay: the master brings the slave's data across at once, while
  // the slave serves, and asks for the VIPs once it is here.
  assert.deepEqual(shape(actions), ['notify transition standby', 'fetch']);
  // Then the slave is quiesced (services stopped, VIPs kept); nothing changed since the fetch:
  // the release follows at once.
  assert.deepEqual(shape(d.dataArrives(500)), ['ask peer-quiesce']);
  assert.deepEqual(shape(d.quiesces(600)), ['ask peer-release']);
  // Standby: still asking, and takes the VIPs when both are free.
  assert.equal(d.m.probeTargets().filter((t) => t.kind === 'vip').length, 2);
  // The slave's answer says it released them with nothing written since the fetch: the claim
  // waits for nothing.
  const claim = d.handle({ kind: 'peer-answered', nowMs: 900, request: 'peer-release', ok: true });
  assert.equal(d.state, 'active');
  assert.deepEqual(shape(claim), [
    CLAIM_BOTH,
    'garp(voip,data)',
    'services start nowait',
    'notify transition active',
  ]);
});

test("failback fetch: the slave's value wins a key both changed only if the slave was seen serving since this node last held the VIPs", () => {
  const boot = new Driver(pairConfig(), 'pbx1');
  boot.read(0);
  boot.probe({ kind: 'vip', name: 'voip' }, 0, 1000, false);
  const first = boot.probe({ kind: 'vip', name: 'data' }, 0, 1000, false);
  const fetch = first.find((a) => a.kind === 'failback-fetch');
  assert.ok(fetch && fetch.kind === 'failback-fetch' && fetch.final, 'a first claim fetches first');
  assert.equal(fetch.slaveServed, false, 'nobody was seen on the VIPs: the master served last');

  const back = new Driver(pairConfig(), 'pbx1');
  back.read(0);
  back.probe({ kind: 'vip', name: 'voip' }, 0, 1000, false);
  const seen = back.probe({ kind: 'vip', name: 'data' }, 0, 2, true);
  const early = seen.find((a) => a.kind === 'failback-fetch');
  assert.ok(early && early.kind === 'failback-fetch' && early.slaveServed, 'the slave holds the VIPs');
});

test('failback: VIPs that fall free with no release answer (lost, or the slave let them go by itself) get a final fetch before the claim', () => {
  const d = new Driver(pairConfig(), 'pbx1');
  d.read(0);
  d.probe({ kind: 'vip', name: 'voip' }, 0, 1000, false);
  d.probe({ kind: 'vip', name: 'data' }, 0, 2, true);
  d.dataArrives(500);
  const free = d.probe({ kind: 'vip', name: 'data' }, 1000, 2000, false);
  assert.equal(d.state, 'standby', 'what the slave wrote after the snapshot is not here yet');
  assert.deepEqual(shape(free), ['fetch final']);
  const claim = d.dataArrives(2300);
  assert.equal(d.state, 'active');
  assert.ok(claims(claim), 'claimed once the final fetch is here');
});

test('master: init with the VIPs already held -> active without releasing anything (no flap)', () => {
  const d = new Driver(pairConfig(), 'pbx1');
  const actions = d.read(0, ['voip', 'data']);
  assert.equal(d.state, 'active');
  const changes = actions.flatMap((a) => (a.kind === 'net' ? a.changes : []));
  assert.ok(
    changes.every((c) => c.kind === 'add-address' || c.kind === 'add-route'),
    `no release: ${shape(actions)}`,
  );
  assert.equal(d.flat().filter((a) => a.kind === 'services' && a.command === 'stop').length, 0);
});

test('master: active, a read shows a VIP gone -> it is put back with its route and announced again', () => {
  const config = pairConfig();
  const d = new Driver(config, 'pbx1');
  d.read(0, ['voip', 'data']);
  const actions = d.read(5000, ['data']);
  assert.equal(d.state, 'active');
  assert.deepEqual(actions, [
    { kind: 'net', changes: claimChanges(vipOf(config, 'voip')), reason: 'reconcile' },
    { kind: 'garp', vips: ['voip'] },
  ]);
  assert.deepEqual(d.read(10_000, ['voip', 'data']), [], 'nothing to do once repaired');
});

test('master: standby, a read shows a stale VIP -> its routes and address are removed', () => {
  const config = pairConfig();
  const d = new Driver(config, 'pbx1');
  d.read(0);
  d.probe({ kind: 'vip', name: 'voip' }, 0, 2, true);
  assert.equal(d.state, 'standby');
  const actions = d.read(5000, ['data']);
  assert.equal(d.state, 'standby');
  assert.deepEqual(actions, [
    { kind: 'net', changes: releaseChanges(vipOf(config, 'data')), reason: 'reconcile' },
  ]);
});

test('slave: standby, a read shows a stale VIP -> removed', () => {
  const config = pairConfig();
  const d = standbySlave(config);
  assert.deepEqual(shape(d.read(5000, ['voip'])), ['net(-route voip,-addr voip)']);
});

test('init touches nothing: a stale VIP seen by a slave in init is left until it decides', () => {
  const d = new Driver(pairConfig(), 'pbx2');
  assert.deepEqual(d.read(0, ['voip', 'data']), []);
  assert.equal(d.state, 'init');
  assert.deepEqual(d.read(1000, ['voip', 'data']), [], 'not at the next reconcile either');
  d.peerAnswers(1000);
  d.peerAnswers(2000);
  const actions = d.peerAnswers(3000);
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(actions), ['notify transition standby', 'services stop wait', RELEASE_BOTH]);
});

test('conflict: the master alerts and re-announces; an active slave alerts and releases (one holder)', () => {
  const m = new Driver(pairConfig(), 'pbx1');
  m.read(0, ['voip', 'data']);
  const ma = m.handle({ kind: 'conflict', nowMs: 100, vip: 'voip', macs: ['02:00:00:00:00:02'] });
  assert.deepEqual(shape(ma), ['alert', 'garp(voip)']);
  assert.ok(
    ma[0].kind === 'alert' && ma[0].message.includes('02:00:00:00:00:02') && ma[0].message.includes('voip'),
  );
  assert.equal(m.state, 'active');

  const s = standbySlave();
  s.tickAtDeadline();
  assert.equal(s.state, 'active');
  const sa = s.handle({ kind: 'conflict', nowMs: 6000, vip: 'data', macs: ['02:00:00:00:00:01'] });
  assert.deepEqual(shape(sa), ['alert', 'notify transition standby', 'services stop wait', RELEASE_BOTH]);
  assert.equal(s.state, 'standby');
});

test('planned handover: failover on the master, takeover on the slave, failback', () => {
  const m = new Driver(pairConfig(), 'pbx1');
  m.read(0, ['voip', 'data']);
  assert.equal(m.state, 'active');
  const fo = m.handle({ kind: 'admin', nowMs: 100, command: 'failover' });
  assert.equal(m.state, 'maintenance');
  // Services stop first, so the last astdb copy holds every change; then the addresses go,
  // then the slave is told to take over.
  assert.deepEqual(shape(fo), [
    'notify transition maintenance',
    'services stop wait',
    'final-sync',
    RELEASE_BOTH,
    'ask peer-takeover',
  ]);

  const s = standbySlave();
  const takeover = s.handle({ kind: 'peer-asks', nowMs: 3500, request: 'takeover' });
  assert.equal(s.state, 'active');
  assert.match(shape(takeover).join(' '), /net\(\+addr voip/);
  // The master still answers ping: a handed-over slave keeps serving all the same.
  s.peerAnswers(4000);
  s.peerAnswers(5000);
  s.peerAnswers(6000);
  assert.equal(s.state, 'active');

  // Failback: the master asks for the VIPs back; it claims when the slave says it released
  // them — not on an old "free" answer heard before the handover.
  const fb = m.handle({ kind: 'admin', nowMs: 7000, command: 'failback' });
  assert.equal(m.state, 'standby');
  assert.deepEqual(shape(fb), ['notify transition standby']);
  m.probe({ kind: 'vip', name: 'voip' }, 7000, 7001, true);
  assert.deepEqual(shape(m.all.at(-1)!.actions), ['fetch'], "the slave's data first");
  assert.deepEqual(shape(m.dataArrives(7010)), ['ask peer-quiesce'], 'then the slave is quiesced');
  // The slave stops its services and keeps the VIPs: nobody else may claim them, no ARP moves.
  const quiesced = s.handle({ kind: 'peer-asks', nowMs: 7050, request: 'quiesce' });
  assert.deepEqual(shape(quiesced), ['services stop wait']);
  assert.equal(s.state, 'active');
  assert.equal(s.m.view().quiesced, true);
  assert.deepEqual(shape(m.quiesces(7060)), ['ask peer-release'], 'nothing new: the release at once');
  assert.equal(m.state, 'standby');
  const released = s.handle({ kind: 'peer-asks', nowMs: 7100, request: 'release' });
  assert.equal(s.state, 'standby');
  // Its services are stopped already: the release is the VIPs' alone.
  assert.deepEqual(shape(released), ['notify transition standby', RELEASE_BOTH]);
  assert.equal(s.m.view().releasedQuiesced, true);
  m.handle({ kind: 'peer-answered', nowMs: 7150, request: 'peer-release', ok: true });
  assert.equal(m.state, 'active');
});

test('failback = manual: a slave that took over keeps the VIPs when the master answers again', () => {
  const d = new Driver(pairConfig({ failover: { failback: 'manual' } }), 'pbx2');
  d.read(0);
  for (const t of [0, 1000, 2000]) d.peerAnswers(t);
  d.tickAtDeadline();
  assert.equal(d.state, 'active');
  for (const t of [10_000, 11_000, 12_000, 13_000]) d.peerAnswers(t);
  assert.equal(d.state, 'active', 'still serving until pbx-ha failback');
});

test('stop: an active master alone releases the held VIPs unless told to keep them', () => {
  const m = new Driver(pairConfig(), 'pbx1');
  m.read(0, ['voip', 'data']);
  assert.equal(m.m.stopPlan(false).kind, 'keep');
  assert.equal(m.m.stopPlan(true).kind, 'release', 'the peer never answered: nobody to hand over to');
  assert.deepEqual(shape(m.m.releaseOnStop()), ['notify stopping active', RELEASE_BOTH]);
  const s = standbySlave();
  assert.equal(s.m.stopPlan(true).kind, 'nothing', 'nothing held, nothing to release');
});

/** A slave (failback = auto, no delay) that took over from a silent master at about 5000 ms. */
function slaveServing(linkSeen: boolean): Driver {
  const d = new Driver(pairConfig(), 'pbx2');
  d.read(0);
  if (linkSeen) d.handle({ kind: 'peer-link', nowMs: 500 });
  for (const t of [0, 1000, 2000]) d.peerAnswers(t);
  d.tickAtDeadline();
  assert.equal(d.state, 'active');
  return d;
}

test('failback = auto, master able to reach the slave: the slave waits for its release request, and releases when asked', () => {
  const d = slaveServing(true);
  for (const t of [10_000, 11_000, 12_000, 13_000]) d.peerAnswers(t);
  assert.equal(d.state, 'active', 'the master answers: the slave waits to be asked');
  const released = d.handle({ kind: 'peer-asks', nowMs: 13_500, request: 'release' });
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(released), ['notify transition standby', 'services stop wait', RELEASE_BOTH]);
});

test('failback = auto, master able to reach the slave: not asked within the grace, the slave releases by itself', () => {
  const d = slaveServing(true);
  // Up after `rise` (3) answers: the one at 12 002; the master keeps answering.
  for (const t of [10_000, 11_000, 12_000, 13_000, 14_000, 15_000, 16_000]) d.peerAnswers(t);
  assert.equal(d.state, 'active');
  assert.equal(d.m.nextDeadlineMs(), 12_002 + HANDBACK_GRACE_MS);
  d.tick(12_002 + HANDBACK_GRACE_MS - 1);
  assert.equal(d.state, 'active');
  const { actions } = d.tickAtDeadline();
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(actions), ['notify transition standby', 'services stop wait', RELEASE_BOTH]);
  assert.match(d.m.view().lastReason, /did not ask for the VIPs within 5000 ms/);
});

// The master back from a crash asks for the VIPs before the slave heard `rise` answers (failback
// = auto, failback_delay 0): the request is the proof that it is up.
test('failback asked before rise answers: the slave releases and does not take the VIPs again on the old silence', () => {
  const d = slaveServing(true);
  assert.equal(d.m.view().peer.status, 'down');
  d.peerAnswers(10_000); // one answer of the three `rise` needs
  const released = d.handle({ kind: 'peer-asks', nowMs: 10_300, request: 'release' });
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(released), ['notify transition standby', 'services stop wait', RELEASE_BOTH]);
  const from = d.states.length;
  d.tick(10_301);
  d.peerMisses(10_200); // a probe in flight while the master was still starting
  for (const t of [11_000, 12_000, 13_000, 14_000]) d.peerAnswers(t);
  d.tick(16_000);
  assert.deepEqual(
    d.states.slice(from).filter((s) => s !== 'standby'),
    [],
    'never active again while the master answers',
  );
  assert.equal(d.m.view().peer.status, 'up');
});

test('failback asked before rise answers, then the master dies: taken over fall × interval after its request', () => {
  const d = slaveServing(true);
  d.peerAnswers(10_000);
  d.handle({ kind: 'peer-asks', nowMs: 10_300, request: 'release' });
  assert.equal(d.state, 'standby');
  d.peerMisses(10_200);
  d.peerMisses(11_000);
  assert.equal(d.m.nextDeadlineMs(), 10_300 + DOWN_AFTER);
  d.tick(10_300 + DOWN_AFTER - 1);
  assert.equal(d.state, 'standby');
  const { actions } = d.tickAtDeadline();
  assert.equal(d.state, 'active');
  assert.ok(shape(actions).includes(CLAIM_BOTH), shape(actions).join(' '));
  assert.match(d.m.view().lastReason, /silent for 3000 ms/);
});

test('failback = auto, no trusted link seen: the slave gives the VIPs back as soon as the master answers (original design)', () => {
  const d = slaveServing(false);
  for (const t of [10_000, 11_000, 12_000]) d.peerAnswers(t);
  assert.equal(d.state, 'standby');
});

test('stillWants: a takeover only while the master is in fault or maintenance; a release only while asked and in standby', () => {
  const m = new Driver(pairConfig(), 'pbx1');
  m.read(0, ['voip', 'data']);
  assert.equal(m.state, 'active');
  assert.equal(m.m.stillWants('peer-takeover'), false);
  m.read(100, [], { eth0: false, eth1: false });
  assert.equal(m.state, 'fault');
  assert.equal(m.m.stillWants('peer-takeover'), true, 'asked while in fault');
  m.read(2000, [], HEALTHY);
  assert.notEqual(m.state, 'fault');
  assert.equal(m.m.stillWants('peer-takeover'), false, 'recovered before the request went out: not sent');
  assert.equal(m.m.stillWants('peer-release'), false, 'nothing asked');
  assert.equal(standbySlave().m.stillWants('peer-takeover'), false, 'a slave never asks');
});

test('failback: a release request that failed is asked again after 1 s, then every 5 s', () => {
  const d = new Driver(pairConfig(), 'pbx1');
  d.read(0);
  d.probe({ kind: 'vip', name: 'voip' }, 0, 2, true);
  assert.equal(d.state, 'standby');
  d.dataArrives(50);
  d.quiesces(60);
  const asks = () => d.flat().filter((a) => a.kind === 'peer-request' && a.request === 'peer-release').length;
  assert.equal(asks(), 1);
  d.handle({ kind: 'peer-answered', nowMs: 100, request: 'peer-release', ok: false });
  assert.equal(d.m.nextDeadlineMs(), 100 + RELEASE_RETRY_FIRST_MS);
  d.tick(100 + RELEASE_RETRY_FIRST_MS - 1);
  assert.equal(asks(), 1, 'not before the first retry delay');
  d.tickAtDeadline();
  assert.equal(asks(), 2, 'asked again 1 s after the first failure');
  d.handle({ kind: 'peer-answered', nowMs: 1200, request: 'peer-release', ok: false });
  d.tick(1200 + RELEASE_RETRY_MS - 1);
  assert.equal(asks(), 2, 'then every 5 s');
  d.tick(1200 + RELEASE_RETRY_MS);
  assert.equal(asks(), 3);
  // Answered: the slave released, the master claims.
  d.handle({ kind: 'peer-answered', nowMs: 6300, request: 'peer-release', ok: true });
  assert.equal(d.state, 'active');
});

test('slave in fault asked to take over does not promise to: its carrier back, the master answering, it never serves', () => {
  const s = standbySlave();
  s.read(2500, [], { eth0: false, eth1: true });
  assert.equal(s.state, 'fault');
  const asked = s.handle({ kind: 'peer-asks', nowMs: 2600, request: 'takeover' });
  assert.deepEqual(asked, [], 'nothing to do: it cannot serve');
  assert.equal(s.state, 'fault', 'the master hears the refusal (the node is not active)');
  assert.equal(s.m.view().handedOver, false, 'a node that cannot serve does not promise to');
  // The carrier comes back while the master still answers (it recovered, or it never was
  // in fault): the slave must not go active on the takeover it refused.
  const back = s.read(5000);
  assert.ok(!back.some((a) => a.kind === 'net'), 'no address claimed when the carrier returns');
  for (const t of [5000, 6000, 7000]) s.peerAnswers(t);
  assert.equal(s.state, 'standby');
  assert.ok(!s.states.includes('active'), `never active (states: ${s.states.join(' ')})`);
});

test('failback_delay: the master asks for the VIPs back only once healthy in standby for the delay, then once', () => {
  const DELAY = 60_000;
  const d = new Driver(pairConfig({ failover: { failback_delay: '60s' } }), 'pbx1');
  d.read(0);
  // The slave serves: both VIPs answer. Standby from 2 ms.
  d.probe({ kind: 'vip', name: 'voip' }, 0, 2, true);
  assert.equal(d.state, 'standby');
  const standbyAt = 2;
  const asks = () => d.flat().filter((a) => a.kind === 'peer-request' && a.request === 'peer-release').length;
  assert.equal(asks(), 0, 'not asked on entering standby');
  // The VIPs and the slave keep answering; reads come all along.
  for (let t = 1000; t + 3 < standbyAt + DELAY; t += 1000) {
    d.peerAnswers(t);
    d.probe({ kind: 'vip', name: 'voip' }, t, t + 2, true);
    d.probe({ kind: 'vip', name: 'data' }, t, t + 2, true);
    if (t % 10_000 === 0) d.read(t + 3);
  }
  assert.equal(asks(), 0, 'no release request before standby-start + delay');
  assert.equal(d.m.nextDeadlineMs(), standbyAt + DELAY, 'the failback is due at standby-start + delay');
  d.tick(standbyAt + DELAY - 1);
  assert.equal(asks(), 0, 'no release request before standby-start + delay');
  assert.equal(d.state, 'standby');
  d.tick(standbyAt + DELAY);
  assert.equal(asks(), 0, "the slave's data first");
  d.dataArrives(standbyAt + DELAY + 1);
  d.quiesces(standbyAt + DELAY + 1);
  assert.equal(asks(), 1, 'one release request at standby-start + delay, once the data is here');
  d.probe({ kind: 'vip', name: 'voip' }, standbyAt + DELAY, standbyAt + DELAY + 2, true);
  d.tick(standbyAt + DELAY + 500);
  assert.equal(asks(), 1, 'asked once, not again while the answer is awaited');
  d.handle({ kind: 'peer-answered', nowMs: standbyAt + DELAY + 700, request: 'peer-release', ok: true });
  assert.equal(d.state, 'active');
});

test('failback_delay: a slave serving does not hand the VIPs back by itself, however long the master answers', () => {
  for (const linkSeen of [false, true]) {
    const d = new Driver(pairConfig({ failover: { failback_delay: '60s' } }), 'pbx2');
    d.read(0);
    if (linkSeen) d.handle({ kind: 'peer-link', nowMs: 500 });
    for (const t of [0, 1000, 2000]) d.peerAnswers(t);
    d.tickAtDeadline();
    assert.equal(d.state, 'active', 'took over from a silent master');
    const tookOver = d.states.length;
    for (let t = 10_000; t <= 200_000; t += 1000) d.peerAnswers(t);
    d.tick(200_500);
    assert.equal(d.m.view().peer.status, 'up');
    assert.deepEqual(
      new Set(d.states.slice(tookOver)),
      new Set(['active']),
      `the master answers for 190 s (link seen: ${linkSeen}): still serving until asked`,
    );
    assert.equal(
      d.m.nextDeadlineMs(),
      200_002 + DOWN_AFTER,
      "no deadline of its own to give them back, only the master's silence",
    );
    const released = d.handle({ kind: 'peer-asks', nowMs: 200_600, request: 'release' });
    assert.equal(d.state, 'standby');
    assert.deepEqual(shape(released), ['notify transition standby', 'services stop wait', RELEASE_BOTH]);
  }
});

test('master: a VIP probe sent before a reset (fault, carrier back) does not count when its result comes after', () => {
  const d = new Driver(pairConfig(), 'pbx1');
  d.read(0);
  d.probe({ kind: 'vip', name: 'voip' }, 0, 2, true);
  assert.equal(d.state, 'standby', 'the slave serves');
  // Probes of both VIPs go out at 10 000; the carrier goes at 10 500 and comes back at 10 600.
  const sent = 10_000;
  d.read(10_500, [], { eth0: false, eth1: true });
  assert.equal(d.state, 'fault');
  d.read(10_600);
  assert.notEqual(d.state, 'fault');
  // Their timeouts ("silent") arrive after the reset: they tell nothing about now.
  d.probe({ kind: 'vip', name: 'voip' }, sent, 11_000, false);
  d.probe({ kind: 'vip', name: 'data' }, sent, 11_000, false);
  assert.notEqual(d.state, 'active', 'no claim on the silence of probes sent before the reset');
  assert.deepEqual(d.m.view().vipProbes, { voip: 'unknown', data: 'unknown' });
  assert.ok(
    !d.flat().some((a) => a.kind === 'net' && a.changes.some((c) => c.kind.startsWith('add'))),
    'no address claimed',
  );
  // A fresh probe finds the slave still serving: standby.
  d.probe({ kind: 'vip', name: 'voip' }, 11_000, 11_002, true);
  assert.equal(d.state, 'standby');
});

// --- failback: the slave's data comes across before the VIPs, without holding the queue ---

/** A master in standby beside a serving slave (both VIPs answer), its failback fetch started. */
function masterFetching(config = pairConfig()): Driver {
  const d = new Driver(config, 'pbx1');
  d.read(0);
  d.peerAnswers(0);
  d.probe({ kind: 'vip', name: 'voip' }, 0, 2, true);
  d.probe({ kind: 'vip', name: 'data' }, 0, 2, true);
  assert.equal(d.state, 'standby');
  assert.deepEqual(
    d.flat().filter((a) => a.kind === 'failback-fetch'),
    [{ kind: 'failback-fetch', id: 1, final: false, slaveServed: true }],
    'the fetch starts while the slave still serves',
  );
  return d;
}

const claims = (actions: Action[]) =>
  actions.some((a) => a.kind === 'net' && a.changes.some((c) => c.kind === 'add-address'));
const releaseAsks = (d: Driver) =>
  d.flat().filter((a) => a.kind === 'peer-request' && a.request === 'peer-release').length;

test('failback preempted by a carrier loss during the fetch: fault at once, nothing claimed, the late result ignored', () => {
  const d = masterFetching();
  const id = d.lastFetchId();
  assert.equal(d.m.failbackFetchWanted(id), true);
  d.read(800, [], { eth0: false, eth1: false });
  assert.equal(d.state, 'fault', 'the cut is seen while the fetch runs');
  assert.equal(d.m.failbackFetchWanted(id), false, 'the job is told it is no longer wanted');
  // The fetch ends after the cut (successfully, say): it decides nothing.
  assert.deepEqual(d.dataArrives(900, true, id), []);
  assert.equal(d.state, 'fault');
  assert.equal(releaseAsks(d), 0, 'the slave was never asked to release');
  assert.ok(!d.flat().some((a) => a.kind === 'net' && claims([a])), 'no VIP claimed');
  // Cables back: a new failback, with a new fetch; the old id still counts for nothing.
  d.read(2000);
  d.probe({ kind: 'vip', name: 'voip' }, 2000, 2002, true);
  d.probe({ kind: 'vip', name: 'data' }, 2000, 2002, true);
  assert.equal(d.state, 'standby');
  const again = d.lastFetchId();
  assert.notEqual(again, id);
  d.dataArrives(2100, true, id);
  assert.equal(releaseAsks(d), 0, 'a stale result does not release the slave');
  d.dataArrives(2200, true, again);
  d.quiesces(2250);
  assert.equal(releaseAsks(d), 1);
});

test('failback: the VIPs are never claimed before the data arrived, even when they fall free meanwhile', () => {
  const d = masterFetching();
  // The slave gives them up by itself (or its release came from elsewhere) during the fetch.
  const free = [
    ...d.probe({ kind: 'vip', name: 'voip' }, 1000, 2000, false),
    ...d.probe({ kind: 'vip', name: 'data' }, 1000, 2000, false),
  ];
  d.peerAnswers(1000);
  assert.equal(claims(free), false);
  assert.equal(d.state, 'standby');
  assert.match(d.m.view().lastReason, /somebody answers|slave's astdb/);
  assert.equal(
    d.flat().filter((a) => a.kind === 'failback-fetch').length,
    1,
    'the fetch under way is waited for, not doubled',
  );
  // The early fetch ends after the slave let the VIPs go: what it wrote since its snapshot is
  // fetched first (a final fetch, services stopped there), then the claim.
  assert.deepEqual(shape(d.dataArrives(2500)), ['fetch final']);
  assert.equal(d.state, 'standby');
  const claim = d.dataArrives(2800);
  assert.equal(d.state, 'active');
  assert.ok(claims(claim), 'claimed once the data is here');
});

test('failback: a failed (or timed-out) fetch while the slave serves waits and retries with an alert, never claims', () => {
  const d = masterFetching();
  // The first failure is only logged (common just after a cable comes back); the second is alerted.
  assert.deepEqual(d.dataArrives(1000, false), []);
  assert.equal(releaseAsks(d), 0, 'the slave is not asked to release');
  assert.equal(d.state, 'standby');
  for (let t = 1250; t < 1000 + FAILBACK_FETCH_RETRY_FIRST_MS; t += 250) {
    d.peerAnswers(t);
    d.probe({ kind: 'vip', name: 'voip' }, t, t + 2, true);
  }
  d.tick(1000 + FAILBACK_FETCH_RETRY_FIRST_MS - 1);
  assert.equal(d.flat().filter((a) => a.kind === 'failback-fetch').length, 1, 'not before the retry delay');
  assert.equal(d.m.nextDeadlineMs(), 1000 + FAILBACK_FETCH_RETRY_FIRST_MS, 'the retry is a deadline');
  d.tick(1000 + FAILBACK_FETCH_RETRY_FIRST_MS);
  assert.equal(d.flat().filter((a) => a.kind === 'failback-fetch').length, 2, 'tried again after 1 s');
  const failed = d.dataArrives(6500, false);
  assert.deepEqual(shape(failed), ['alert']);
  const alert = failed[0];
  assert.ok(
    alert.kind === 'alert' &&
      /failback waits: .*connection refused.*keeps serving, tried again in 30 s \(2 failures in a row\)/.test(
        alert.message,
      ),
    JSON.stringify(alert),
  );
  for (let t = 7000; t < 6500 + FAILBACK_FETCH_RETRY_MS; t += 1000) {
    d.peerAnswers(t);
    d.probe({ kind: 'vip', name: 'voip' }, t, t + 2, true);
  }
  assert.equal(d.flat().filter((a) => a.kind === 'failback-fetch').length, 2, 'then not before 30 s');
  d.tick(6500 + FAILBACK_FETCH_RETRY_MS);
  assert.equal(d.flat().filter((a) => a.kind === 'failback-fetch').length, 3, 'tried again after 30 s');
  d.dataArrives(6500 + FAILBACK_FETCH_RETRY_MS + 100);
  d.quiesces(6500 + FAILBACK_FETCH_RETRY_MS + 150);
  assert.equal(releaseAsks(d), 1, 'asked for the VIPs once the data is here');
  assert.ok(!d.states.includes('active'));
});

test('failback: the slave wrote more between the fetch and its release: the rest is fetched before the claim', () => {
  const d = masterFetching();
  d.dataArrives(500);
  // The slave said nothing changed when quiesced, but answers the release as a slave that
  // served in between (it resumed at the end of its hold, say): the rest is fetched first.
  d.quiesces(550);
  assert.equal(releaseAsks(d), 1);
  const answered = d.handle({
    kind: 'peer-answered',
    nowMs: 600,
    request: 'peer-release',
    ok: true,
    slaveDataChanged: true,
  });
  assert.deepEqual(shape(answered), ['fetch final'], 'no claim yet: the last changes first');
  assert.equal(d.state, 'standby');
  // A failed final fetch: nobody serves, so the master claims, with an alert.
  const claim = d.dataArrives(700, false);
  assert.equal(d.state, 'active');
  assert.ok(claims(claim));
  assert.ok(claim.some((a) => a.kind === 'alert' && /without them/.test(a.message)));
});

test('failback: the release answer with nothing new claims at once; a slave that died during the fetch is not waited for', () => {
  const d = masterFetching();
  d.dataArrives(500);
  d.quiesces(550);
  const claim = d.handle({
    kind: 'peer-answered',
    nowMs: 600,
    request: 'peer-release',
    ok: true,
    slaveDataChanged: false,
  });
  assert.equal(d.state, 'active');
  assert.equal(shape(claim)[0], CLAIM_BOTH);

  const e = masterFetching();
  // The slave falls silent (its probes time out) and its VIPs with it: nobody to fetch from.
  for (const t of [1000, 2000, 3000]) e.peerMisses(t);
  e.probe({ kind: 'vip', name: 'voip' }, 3000, 4000, false);
  e.probe({ kind: 'vip', name: 'data' }, 3000, 4000, false);
  e.tick(4001);
  assert.equal(e.m.view().peer.status, 'down');
  assert.equal(e.state, 'active', 'claimed without waiting for a fetch from a dead slave');
  assert.equal(e.m.failbackFetchWanted(e.lastFetchId()), false, 'the fetch still running is told to stop');
});

test('slave: a master fetching its astdb before asking for the VIPs extends the wait for its release request', () => {
  const d = slaveServing(true);
  // Up after `rise` (3) answers: the one at 12 002; the master keeps answering.
  for (const t of [10_000, 11_000, 12_000]) d.peerAnswers(t);
  assert.equal(d.state, 'active');
  // The master's fetch reaches the slave 4 s later: the grace counts from there.
  for (const t of [13_000, 14_000, 15_000, 16_000]) d.peerAnswers(t);
  d.handle({ kind: 'peer-link', nowMs: 16_002 });
  d.peerAnswers(17_000);
  d.tick(12_002 + HANDBACK_GRACE_MS + 1);
  assert.equal(d.state, 'active', 'still waiting to be asked');
  for (const t of [18_000, 19_000, 20_000]) d.peerAnswers(t);
  d.tick(16_002 + HANDBACK_GRACE_MS - 1);
  assert.equal(d.state, 'active', 'until the grace counted from the fetch');
  d.tick(16_002 + HANDBACK_GRACE_MS);
  assert.equal(d.state, 'standby', 'then, never asked, it releases by itself');
});

// --- two-phase failback: the slave quiesces (services stopped, VIPs kept), then releases ---

/** A serving slave whose master answers again (10 s on), quiesced at 12 100. */
function slaveQuiesced(): { d: Driver; quiesce: Action[] } {
  const d = slaveServing(true);
  for (const t of [10_000, 11_000, 12_000]) d.peerAnswers(t);
  const quiesce = d.handle({ kind: 'peer-asks', nowMs: 12_100, request: 'quiesce' });
  return { d, quiesce };
}

test('slave quiesced: services stopped, VIPs kept, no check run, no release by itself; the release is then the VIPs alone', () => {
  const { d, quiesce } = slaveQuiesced();
  assert.deepEqual(shape(quiesce), ['services stop wait'], 'the services stop, no address changes');
  assert.equal(d.state, 'active');
  assert.equal(d.m.view().quiesced, true);
  assert.equal(d.m.checksRunning(), false, 'its checks would see the services stopped on purpose');
  assert.deepEqual(
    shape(d.handle({ kind: 'peer-asks', nowMs: 12_200, request: 'quiesce' })),
    [],
    'asked again: nothing more to stop',
  );
  // The handback grace (5 s from the master's answers) does not apply while quiesced: the
  // master is handing back, and a release by itself would put the final fetch in the gap.
  for (let t = 13_000; t <= 20_000; t += 1000) d.peerAnswers(t);
  d.tick(20_100);
  assert.equal(d.state, 'active', 'still holding the VIPs for the release');
  const released = d.handle({ kind: 'peer-asks', nowMs: 20_200, request: 'release' });
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(released), ['notify transition standby', RELEASE_BOTH], 'no second services stop');
  assert.equal(d.m.view().releasedQuiesced, true, 'the release answer can say its data is as quiesced');
  assert.equal(d.m.view().quiesced, false);
});

test('slave quiesced: the master does not follow with the release within QUIESCE_HOLD_MS: services start again, with an alert', () => {
  const { d } = slaveQuiesced();
  for (let t = 13_000; t < 12_100 + QUIESCE_HOLD_MS; t += 1000) d.peerAnswers(t);
  assert.equal(d.m.nextDeadlineMs(), 12_100 + QUIESCE_HOLD_MS, 'the hold is a deadline');
  assert.deepEqual(shape(d.tick(12_100 + QUIESCE_HOLD_MS - 1)), []);
  const { actions } = d.tickAtDeadline();
  assert.deepEqual(shape(actions), ['services start nowait', 'alert']);
  const alert = actions[1];
  assert.ok(
    alert.kind === 'alert' && /did not ask for the VIPs within 30 s.*keeps serving/.test(alert.message),
    JSON.stringify(alert),
  );
  assert.equal(d.state, 'active', 'serving on');
  assert.equal(d.m.view().quiesced, false);
  assert.equal(d.m.checksRunning(), true);
  // Not released by itself the moment after (the handback grace counts from the resume).
  d.peerAnswers(12_100 + QUIESCE_HOLD_MS + 500);
  d.tick(12_100 + QUIESCE_HOLD_MS + HANDBACK_GRACE_MS - 1);
  assert.equal(d.state, 'active');
});

test('slave quiesced: a quiesce asked again does not extend the hold: the services are stopped for at most QUIESCE_HOLD_MS', () => {
  const { d } = slaveQuiesced();
  // A holder of pbx-ha's key repeating the request while the master's heartbeat answers.
  for (let t = 13_000; t < 12_100 + QUIESCE_HOLD_MS; t += 1000) {
    d.peerAnswers(t);
    if (t % 5000 === 0) d.handle({ kind: 'peer-asks', nowMs: t + 10, request: 'quiesce' });
  }
  assert.equal(d.m.nextDeadlineMs(), 12_100 + QUIESCE_HOLD_MS, 'the first hold stays the deadline');
  const { actions } = d.tickAtDeadline();
  assert.deepEqual(shape(actions), ['services start nowait', 'alert']);
  assert.equal(d.m.view().quiesced, false);
});

test("slave quiesced: the master's heartbeat stops (it died, the link is cut): services start again once it is declared down", () => {
  const { d } = slaveQuiesced();
  d.peerMisses(13_000);
  d.peerMisses(14_000);
  // The quiesce request was the master's last proof of life: down fall × interval after it.
  assert.equal(d.m.nextDeadlineMs(), 12_100 + DOWN_AFTER);
  const { actions } = d.tickAtDeadline();
  assert.deepEqual(shape(actions), ['services start nowait', 'alert']);
  assert.ok(actions[1].kind === 'alert' && /silent for 3000 ms/.test(actions[1].message));
  assert.equal(d.state, 'active');
  assert.equal(d.m.view().quiesced, false);
});

test('slave quiesced: a resume starts the services again; a fault leaves them stopped and releases the VIPs', () => {
  const { d } = slaveQuiesced();
  const resumed = d.handle({ kind: 'peer-asks', nowMs: 12_500, request: 'resume' });
  assert.deepEqual(shape(resumed), ['services start nowait', 'alert']);
  assert.equal(d.m.view().quiesced, false);
  assert.deepEqual(
    shape(d.handle({ kind: 'peer-asks', nowMs: 12_600, request: 'resume' })),
    [],
    'nothing to resume',
  );

  const { d: e } = slaveQuiesced();
  const fault = e.read(12_500, ['voip', 'data'], { eth0: false, eth1: true });
  assert.equal(e.state, 'fault');
  assert.deepEqual(
    shape(fault),
    ['notify transition fault', RELEASE_BOTH],
    'services left as they are: stopped',
  );
  assert.equal(e.m.view().quiesced, false);
});

test('slave: a quiesce from a master whose heartbeat did not answer within fall × interval is ignored, with an alert', () => {
  const d = slaveServing(true);
  // The master's last answer: 2002; taken over since. A key holder asks at 9000.
  const q = d.handle({ kind: 'peer-asks', nowMs: 9000, request: 'quiesce' });
  assert.deepEqual(shape(q), ['alert']);
  assert.ok(q[0].kind === 'alert' && /a quiesce request from pbx1 is ignored/.test(q[0].message));
  assert.equal(d.m.view().quiesced, false);
  assert.equal(d.m.checksRunning(), true, 'still serving');
  // A slave in standby has nothing to stop: not quiesced.
  const s = standbySlave();
  assert.deepEqual(shape(s.handle({ kind: 'peer-asks', nowMs: 2100, request: 'quiesce' })), []);
  assert.equal(s.m.view().quiesced, false);
});

test('two-phase failback, master: the slave wrote after the first fetch: the rest is fetched while it still holds the VIPs, then released, then claimed at once', () => {
  const d = masterFetching();
  assert.deepEqual(shape(d.dataArrives(500)), ['ask peer-quiesce']);
  assert.equal(d.m.stillWants('peer-quiesce'), true);
  assert.deepEqual(
    shape(d.quiesces(600, true)),
    ['fetch final'],
    'the last changes, the slave holding the VIPs',
  );
  assert.equal(d.m.failbackFetchWanted(d.lastFetchId()), true);
  d.probe({ kind: 'vip', name: 'voip' }, 600, 602, true);
  assert.equal(d.state, 'standby');
  assert.deepEqual(shape(d.dataArrives(700)), ['ask peer-release']);
  const claim = d.handle({
    kind: 'peer-answered',
    nowMs: 710,
    request: 'peer-release',
    ok: true,
    slaveDataChanged: false,
  });
  assert.equal(d.state, 'active');
  assert.equal(shape(claim)[0], CLAIM_BOTH, 'claimed on the answer, nothing fetched in between');
  assert.ok(!claim.some((a) => a.kind === 'failback-fetch'));
});

test('two-phase failback, master: the final fetch fails with the slave quiesced: it is asked to serve again, the failback is retried later, nothing claimed', () => {
  const d = masterFetching();
  d.dataArrives(500);
  d.quiesces(600, true);
  const failed = d.dataArrives(15_600, false);
  assert.deepEqual(shape(failed), ['ask peer-resume', 'alert']);
  assert.ok(
    failed[1].kind === 'alert' &&
      /failback waits: .*asked to serve again, tried again in 1 s/.test(failed[1].message),
  );
  assert.equal(d.state, 'standby');
  assert.equal(releaseAsks(d), 0, 'never released without its last changes');
  for (let t = 15_850; t < 15_600 + FAILBACK_FETCH_RETRY_FIRST_MS; t += 250) {
    d.peerAnswers(t);
    d.probe({ kind: 'vip', name: 'voip' }, t, t + 2, true);
  }
  assert.equal(releaseAsks(d), 0);
  d.tick(15_600 + FAILBACK_FETCH_RETRY_FIRST_MS);
  assert.equal(shape(d.all.at(-1)!.actions).join(), 'fetch', 'the failback starts again, the slave serving');
});

test('two-phase failback, master: a slave that does not know the quiesce (older) or does not serve is released the one-phase way', () => {
  const d = masterFetching();
  d.dataArrives(500);
  const old = d.handle({
    kind: 'peer-answered',
    nowMs: 600,
    request: 'peer-quiesce',
    ok: false,
    quiesced: false,
    unsupported: true,
  });
  assert.deepEqual(shape(old), ['ask peer-release'], 'the release at once, its answer with the digest');
  const e = masterFetching();
  e.dataArrives(500);
  const idle = e.handle({
    kind: 'peer-answered',
    nowMs: 600,
    request: 'peer-quiesce',
    ok: true,
    quiesced: false,
  });
  assert.deepEqual(shape(idle), ['ask peer-release']);
});

test('two-phase failback, master: a failed quiesce is asked again after 1 s; a fault with the slave quiesced tells it to serve again', () => {
  const d = masterFetching();
  d.dataArrives(500);
  const failed = d.handle({ kind: 'peer-answered', nowMs: 600, request: 'peer-quiesce', ok: false });
  assert.deepEqual(shape(failed), []);
  assert.equal(d.m.nextDeadlineMs(), 600 + RELEASE_RETRY_FIRST_MS);
  d.peerAnswers(1000);
  d.probe({ kind: 'vip', name: 'voip' }, 1000, 1002, true);
  assert.deepEqual(shape(d.tick(600 + RELEASE_RETRY_FIRST_MS)), ['ask peer-quiesce']);

  const e = masterFetching();
  e.dataArrives(500);
  e.quiesces(600, true);
  const fault = e.read(700, [], { eth0: true, eth1: false });
  assert.equal(e.state, 'fault');
  assert.ok(shape(fault).includes('ask peer-resume'), shape(fault).join(' '));
  assert.equal(e.m.failbackFetchWanted(e.lastFetchId()), false, 'the final fetch is abandoned');

  // A quiesce answered after the failback was abandoned: the slave is told to serve again.
  const f = masterFetching();
  f.dataArrives(500);
  f.read(550, [], { eth0: true, eth1: false });
  assert.equal(f.state, 'fault');
  assert.deepEqual(shape(f.quiesces(600)), ['ask peer-resume']);
});
