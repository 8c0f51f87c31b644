// The state machine of one pbx-ha node: events in, actions out, no I/O. The agent feeds it
// from one event queue (so there is one writer) and executes what it returns.
//
// Decisions follow BEHAVIOR.md:
// - master: claims the VIPs only when nobody answers on them; keeps them once active;
// - slave: takes over when the master has been silent for `fall × interval` and this node
//   is healthy; yields when the master answered `rise` times in a row;
// - any node: `fault` when its own link is down or a tracked target is silent; a node in
//   fault holds nothing and never takes over.

import type { Role, VipConfig } from '../config/types';
import type { Action } from './actions';
import type { ActualNet } from './reconcile';
import { claimChanges, heldVips, releaseChanges, repairs } from './reconcile';
import type { Detector, DetectorTiming } from './detector';
import { downDeadlineMs, evaluate, newDetector, recordAnswer, recordMiss, resetBaseline } from './detector';
import type { NodeState } from './states';
import { assertNever, holdsVips } from './states';

export interface MachineSettings {
  nodeName: string;
  role: Role;
  peerName: string;
  peerAddress: string;
  vips: VipConfig[];
  /** Interfaces whose carrier this node needs: the VIP interfaces and its own address's. */
  watchedInterfaces: string[];
  /** Tracked addresses (usually the gateway). */
  tracks: string[];
  timing: DetectorTiming;
}

export type ProbeTarget =
  | { kind: 'peer' }
  | { kind: 'track'; address: string }
  /** The master asking whether anybody answers on a VIP (ICMP or ARP). */
  | { kind: 'vip'; name: string };

export type MachineEvent =
  | { kind: 'probe-result'; target: ProbeTarget; sentAtMs: number; nowMs: number; answered: boolean }
  /** What iproute2 shows: addresses, routes and the carrier of each watched interface. */
  | { kind: 'net-read'; nowMs: number; actual: ActualNet; carrier: Record<string, boolean> }
  /** Time passed (a detection deadline was reached). */
  | { kind: 'tick'; nowMs: number }
  /** While holding a VIP, another MAC answered ARP for it. */
  | { kind: 'conflict'; nowMs: number; vip: string; macs: string[] };

export interface Transition {
  from: NodeState;
  to: NodeState;
  atMs: number;
  reason: string;
}

type VipProbeResult = 'unknown' | 'answered' | 'silent';

interface VipProbe {
  result: VipProbeResult;
  baselineMs: number;
}

export interface MachineView {
  state: NodeState;
  sinceMs: number;
  role: Role;
  peer: Detector;
  tracks: Record<string, Detector>;
  carrier: Record<string, boolean> | null;
  held: string[];
  vipProbes: Record<string, VipProbeResult>;
  lastReason: string;
}

export class NodeMachine {
  private state: NodeState = 'init';
  private sinceMs: number;
  private peer: Detector;
  private tracks = new Map<string, Detector>();
  private vipProbes = new Map<string, VipProbe>();
  private carrier: Record<string, boolean> | null = null;
  private held: string[] = [];
  private lastReason = 'starting';

  constructor(
    private settings: MachineSettings,
    nowMs: number,
  ) {
    this.sinceMs = nowMs;
    this.peer = newDetector(nowMs);
    for (const t of settings.tracks) this.tracks.set(t, newDetector(nowMs));
    for (const v of settings.vips) this.vipProbes.set(v.name, { result: 'unknown', baselineMs: nowMs });
  }

  view(): MachineView {
    return {
      state: this.state,
      sinceMs: this.sinceMs,
      role: this.settings.role,
      peer: this.peer,
      tracks: Object.fromEntries(this.tracks),
      carrier: this.carrier,
      held: [...this.held],
      vipProbes: Object.fromEntries([...this.vipProbes].map(([k, v]) => [k, v.result])),
      lastReason: this.lastReason,
    };
  }

  /** What should be probed this round. */
  probeTargets(): ProbeTarget[] {
    const targets: ProbeTarget[] = [{ kind: 'peer' }];
    for (const address of this.settings.tracks) targets.push({ kind: 'track', address });
    // Only a master that does not hold the VIPs asks whether somebody else does; a node
    // pinging its own address would always get an answer from itself.
    if (this.settings.role === 'master' && (this.state === 'init' || this.state === 'standby')) {
      for (const v of this.settings.vips) targets.push({ kind: 'vip', name: v.name });
    }
    return targets;
  }

  /** The next instant at which time alone may change a decision (null: none pending). */
  nextDeadlineMs(): number | null {
    const deadlines = [downDeadlineMs(this.peer, this.settings.timing)];
    for (const d of this.tracks.values()) deadlines.push(downDeadlineMs(d, this.settings.timing));
    const pending = deadlines.filter((d): d is number => d !== null);
    return pending.length ? Math.min(...pending) : null;
  }

  handle(event: MachineEvent): { actions: Action[]; transition: Transition | null } {
    const actions: Action[] = [];
    const now = event.nowMs;
    switch (event.kind) {
      case 'probe-result':
        this.recordProbe(event.target, event.sentAtMs, now, event.answered);
        break;
      case 'net-read':
        this.carrier = event.carrier;
        this.held = heldVips(this.settings.vips, event.actual);
        break;
      case 'tick':
        break;
      case 'conflict':
        actions.push({
          kind: 'alert',
          message: `another node (MAC ${event.macs.join(', ')}) answers for VIP ${event.vip} that this node holds`,
        });
        // The master is entitled to the VIPs: it re-announces them so that the network
        // follows it. A slave is not: it waits for its detector to see the master.
        if (this.settings.role === 'master') actions.push({ kind: 'garp', vips: [event.vip] });
        break;
      default:
        assertNever(event);
    }
    this.evaluateDetectors(now);

    const transition = this.maybeTransition(now);
    if (transition) actions.push(...this.transitionActions(transition.from, transition.to));

    // Reconcile after the decision: an active node repairs missing addresses or routes,
    // a passive one removes stale ones. `init` leaves everything as it found it.
    if (event.kind === 'net-read' && !transition && this.state !== 'init') {
      const repair = repairs(this.settings.vips, holdsVips(this.state), event.actual);
      if (repair.changes.length) {
        actions.push({ kind: 'net', changes: repair.changes, reason: 'reconcile' });
        if (repair.readded.length) actions.push({ kind: 'garp', vips: repair.readded });
        this.held = holdsVips(this.state) ? this.settings.vips.map((v) => v.name) : [];
      }
    }
    return { actions, transition };
  }

  /** Actions to run when the agent stops: release unless told to keep the VIPs. */
  stop(release: boolean): Action[] {
    if (!release || (this.held.length === 0 && !holdsVips(this.state))) return [];
    return [
      { kind: 'notify', event: 'stopping', state: this.state },
      { kind: 'net', changes: this.settings.vips.flatMap(releaseChanges), reason: 'agent stopping' },
    ];
  }

  private recordProbe(target: ProbeTarget, sentAtMs: number, now: number, answered: boolean): void {
    const t = this.settings.timing;
    switch (target.kind) {
      case 'peer':
        this.peer = answered ? recordAnswer(this.peer, t, sentAtMs, now) : recordMiss(this.peer, t, sentAtMs, now);
        break;
      case 'track': {
        const d = this.tracks.get(target.address);
        if (d) this.tracks.set(target.address, answered ? recordAnswer(d, t, sentAtMs, now) : recordMiss(d, t, sentAtMs, now));
        break;
      }
      case 'vip': {
        const p = this.vipProbes.get(target.name);
        if (p && sentAtMs >= p.baselineMs) p.result = answered ? 'answered' : 'silent';
        break;
      }
      default:
        assertNever(target);
    }
  }

  private evaluateDetectors(now: number): void {
    const t = this.settings.timing;
    this.peer = evaluate(this.peer, t, now);
    for (const [k, d] of this.tracks) this.tracks.set(k, evaluate(d, t, now));
  }

  /** Forget what was heard while this node was cut off (see `resetBaseline`). */
  private resetObservations(now: number): void {
    this.peer = resetBaseline(this.peer, now);
    for (const p of this.vipProbes.values()) {
      p.result = 'unknown';
      p.baselineMs = now;
    }
  }

  /** Why this node cannot judge or serve, or null when it is healthy. */
  private faultReason(): string | null {
    if (this.carrier === null) return null;
    const down = this.settings.watchedInterfaces.filter((i) => this.carrier?.[i] !== true);
    if (down.length) return `no carrier on ${down.join(', ')}`;
    const silent = [...this.tracks].filter(([, d]) => d.status === 'down').map(([a]) => a);
    if (silent.length) return `tracked ${silent.join(', ')} not answering`;
    return null;
  }

  private wanted(): { state: NodeState; reason: string } {
    const stay = { state: this.state, reason: this.lastReason };
    if (this.carrier === null) return stay; // nothing read yet: still reconciling
    const fault = this.faultReason();
    if (fault) return { state: 'fault', reason: fault };
    if (this.state === 'maintenance') return stay;
    const unknownFrom = (s: NodeState): NodeState => (s === 'fault' ? 'init' : s);
    const role = this.settings.role;
    switch (role) {
      case 'master': {
        if (this.state === 'active') return stay;
        if (this.state === 'init' && this.held.length) return { state: 'active', reason: `already holds ${this.held.join(', ')}` };
        const results = [...this.vipProbes.values()].map((p) => p.result);
        if (results.every((r) => r === 'silent')) return { state: 'active', reason: 'nobody answers on the VIPs' };
        const taken = [...this.vipProbes].filter(([, p]) => p.result === 'answered').map(([n]) => n);
        if (taken.length) return { state: 'standby', reason: `somebody answers on ${taken.join(', ')}` };
        return { state: unknownFrom(this.state), reason: 'probing the VIPs' };
      }
      case 'slave': {
        const silenceMs = this.settings.timing.downAfterMs;
        if (this.peer.status === 'down') {
          return { state: 'active', reason: `master ${this.settings.peerName} silent for ${silenceMs} ms` };
        }
        if (this.peer.status === 'up') {
          return { state: 'standby', reason: `master ${this.settings.peerName} answers` };
        }
        return { state: unknownFrom(this.state), reason: `probing master ${this.settings.peerName}` };
      }
      default:
        return assertNever(role);
    }
  }

  private maybeTransition(now: number): Transition | null {
    let want = this.wanted();
    if (want.state === this.state) return null;
    if (this.state === 'fault' || want.state === 'fault') {
      this.resetObservations(now);
      // Leaving fault, decide again on what is heard from now on: the first decision still
      // counted the silence heard while cut off as the peer's death (a false takeover).
      if (this.state === 'fault') want = this.wanted();
      if (want.state === this.state) return null;
    }
    const transition: Transition = { from: this.state, to: want.state, atMs: now, reason: want.reason };
    this.state = want.state;
    this.sinceMs = now;
    this.lastReason = want.reason;
    return transition;
  }

  /**
   * Going active: addresses, routes, gratuitous ARP, services, notify. Going passive: the
   * reverse — notify, services, routes, addresses (BEHAVIOR.md, "Order").
   */
  private transitionActions(from: NodeState, to: NodeState): Action[] {
    const vips = this.settings.vips;
    const notify: Action = { kind: 'notify', event: 'transition', state: to };
    if (to === 'active') {
      // A master taking VIPs it does not hold may be taking them back from a slave that
      // served meanwhile (and released them, so its services are stopped and its data is
      // final): fetch what changed there first. Not when it already holds them (a restart),
      // nor when the slave is known to be silent (there is nobody to ask).
      const failback: Action[] =
        this.settings.role === 'master' && this.held.length === 0 && this.peer.status !== 'down' ? [{ kind: 'before-failback' }] : [];
      this.held = vips.map((v) => v.name);
      return [
        ...failback,
        { kind: 'net', changes: vips.flatMap(claimChanges), reason: `${from} -> active` },
        { kind: 'garp', vips: vips.map((v) => v.name) },
        { kind: 'services', command: 'start', wait: false },
        notify,
      ];
    }
    const actions: Action[] = [notify];
    // The slave's PBX services run only while it serves; the master's keep running in
    // standby (as in the original XiVO design). Maintenance stops them on either node.
    const stopServices = to === 'maintenance' || (to === 'standby' && this.settings.role === 'slave');
    if (stopServices) actions.push({ kind: 'services', command: 'stop', wait: true });
    // `fault` leaves the services as they are: this node cannot judge whether to stop them.
    if (from === 'active' || this.held.length) {
      actions.push({ kind: 'net', changes: vips.flatMap(releaseChanges), reason: `${from} -> ${to}` });
      this.held = [];
    }
    return actions;
  }
}
