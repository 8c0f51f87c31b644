// The rules for the field failures of VIP failover (docs/behavior.md): the network follows the
// holder after a stall, a silence or a MAC change; a stop hands over or keeps; without the
// trusted link nothing is asked of the peer. The node machine is driven with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PbxHaConfig } from '../../../src/config';
import type { Action } from '../../../src/domain/actions';
import { changedMacs, peerCouldHaveTakenOver } from '../../../src/domain/field-rules';
import { NodeMachine } from '../../../src/domain/node-machine';
import type { ActualNet } from '../../../src/domain/reconcile';
import { planStop, type StopFacts } from '../../../src/domain/stop-plan';
import { baseAddresses, machineSettings, pairConfig, vipOf } from '../../fakes/config';

const HEALTHY = { eth0: true, eth1: true };
const MACS = { eth0: '02:00:00:00:00:01', eth1: '02:00:00:00:00:02' };

function net(config: PbxHaConfig, node: string, held: string[]): ActualNet {
  const addresses = baseAddresses(config, node);
  const routes = [];
  for (const name of held) {
    const v = vipOf(config, name);
    addresses.push({ ifname: v.interface, address: v.address, prefixLength: v.prefixLength });
    for (const r of v.routes)
      routes.push({ destination: r.destination, via: r.via, ifname: v.interface, source: v.address });
  }
  return { addresses, routes };
}

/** A compact picture of the actions that matter here. */
function kinds(actions: Action[]): string[] {
  return actions.map((a) => {
    if (a.kind === 'garp') return `garp(${a.vips.join(',')})`;
    if (a.kind === 'peer-request') return `ask ${a.request}`;
    if (a.kind === 'net') return 'net';
    if (a.kind === 'services') return `services ${a.command}`;
    return a.kind;
  });
}

class Node {
  readonly m: NodeMachine;
  constructor(
    readonly config: PbxHaConfig,
    readonly name: string,
  ) {
    this.m = new NodeMachine(machineSettings(config, name), 0);
  }
  get state(): string {
    return this.m.view().state;
  }
  /** `macs` null: a reading without MACs (as the fakes give). */
  read(
    t: number,
    held: string[],
    macs: Record<string, string> | null = MACS,
    carrier: Record<string, boolean> = HEALTHY,
  ): Action[] {
    return this.m.handle({
      kind: 'net-read',
      nowMs: t,
      actual: net(this.config, this.name, held),
      carrier,
      macs: macs ?? undefined,
    }).actions;
  }
  peer(t: number, answered = true): Action[] {
    return this.m.handle({
      kind: 'probe-result',
      target: { kind: 'peer' },
      sentAtMs: t,
      nowMs: t + (answered ? 2 : 1000),
      answered,
    }).actions;
  }
  vipsFree(t: number): void {
    for (const name of ['voip', 'data'])
      this.m.handle({
        kind: 'probe-result',
        target: { kind: 'vip', name },
        sentAtMs: t,
        nowMs: t + 1000,
        answered: false,
      });
  }
  tick(t: number): Action[] {
    return this.m.handle({ kind: 'tick', nowMs: t }).actions;
  }
}

/** The master active with both VIPs, its slave answering (interval 1 s, fall 3, rise 3). */
function activeMaster(config = pairConfig()): Node {
  const n = new Node(config, 'pbx1');
  n.read(0, ['voip', 'data']);
  for (const t of [0, 1000, 2000]) n.peer(t);
  assert.equal(n.state, 'active');
  return n;
}

/** The slave serving after the master went silent (interval 1 s, fall 3: down 3 s after its last answer). */
function servingSlave(config = pairConfig()): Node {
  const n = new Node(config, 'pbx2');
  n.read(0, []);
  for (const t of [0, 1000, 2000]) n.peer(t);
  assert.equal(n.state, 'standby');
  n.tick(5003);
  assert.equal(n.state, 'active');
  n.read(5100, ['voip', 'data']);
  return n;
}

test("peerCouldHaveTakenOver: blind time plus one interval against the peer's detection time", () => {
  assert.equal(peerCouldHaveTakenOver(1376, 200, 600), true, 'the frozen master of the field report');
  assert.equal(peerCouldHaveTakenOver(400, 200, 600), true);
  assert.equal(peerCouldHaveTakenOver(399, 200, 600), false);
  assert.equal(peerCouldHaveTakenOver(150, 200, 600), false, 'a busy moment is not a possible takeover');
});

test('changedMacs: only interfaces read before and now, with another MAC', () => {
  assert.deepEqual(changedMacs(null, MACS, ['eth0', 'eth1']), [], 'the first reading is no change');
  assert.deepEqual(changedMacs(MACS, { ...MACS, eth0: '02:00:00:00:02:10' }, ['eth0', 'eth1']), ['eth0']);
  assert.deepEqual(
    changedMacs(MACS, { eth1: MACS.eth1 }, ['eth0', 'eth1']),
    [],
    'a vanished interface is not a MAC change',
  );
  assert.deepEqual(
    changedMacs(MACS, { ...MACS, lo: '00:00:00:00:00:00', eth1: '02:00:00:00:09:09' }, ['eth0']),
    [],
    'interfaces without VIPs do not count',
  );
});

test('stall: an active master that stalled long enough for a takeover re-announces and looks for another holder', () => {
  const m = activeMaster();
  assert.deepEqual(
    kinds(m.m.handle({ kind: 'stall', nowMs: 2500, blindMs: 500 }).actions),
    [],
    'shorter than fall × interval - interval: nothing',
  );
  assert.deepEqual(kinds(m.m.handle({ kind: 'stall', nowMs: 5000, blindMs: 2000 }).actions), [
    'garp(voip,data)',
    'conflict-check',
  ]);
  assert.equal(m.state, 'active', "the stall is not counted as the slave's silence");
});

test('stall: an active slave looks for the master holding the VIPs and yields at once if it does', () => {
  const s = servingSlave();
  assert.deepEqual(
    kinds(s.m.handle({ kind: 'stall', nowMs: 6000, blindMs: 2500 }).actions),
    ['conflict-check'],
    'a slave only looks: it is not entitled to re-announce over the master',
  );
  const r = s.m.handle({ kind: 'conflict', nowMs: 6600, vip: 'voip', macs: ['02:00:00:00:01:01'] });
  assert.equal(s.state, 'standby');
  assert.ok(kinds(r.actions).includes('net'), 'the VIPs are released');
});

test('a release request is honoured only from a master whose heartbeat answered within fall × interval', () => {
  // The master silent since 2000 (declared down at 5000): a request naming it, from a holder of
  // pbx-ha's key, must not make the serving slave let the VIPs go.
  const s = servingSlave();
  const r = s.m.handle({ kind: 'peer-asks', nowMs: 9000, request: 'release' });
  assert.equal(s.state, 'active', 'still serving');
  assert.deepEqual(kinds(r.actions), ['alert']);
  assert.ok(
    r.actions.some((a) => a.kind === 'alert' && /heartbeat has not answered for \d+ ms/.test(a.message)),
  );
  // The master is back: its heartbeat answers (fewer than `rise`), and its request is honoured.
  s.peer(9500);
  const back = s.m.handle({ kind: 'peer-asks', nowMs: 9600, request: 'release' });
  assert.equal(s.state, 'standby');
  assert.ok(kinds(back.actions).includes('net'), 'the VIPs are released');
});

test('a conflict answer that arrives after this node let the VIPs go is not a conflict: no alert, no action', () => {
  // Unpaired, the slave yields when the master has answered `rise` times; a conflict check begun
  // at the first answer may still be listening when the master claims the VIPs it released.
  const s = servingSlave();
  assert.deepEqual(kinds(s.peer(6000)), ['conflict-check']);
  s.peer(6200);
  s.peer(6400);
  assert.equal(s.state, 'standby', 'the master answered `rise` times: the slave yielded');
  const late = s.m.handle({ kind: 'conflict', nowMs: 6800, vip: 'voip', macs: ['02:00:00:00:01:01'] });
  assert.deepEqual(kinds(late.actions), [], 'the master now holds the VIPs this node released');
  assert.equal(s.state, 'standby');
});

test('silence: the master answering again makes an active slave look for it holding the VIPs (no grace period to wait out)', () => {
  const s = servingSlave();
  s.m.handle({ kind: 'peer-link', nowMs: 5200 }); // paired: the slave would wait for a release request
  assert.deepEqual(kinds(s.peer(6000)), ['conflict-check'], 'the first answer after the silence');
  assert.deepEqual(kinds(s.peer(6200)), [], 'once');
  s.m.handle({ kind: 'conflict', nowMs: 6300, vip: 'data', macs: ['02:00:00:00:01:02'] });
  assert.equal(s.state, 'standby', 'the master holds them: the slave yields at once');
  // One answer so far, `rise` is 3: the slave must not take them again meanwhile.
  s.tick(6400);
  s.peer(6400);
  assert.equal(s.state, 'standby', 'no second takeover before `rise` answers');
  s.peer(6600);
  assert.equal(s.state, 'standby');
  // A master that really goes silent afterwards is still detected: fall × interval after its last answer.
  s.tick(6602 + 3000 + 10);
  assert.equal(s.state, 'active');
});

test("silence: a master declared down by a probe's timeout (not a deadline) is looked for too when it answers again", () => {
  const s = new Node(pairConfig(), 'pbx2');
  s.read(0, []);
  for (const t of [0, 1000, 2000]) s.peer(t);
  s.peer(4000, false); // times out at 5000: 2998 ms after the last answer, not yet down
  s.m.handle({
    kind: 'probe-result',
    target: { kind: 'peer' },
    sentAtMs: 4500,
    nowMs: 5100,
    answered: false,
  });
  assert.equal(s.state, 'active');
  s.read(5200, ['voip', 'data']);
  assert.deepEqual(kinds(s.peer(6000)), ['conflict-check']);
});

test('silence: an active master whose slave answers again re-announces and looks for another holder, once', () => {
  const m = activeMaster();
  m.peer(3000, false);
  m.tick(5003);
  assert.equal(m.m.view().peer.status, 'down');
  assert.deepEqual(kinds(m.peer(6000)), ['garp(voip,data)', 'conflict-check']);
  assert.deepEqual(kinds(m.peer(7000)), []);
  assert.deepEqual(kinds(m.peer(8000)), []);
});

test('MAC change: a holder announces the VIPs of the interface whose MAC changed; a node that holds nothing does not', () => {
  const m = activeMaster();
  assert.deepEqual(kinds(m.read(4000, ['voip', 'data'], { ...MACS, eth1: '02:00:00:00:02:11' })), [
    'garp(data)',
  ]);
  assert.deepEqual(
    kinds(m.read(4100, ['voip', 'data'], { ...MACS, eth1: '02:00:00:00:02:11' })),
    [],
    'announced once',
  );
  assert.deepEqual(kinds(m.read(4200, ['voip', 'data'], null)), [], 'a reading without MACs changes nothing');
  const s = new Node(pairConfig(), 'pbx2');
  s.read(0, []);
  for (const t of [0, 1000, 2000]) s.peer(t);
  assert.deepEqual(
    kinds(s.read(2500, [], { eth0: '02:00:00:00:02:10', eth1: MACS.eth1 })),
    [],
    'standby: nothing to announce',
  );
});

const NO_LINK = { replication: { enabled: 'no' } };

test('without the trusted link: a master in fault asks nothing of the slave', () => {
  const m = activeMaster(pairConfig(NO_LINK));
  const actions = kinds(m.read(3000, ['voip', 'data'], MACS, { eth0: true, eth1: false }));
  assert.equal(m.state, 'fault');
  assert.ok(!actions.some((a) => a.startsWith('ask')), actions.join(' '));
});

test('without the trusted link: a master waiting for a failback does not ask for a release; the slave gives them back by itself, even with failback = manual', () => {
  const config = pairConfig({ ...NO_LINK, failover: { failback: 'manual' } });
  const m = new Node(config, 'pbx1');
  m.read(0, []);
  for (const t of [0, 1000, 2000]) m.peer(t);
  for (const name of ['voip', 'data'])
    m.m.handle({
      kind: 'probe-result',
      target: { kind: 'vip', name },
      sentAtMs: 0,
      nowMs: 500,
      answered: true,
    });
  assert.equal(m.state, 'standby');
  assert.ok(
    !kinds(m.m.handle({ kind: 'admin', nowMs: 3000, command: 'failback' }).actions).some((a) =>
      a.startsWith('ask'),
    ),
  );
  const s = servingSlave(config);
  for (const t of [6000, 7000, 8000]) s.peer(t);
  assert.equal(s.state, 'standby', 'nobody can ask it: it yields when the master answers `rise` times');
  // With the link, failback = manual keeps the slave serving until it is asked.
  const linked = servingSlave(pairConfig({ failover: { failback: 'manual' } }));
  for (const t of [6000, 7000, 8000]) linked.peer(t);
  assert.equal(linked.state, 'active');
});

test('with the trusted link a master in fault still hands over (unchanged)', () => {
  const m = activeMaster();
  assert.ok(
    kinds(m.read(3000, ['voip', 'data'], MACS, { eth0: true, eth1: false })).includes('ask peer-takeover'),
  );
});

const FACTS: StopFacts = {
  release: true,
  role: 'master',
  state: 'active',
  holds: true,
  peerUp: true,
  trustedLink: true,
  handedOver: false,
};

test('planStop: hand over to a healthy peer, keep when nobody can take them, release when nobody is left out', () => {
  assert.equal(planStop(FACTS).kind, 'hand-over');
  assert.equal(
    planStop({ ...FACTS, release: false }).kind,
    'keep',
    'keep-vips-on-stop, release_on_stop = no',
  );
  assert.equal(
    planStop({ ...FACTS, trustedLink: false }).kind,
    'keep',
    'the slave hears this host and cannot be asked',
  );
  assert.equal(
    planStop({ ...FACTS, peerUp: false }).kind,
    'release',
    'a silent peer cannot serve either way',
  );
  assert.equal(planStop({ ...FACTS, holds: false }).kind, 'nothing');
  assert.equal(planStop({ ...FACTS, state: 'fault' }).kind, 'release');
  assert.equal(
    planStop({ ...FACTS, role: 'slave' }).kind,
    'release',
    'the master in standby claims them once free',
  );
  assert.equal(
    planStop({ ...FACTS, role: 'slave', handedOver: true }).kind,
    'keep',
    'the master handed over: it would not claim',
  );
});

test('stopPlan: the machine gives planStop its facts', () => {
  assert.equal(activeMaster().m.stopPlan(true).kind, 'hand-over');
  assert.equal(activeMaster(pairConfig(NO_LINK)).m.stopPlan(true).kind, 'keep');
  const s = servingSlave();
  assert.equal(s.m.stopPlan(true).kind, 'release', 'the master is silent');
});
