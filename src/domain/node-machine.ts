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
import type { Action, PeerRequestName } from './actions';
import type { ActualNet } from './reconcile';
import { claimChanges, heldVips, releaseChanges, repairs } from './reconcile';
import type { Detector, DetectorTiming } from './detector';
import {
  allowBlind,
  downDeadlineMs,
  evaluate,
  newDetector,
  recordAnswer,
  recordMiss,
  recordProofOfLife,
  resetBaseline,
} from './detector';
import type { NodeState } from './states';
import { assertNever, holdsVips } from './states';
import { type CheckState, NEW_CHECK, recordCheck } from './check-status';
import { changedMacs, peerCouldHaveTakenOver } from './field-rules';
import { planStop, type StopPlan } from './stop-plan';

export type { PeerRequestName };

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
  /** Tracked checks (commands) with their rise/fall counts; they count only while serving. */
  checks: { name: string; rise: number; fall: number }[];
  /** auto: a healthy master takes the VIPs back; manual: only on `pbx-ha failback`. */
  failback: 'auto' | 'manual';
  /** With auto, how long the master must have been healthy before it takes them back. */
  failbackDelayMs: number;
  /** `[health] interval`: how often the peer probes this node (both share one file). */
  intervalMs: number;
  /**
   * Whether the trusted link to the peer is in use (`[replication] enabled`): without it no
   * request is sent to the peer (takeover, release, last copy), and the slave gives the VIPs
   * back by itself, since nobody can ask it to.
   */
  trustedLink: boolean;
}

/** What the peer may ask of this node's machine over the trusted link. */
export type PeerAsk = 'takeover' | 'release' | 'quiesce' | 'resume';

export type ProbeTarget =
  | { kind: 'peer' }
  | { kind: 'track'; address: string }
  /** The master asking whether anybody answers on a VIP (ICMP or ARP). */
  | { kind: 'vip'; name: string };

export type MachineEvent =
  | { kind: 'probe-result'; target: ProbeTarget; sentAtMs: number; nowMs: number; answered: boolean }
  /** What iproute2 shows: addresses, routes and the carrier of each watched interface. */
  | {
      kind: 'net-read';
      nowMs: number;
      actual: ActualNet;
      carrier: Record<string, boolean>;
      macs?: Record<string, string>;
    }
  /** Time passed (a detection deadline was reached). */
  | { kind: 'tick'; nowMs: number }
  /** The agent's timers fired `blindMs` late: it could not probe nor read answers meanwhile. */
  | { kind: 'stall'; nowMs: number; blindMs: number }
  /** While holding a VIP, another MAC answered ARP for it. */
  | { kind: 'conflict'; nowMs: number; vip: string; macs: string[] }
  /** A tracked check ran. */
  | { kind: 'check-result'; nowMs: number; name: string; ok: boolean; problem: string | null }
  /** An administrator's command on this node (`pbx-ha failover`, `pbx-ha failback`). */
  | { kind: 'admin'; nowMs: number; command: 'failover' | 'failback' }
  /**
   * The peer asks over the trusted link: take over now (it hands over), release (failback), or,
   * for a two-phase failback, quiesce (stop the services, keep the VIPs, until the release) and
   * resume (start them again: the master gave up the handback).
   */
  | { kind: 'peer-asks'; nowMs: number; request: PeerAsk }
  /**
   * The answer to our own peer request. `slaveDataChanged` (release and quiesce): the slave's
   * data changed since the failback fetch brought it across. `quiesced` (quiesce only): the
   * slave stopped its services and keeps the VIPs until the release; false: it does not serve
   * (its data is not the phones' now). `unsupported` (quiesce only): the slave does not know the
   * request (an older version): the failback falls back to the one-phase order.
   */
  | {
      kind: 'peer-answered';
      nowMs: number;
      request: PeerRequestName;
      ok: boolean;
      slaveDataChanged?: boolean;
      quiesced?: boolean;
      unsupported?: boolean;
    }
  /** A `failback-fetch` job ended: the slave's data is merged here (ok), or not (`detail` says why). */
  | { kind: 'failback-data'; nowMs: number; id: number; ok: boolean; detail: string }
  /** The peer reached this node over the trusted link (a copy, a question): it can ask us. */
  | { kind: 'peer-link'; nowMs: number };

export interface Transition {
  from: NodeState;
  to: NodeState;
  atMs: number;
  reason: string;
}

type VipProbeResult = 'unknown' | 'answered' | 'silent';

/**
 * How long a master waits before asking an unreachable or refusing slave again for the VIPs:
 * soon after a first failure (just after a cable comes back, the first connection often fails
 * with EHOSTUNREACH while the neighbour entry is still marked failed), then less often (each
 * request starts a program on the slave).
 */
export const RELEASE_RETRY_FIRST_MS = 1000;
export const RELEASE_RETRY_MS = 5000;

/**
 * Slave with failback = auto, no delay, whose master reaches it over the trusted link: how
 * long after the master answers again it waits for the master's release request before giving
 * the VIPs back by itself. Asked, it releases and answers, and the master claims on the answer
 * (a few ms without VIPs); by itself, the master notices only when its next VIP probe times
 * out (up to two probe intervals).
 */
export const HANDBACK_GRACE_MS = 5000;

/**
 * Master: how long after a failed failback fetch (the slave still serving) it is tried again:
 * soon after the first failure, then less often. The slave keeps serving meanwhile; an alert
 * says why the failback waits. Waiting loses nothing; claiming without the slave's data would.
 * The first retry comes well within the slave's HANDBACK_GRACE_MS: a first fetch that fails
 * just after a cable comes back (EHOSTUNREACH from a neighbour entry whose resolution failed
 * while the cable was out) must not leave the slave to let the VIPs go by itself, which makes
 * the master fetch with nobody serving (1.9 s without a holder in one benchmark run, when this
 * wait was 5 s, as long as the grace).
 */
export const FAILBACK_FETCH_RETRY_FIRST_MS = 1000;
export const FAILBACK_FETCH_RETRY_MS = 30_000;
/** Failed failback fetches in a row that raise an alert (the first is only logged). */
export const FAILBACK_FETCH_FAILURES_ALERTED = 2;

/**
 * Slave, two-phase failback: how long it keeps its services stopped after the master's
 * `peer-quiesce`, still holding the VIPs, waiting for the release. The master's final fetch
 * has 15 s (FAILBACK_FINAL_FETCH_TIMEOUT_MS in agent/daemon.ts) and the release is one request
 * on the same channel: a master that has not followed by then is stuck or gone, and the slave
 * starts its services again and keeps serving (with an alert). A master whose heartbeat stops
 * (it died, the link was cut) is not waited for that long: the slave resumes as soon as its
 * detector declares the master down (`fall × interval`).
 */
export const QUIESCE_HOLD_MS = 30_000;

/**
 * Master: where the slave's data stands for the failback under way. The failback is a
 * two-phase handback (docs/replication.md): the slave's data is fetched while it serves; then
 * the slave is asked to *quiesce* (stop its services, keep the VIPs) and answers with the
 * digests of its data, now final; what changed since the first fetch is fetched (the final
 * fetch, the VIPs still held by the slave); then the release, and the claim on its answer, with
 * nothing in between.
 * - idle: not fetched (or abandoned, or the slave changed it since);
 * - fetching: a `failback-fetch` job with this id runs (`final`: the slave's services are
 *   stopped, quiesced or released, so its data no longer changes);
 * - quiescing: `peer-quiesce` asked, not answered yet;
 * - ready: merged here. `final`: nothing can have changed since — the fetch was made with the
 *   slave's services stopped, or the slave's quiesce (or release) answer said its data had not
 *   changed since the fetch — and the VIPs may be asked for and claimed at once; otherwise the
 *   slave is asked to quiesce first. A slave that let the VIPs go otherwise (by itself, in a
 *   fault, an answer lost) gets a final fetch first.
 */
type FailbackData =
  | { phase: 'idle' }
  | { phase: 'fetching'; id: number; final: boolean }
  | { phase: 'quiescing' }
  | { phase: 'ready'; final: boolean };
const DATA_IDLE: FailbackData = { phase: 'idle' };

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
  checks: Record<string, CheckState>;
  handedOver: boolean;
  /** Slave: quiesced by the master (services stopped, VIPs held) until its release. */
  quiesced: boolean;
  /** Slave: the last release honoured found the services stopped by a quiesce: its data is as the quiesce answer said. */
  releasedQuiesced: boolean;
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
  private checks = new Map<string, CheckState>();
  /** Slave: the master handed over (planned, or because it is in fault); serve until released. */
  private handedOver = false;
  /** Master: a release was asked of the slave and not answered yet. */
  private releaseAsked = false;
  /** Master: when it became healthy and ready to serve again (for failback_delay). */
  private readySinceMs: number | null = null;
  /** Master: an administrator asked for the VIPs back. */
  private failbackWanted = false;
  /** Master: a release request failed; not asked again before this instant. */
  private releaseRetryAtMs = 0;
  /** Master: release requests that failed in a row. */
  private releaseFailures = 0;
  /** Slave: the master has reached this node over the trusted link (it can ask for the VIPs). */
  private masterLinkSeen = false;
  /** When the peer's detector last became `up` (null while it is not up). */
  private peerUpSinceMs: number | null = null;
  /** The peer was declared down and has not answered since: its first answer is a return. */
  private peerSilent = false;
  /** The MAC of each interface at the last reading (null: none read yet). */
  private macs: Record<string, string> | null = null;
  /** Master: the slave's data for the failback under way (reset by every transition: a fault abandons it). */
  private failbackData: FailbackData = DATA_IDLE;
  /** When the peer's heartbeat last answered (a real probe, not a request), null before any. */
  private lastPeerAnswerMs: number | null = null;
  /** Master: somebody (the slave) answered on the VIPs since this node last held them. */
  private slaveSeenServing = false;
  /** Master: the id of the last failback fetch asked for. */
  private failbackFetchSeq = 0;
  /** Master: failback fetches that failed in a row, and when the next may start. */
  private failbackFetchFailures = 0;
  private failbackFetchRetryAtMs = 0;
  /** Master: the slave answered this failback's quiesce as not serving: released the one-phase way. */
  private quiesceDeclined = false;
  /** Slave: when the master last reached this node over the trusted link (a fetch, a question). */
  private masterLinkAtMs: number | null = null;
  /**
   * Slave: quiesced by the master (two-phase failback): services stopped, VIPs still held, until
   * the release or this instant (QUIESCE_HOLD_MS). Null: not quiesced.
   */
  private quiescedUntilMs: number | null = null;
  /** Slave: the last release honoured found the services stopped by a quiesce (nothing written since). */
  private releasedQuiesced = false;
  /** Slave: when it last resumed serving after a quiesce the master did not follow (the handback grace counts afresh). */
  private resumedAtMs: number | null = null;
  /** Master: the slave answered a quiesce and keeps its services stopped until the release (or a resume). */
  private slaveQuiesced = false;
  /** Master: the slave refused `peer-quiesce` as unknown (an older version): one-phase failbacks. */
  private quiesceUnsupported = false;

  constructor(
    private settings: MachineSettings,
    nowMs: number,
  ) {
    this.sinceMs = nowMs;
    this.peer = newDetector(nowMs);
    for (const t of settings.tracks) this.tracks.set(t, newDetector(nowMs));
    for (const v of settings.vips) this.vipProbes.set(v.name, { result: 'unknown', baselineMs: nowMs });
    for (const c of settings.checks) this.checks.set(c.name, NEW_CHECK);
  }

  /**
   * Whether the tracked checks run now: only where the PBX services are meant to run and
   * matter — on the node that serves, and on one in fault because of a check (to see it
   * recover). A slave in standby has its services stopped: its checks would only fail.
   */
  checksRunning(): boolean {
    // Quiesced (two-phase failback), the services are stopped on purpose: their checks would fail.
    if (this.state === 'active') return this.quiescedUntilMs === null;
    return this.state === 'fault' && [...this.checks.values()].some((c) => c.status === 'down');
  }

  /**
   * The state alone: what the agent asks after every event and the replication every half
   * second. view() copies the whole machine (maps, arrays) for `status`.
   */
  currentState(): NodeState {
    return this.state;
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
      checks: Object.fromEntries(this.checks),
      handedOver: this.handedOver,
      quiesced: this.quiescedUntilMs !== null,
      releasedQuiesced: this.releasedQuiesced,
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
    if (this.readySinceMs !== null && this.failbackPending()) {
      deadlines.push(
        Math.max(
          this.readySinceMs + this.settings.failbackDelayMs,
          this.releaseRetryAtMs,
          this.failbackData.phase === 'idle' ? this.failbackFetchRetryAtMs : 0,
        ),
      );
    }
    const handback = this.handbackWaitUntilMs();
    if (handback !== null) deadlines.push(handback);
    if (this.quiescedUntilMs !== null) deadlines.push(this.quiescedUntilMs);
    const pending = deadlines.filter((d): d is number => d !== null);
    return pending.length ? Math.min(...pending) : null;
  }

  handle(event: MachineEvent): { actions: Action[]; transition: Transition | null } {
    const actions: Action[] = [];
    const now = event.nowMs;
    /** Something happened after which the network may no longer point at this node (see below). */
    let peerMayHaveServed = false;
    /** Interfaces whose MAC changed: the VIPs on them are announced again. */
    let newMacs: string[] = [];
    const peerWasDown = this.peer.status === 'down';
    switch (event.kind) {
      case 'probe-result':
        // The peer answers again after it was declared down: a cut or a silence ended, during
        // which either node may have taken the VIPs.
        if (
          event.target.kind === 'peer' &&
          event.answered &&
          this.peerSilent &&
          event.sentAtMs >= this.peer.baselineMs
        ) {
          this.peerSilent = false;
          peerMayHaveServed = true;
        }
        this.recordProbe(event.target, event.sentAtMs, now, event.answered);
        break;
      case 'net-read':
        this.carrier = event.carrier;
        this.held = heldVips(this.settings.vips, event.actual);
        if (event.macs) {
          newMacs = changedMacs(this.macs, event.macs, [
            ...new Set(this.settings.vips.map((v) => v.interface)),
          ]);
          this.macs = event.macs;
        }
        break;
      case 'tick':
        break;
      case 'stall':
        this.peer = allowBlind(this.peer, event.blindMs);
        for (const [k, d] of this.tracks) this.tracks.set(k, allowBlind(d, event.blindMs));
        peerMayHaveServed = peerCouldHaveTakenOver(
          event.blindMs,
          this.settings.intervalMs,
          this.settings.timing.downAfterMs,
        );
        break;
      case 'conflict':
        // A check listens for a while (CONFLICT_CHECK_TIMEOUT_MS): if this node let the VIPs go
        // meanwhile, the answer is the new holder claiming them, which is how it should be.
        if (this.state !== 'active') break;
        actions.push({
          kind: 'alert',
          message: `another node (MAC ${event.macs.join(', ')}) answers for VIP ${event.vip} that this node holds`,
        });
        // One holder (BEHAVIOR.md): the master is entitled to the VIPs and re-announces them
        // so that the network follows it; a slave is not, and releases them.
        if (this.settings.role === 'master') {
          actions.push({ kind: 'garp', vips: [event.vip] });
        } else if (this.state === 'active') {
          this.handedOver = false;
          // The master holds the VIPs, so it runs: its silence, if it was declared, is over.
          // Counting from now, as after a fault: else the slave, still short of `rise` answers
          // (a conflict check at the master's first answer ends sooner), would take them again.
          this.peer = resetBaseline(this.peer, now);
          const released = this.planned('standby', now, `another node answers for VIP ${event.vip}`);
          return { actions: [...actions, ...released.actions], transition: released.transition };
        }
        break;
      case 'check-result': {
        // A check that ran while quiesced saw the services stopped on purpose.
        if (this.quiescedUntilMs !== null) break;
        const c = this.settings.checks.find((x) => x.name === event.name);
        const st = this.checks.get(event.name);
        if (c && st) this.checks.set(event.name, recordCheck(st, event.ok, c.rise, c.fall, event.problem));
        break;
      }
      case 'admin':
        if (event.command === 'failover' && this.state === 'active')
          return this.planned('maintenance', now, 'failover requested by an administrator');
        if (event.command === 'failback') {
          this.failbackWanted = true;
          if (this.state === 'maintenance')
            return this.planned('standby', now, 'failback requested by an administrator');
        }
        break;
      case 'peer-asks':
        // Only a master asks, and only of its slave (domain/request-authority.ts): a master is
        // never made to stand by, nor to serve, by a request over the trusted link.
        if (this.settings.role !== 'slave') break;
        if (event.request === 'takeover') {
          // A node that cannot serve does not promise to: the master hears the refusal.
          if (this.settings.role === 'slave' && this.faultReason() === null) this.handedOver = true;
        } else if (event.request === 'resume') {
          // The master gave up the handback (its final fetch failed, it went to fault): this node
          // holds the VIPs, so it serves again. Honoured without the heartbeat rule: it only
          // starts the services of a node that holds the VIPs.
          if (this.quiescedUntilMs !== null && this.state === 'active')
            actions.push(...this.resumeServing(`${this.settings.peerName} asked to resume`, now));
        } else {
          // Honoured only from a master whose heartbeat answered within `fall × interval`: a
          // holder of pbx-ha's key could otherwise make the slave let the VIPs go, and keep it
          // from serving, while the master is dead (docs/security.md). A master that really asks
          // is up, and answers.
          // The same for a quiesce: it would stop the services of the node that serves.
          const heardMs = this.lastPeerAnswerMs === null ? null : now - this.lastPeerAnswerMs;
          if (heardMs === null || heardMs >= this.settings.timing.downAfterMs) {
            actions.push({
              kind: 'alert',
              message: `a ${event.request} request from ${this.settings.peerName} is ignored: its heartbeat has ${heardMs === null ? 'not answered since this agent started' : `not answered for ${heardMs} ms`}`,
            });
            break;
          }
          this.handedOver = false;
          // The master asking for the VIPs back (authenticated, over the trusted link) is
          // itself proof that it is up and healthy: it asks only from standby, without fault.
          // It may ask before this node's detector has heard `rise` answers (failback_delay
          // shorter than rise × interval, 0 by default); a detector still saying "master
          // silent" would take the VIPs again right after releasing them, and both nodes would
          // hold them until the ARP conflict check. So the request counts as an answer: the
          // master is up now, and a master that dies right after asking is declared down
          // `fall × interval` after its request, and taken over from, as after any last answer.
          if (this.settings.role === 'slave') {
            this.peer = recordProofOfLife(this.peer, now);
            this.peerUpSinceMs ??= now;
            this.peerSilent = false;
          }
          if (event.request === 'quiesce') {
            // Two-phase failback, first phase: the services stop (waited for, so that the answer's
            // digests are final) and the VIPs stay here, so that nobody else may claim them and no
            // ARP moves; the master brings the last changes across, then asks the release. Asked
            // again (a retry), the first hold's end stays: the services are stopped for at most
            // QUIESCE_HOLD_MS, whoever repeats the request. A node that does not serve has nothing
            // to stop: its answer says so (not quiesced).
            if (this.state === 'active' && this.quiescedUntilMs === null) {
              actions.push({ kind: 'services', command: 'stop', wait: true });
              this.quiescedUntilMs = now + QUIESCE_HOLD_MS;
            }
            break;
          }
          // Second phase: the services are already stopped, the release is only the VIPs'.
          this.releasedQuiesced = this.state === 'active' && this.quiescedUntilMs !== null;
          if (this.state === 'active')
            return this.planned('standby', now, `released on ${this.settings.peerName}'s request`);
        }
        break;
      case 'peer-link':
        if (this.settings.role === 'slave') {
          this.masterLinkSeen = true;
          this.masterLinkAtMs = now;
        }
        break;
      case 'failback-data':
        actions.push(...this.failbackDataArrived(event.id, event.ok, event.detail, now));
        break;
      case 'peer-answered':
        if (event.request === 'peer-quiesce') actions.push(...this.quiesceAnswered(event, now));
        if (event.request === 'peer-release') {
          this.releaseAsked = false;
          if (event.ok) this.slaveQuiesced = false;
          // An unreachable or refusing slave is asked again later, not in a tight loop.
          if (!event.ok) {
            this.releaseFailures++;
            this.releaseRetryAtMs =
              now + (this.releaseFailures === 1 ? RELEASE_RETRY_FIRST_MS : RELEASE_RETRY_MS);
          } else {
            this.releaseFailures = 0;
          }
          // The slave released the VIPs and said so: they are free, no need to wait for a
          // probe to time out.
          if (event.ok) for (const p of this.vipProbes.values()) p.result = 'silent';
          if (event.ok) this.failbackWanted = false;
          // The slave wrote more between the fetch and its release: the rest comes first.
          if (event.ok && this.failbackData.phase === 'ready')
            this.failbackData = event.slaveDataChanged ? DATA_IDLE : { phase: 'ready', final: true };
        }
        break;
      default:
        assertNever(event);
    }
    this.evaluateDetectors(now);
    // Declared down by this event, at a deadline or by a probe's timeout alike.
    if (!peerWasDown && this.peer.status === 'down') this.peerSilent = true;
    actions.push(...this.quiesceExpired(now));

    const transition = this.maybeTransition(now);
    if (transition)
      actions.push(...this.transitionActions(transition.from, transition.to, transition.reason));
    // The master leaves a handback half done (a fault, a claim after the slave fell silent):
    // a slave still quiesced is told to serve again rather than wait for its hold to end.
    if (transition && this.slaveQuiesced) {
      this.slaveQuiesced = false;
      if (transition.to !== 'active') actions.push({ kind: 'peer-request', request: 'peer-resume' });
    }
    if (!transition && this.state === 'active')
      actions.push(...this.followTheHolder(peerMayHaveServed, newMacs));

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
    if (this.settings.trustedLink && this.failbackPending() && !this.releaseAsked && this.failbackDue(now)) {
      // The slave keeps serving until its data is here: fetched and merged first; then it is
      // quiesced (services stopped, VIPs kept) and its last changes fetched; released last.
      if (this.failbackData.phase === 'ready') {
        if (this.failbackData.final || this.quiesceUnsupported || this.quiesceDeclined) {
          this.releaseAsked = true;
          actions.push({ kind: 'peer-request', request: 'peer-release' });
        } else {
          this.failbackData = { phase: 'quiescing' };
          actions.push({ kind: 'peer-request', request: 'peer-quiesce' });
        }
      } else if (this.failbackData.phase === 'idle' && now >= this.failbackFetchRetryAtMs) {
        actions.push(this.startFailbackFetch(false));
      }
    }
    // The VIPs are free but the slave's last changes are not here yet (it released them since
    // the fetch, or by itself): fetched before the claim, the queue still running meanwhile.
    if (this.dataBeforeClaim() && this.failbackData.phase !== 'fetching' && this.vipsKnownFree())
      actions.push(this.startFailbackFetch(true));
    return { actions, transition };
  }

  /**
   * Master: the slave answered `peer-quiesce`. Quiesced with nothing new: the release follows in
   * this same turn; with changes: they are fetched first (final), the slave holding the VIPs
   * meanwhile. A slave that does not serve (quiesced false) is released the one-phase way, its
   * release answer saying whether anything changed; one that does not know the request (an older
   * version) too, from then on. A failed request is asked again as a failed release is.
   */
  private quiesceAnswered(
    e: { ok: boolean; quiesced?: boolean; unsupported?: boolean; slaveDataChanged?: boolean },
    now: number,
  ): Action[] {
    if (this.failbackData.phase !== 'quiescing') {
      // The failback was abandoned meanwhile (a transition): the slave must not wait for a
      // release that will not come.
      return e.ok && e.quiesced ? [{ kind: 'peer-request', request: 'peer-resume' }] : [];
    }
    this.failbackData = { phase: 'ready', final: false };
    if (!e.ok) {
      if (e.unsupported) {
        this.quiesceUnsupported = true;
        return [];
      }
      this.releaseFailures++;
      this.releaseRetryAtMs = now + (this.releaseFailures === 1 ? RELEASE_RETRY_FIRST_MS : RELEASE_RETRY_MS);
      return [];
    }
    this.releaseFailures = 0;
    if (!e.quiesced) {
      this.quiesceDeclined = true;
      return [];
    }
    this.slaveQuiesced = true;
    if (e.slaveDataChanged !== false) return [this.startFailbackFetch(true)];
    this.failbackData = { phase: 'ready', final: true };
    return [];
  }

  /**
   * Slave, quiesced: the master's heartbeat stopped (it died, the link is cut), or it did not
   * follow with the release within QUIESCE_HOLD_MS: the handback is over, this node serves on.
   */
  private quiesceExpired(now: number): Action[] {
    if (this.quiescedUntilMs === null || this.state !== 'active') return [];
    if (this.peer.status === 'down')
      return this.resumeServing(
        `master ${this.settings.peerName} silent for ${this.settings.timing.downAfterMs} ms`,
        now,
      );
    if (now >= this.quiescedUntilMs)
      return this.resumeServing(
        `master ${this.settings.peerName} did not ask for the VIPs within ${QUIESCE_HOLD_MS / 1000} s of the services' stop`,
        now,
      );
    return [];
  }

  /** Slave: ends a quiesce without a release: its services start again, it keeps serving. */
  private resumeServing(why: string, now: number): Action[] {
    this.quiescedUntilMs = null;
    this.resumedAtMs = now;
    // Services started afresh: their checks too (as on entering `active`).
    for (const c of this.settings.checks) this.checks.set(c.name, NEW_CHECK);
    return [
      { kind: 'services', command: 'start', wait: false },
      {
        kind: 'alert',
        message: `failback handback abandoned (${why}): the services start again and ${this.settings.nodeName} keeps serving`,
      },
    ];
  }

  private startFailbackFetch(final: boolean): Action {
    const id = ++this.failbackFetchSeq;
    this.failbackData = { phase: 'fetching', id, final };
    return { kind: 'failback-fetch', id, final, slaveServed: this.slaveSeenServing };
  }

  /** A failback fetch ended: ready to go on, or (the slave still serving) to wait and try again. */
  private failbackDataArrived(id: number, ok: boolean, detail: string, now: number): Action[] {
    const d = this.failbackData;
    // Abandoned (a fault, a transition) or superseded: its result decides nothing.
    if (d.phase !== 'fetching' || d.id !== id) return [];
    if (!d.final && this.vipsKnownFree()) {
      // The slave let the VIPs go while this fetch ran (by itself, in a fault): what it wrote
      // after the snapshot is not here. A final fetch follows at once, in this same turn.
      this.failbackData = DATA_IDLE;
      return [];
    }
    if (ok) {
      this.failbackData = { phase: 'ready', final: d.final };
      this.failbackFetchFailures = 0;
      return [];
    }
    if (d.final && this.slaveQuiesced && !this.vipsKnownFree()) {
      // The slave still holds the VIPs, its services stopped: it serves again (asked now, or by
      // itself at the end of its hold) rather than this node claiming without its last changes,
      // and the failback is tried again later, from the start. Nothing is lost by waiting.
      this.slaveQuiesced = false;
      this.failbackFetchFailures++;
      const waitMs =
        this.failbackFetchFailures === 1 ? FAILBACK_FETCH_RETRY_FIRST_MS : FAILBACK_FETCH_RETRY_MS;
      this.failbackFetchRetryAtMs = now + waitMs;
      this.failbackData = DATA_IDLE;
      return [
        { kind: 'peer-request', request: 'peer-resume' },
        {
          kind: 'alert',
          message: `failback waits: the slave's last changes could not be brought across with its services stopped (${detail}); ${this.settings.peerName} is asked to serve again, tried again in ${waitMs / 1000} s`,
        },
      ];
    }
    if (d.final) {
      // Nobody serves the phones now: claiming cannot wait. The slave's file stays on the slave
      // (and is kept in its backup area when the next copy replaces it).
      this.failbackData = { phase: 'ready', final: true };
      return [
        {
          kind: 'alert',
          message: `failback: the slave's last astdb changes could not be brought across (${detail}); the VIPs are free, so this node claims them without them; the slave's file is kept there`,
        },
      ];
    }
    this.failbackFetchFailures++;
    const waitMs = this.failbackFetchFailures === 1 ? FAILBACK_FETCH_RETRY_FIRST_MS : FAILBACK_FETCH_RETRY_MS;
    this.failbackFetchRetryAtMs = now + waitMs;
    this.failbackData = DATA_IDLE;
    // One failure is common just after a cable comes back (the first connection fails while the
    // neighbour entry is still marked failed): logged by the agent; alerted from the second on.
    if (this.failbackFetchFailures < FAILBACK_FETCH_FAILURES_ALERTED) return [];
    return [
      {
        kind: 'alert',
        message: `failback waits: the slave's astdb could not be brought across (${detail}); ${this.settings.peerName} keeps serving, tried again in ${waitMs / 1000} s (${this.failbackFetchFailures} failures in a row)`,
      },
    ];
  }

  /**
   * Master about to claim VIPs it does not hold, with a slave that may have served meanwhile
   * (not known silent) and whose data is not here yet: the claim waits for the fetch.
   */
  private dataBeforeClaim(): boolean {
    return (
      this.settings.trustedLink &&
      this.settings.role === 'master' &&
      (this.state === 'init' || this.state === 'standby') &&
      this.held.length === 0 &&
      this.peer.status !== 'down' &&
      !(this.failbackData.phase === 'ready' && this.failbackData.final)
    );
  }

  /**
   * Whether a failback fetch started as `id` is still wanted now: checked by the job before it
   * stops services or replaces the astdb (a fault or a claim meanwhile abandons it).
   */
  failbackFetchWanted(id: number): boolean {
    const d = this.failbackData;
    return d.phase === 'fetching' && d.id === id && (this.state === 'init' || this.state === 'standby');
  }

  /**
   * The network follows the holder (docs/behavior.md): after a moment in which the peer may have
   * taken the VIPs (this agent stalled long enough, or the peer answers again after it was
   * declared down), the master, entitled to them, announces them again and looks for another
   * holder; the slave only looks, and yields at once if the master holds them (a `conflict`),
   * rather than when an ARP cache or a grace period expires. A VIP whose interface changed its
   * MAC is announced again with the new one.
   */
  private followTheHolder(peerMayHaveServed: boolean, newMacs: string[]): Action[] {
    const actions: Action[] = [];
    const names = this.settings.vips.map((v) => v.name);
    const announce = new Set(
      this.settings.vips.filter((v) => newMacs.includes(v.interface)).map((v) => v.name),
    );
    if (peerMayHaveServed && this.settings.role === 'master') for (const n of names) announce.add(n);
    if (announce.size) actions.push({ kind: 'garp', vips: names.filter((n) => announce.has(n)) });
    if (peerMayHaveServed) actions.push({ kind: 'conflict-check' });
    return actions;
  }

  /** Master in standby, the slave serving, and a failback to come (auto, or asked for). */
  private failbackPending(): boolean {
    return (
      this.settings.role === 'master' &&
      this.state === 'standby' &&
      [...this.vipProbes.values()].some((p) => p.result === 'answered') &&
      (this.settings.failback === 'auto' || this.failbackWanted)
    );
  }

  private failbackDue(now: number): boolean {
    if (now < this.releaseRetryAtMs) return false;
    if (this.failbackWanted) return true;
    return this.readySinceMs !== null && now - this.readySinceMs >= this.settings.failbackDelayMs;
  }

  /** A transition an administrator or the peer asked for (not derived from observations). */
  private planned(to: NodeState, now: number, reason: string): { actions: Action[]; transition: Transition } {
    const transition: Transition = { from: this.state, to, atMs: now, reason };
    const from = this.state;
    this.state = to;
    this.sinceMs = now;
    this.lastReason = reason;
    this.onEnter(to, now);
    return { actions: this.transitionActions(from, to, reason), transition };
  }

  /** Bookkeeping on entering a state. */
  private onEnter(to: NodeState, now: number): void {
    if (to === 'active') {
      // Services are (re)started: their checks start afresh, so a PBX still starting is not
      // taken for a dead one (it has `fall` results to come up).
      for (const c of this.settings.checks) this.checks.set(c.name, NEW_CHECK);
      this.failbackWanted = false;
      this.slaveSeenServing = false;
    }
    this.readySinceMs = to === 'standby' || to === 'init' ? now : null;
    this.releaseAsked = false;
    this.releaseFailures = 0;
    // Any transition abandons a failback under way (a fault preempts it): nothing was claimed,
    // and a fetch still running is ignored when it ends (its id is no longer the current one).
    this.failbackData = DATA_IDLE;
    this.failbackFetchFailures = 0;
    this.failbackFetchRetryAtMs = 0;
    this.quiesceDeclined = false;
    // Whether somebody answers on the VIPs is asked afresh in every state that does not hold
    // them: an answer heard before (say, "free", just before this node went to maintenance
    // and the slave took over) must never be the reason for a claim now.
    if (to === 'maintenance' || to === 'fault' || (to === 'standby' && this.vipsKnownFree())) {
      for (const p of this.vipProbes.values()) {
        p.result = 'unknown';
        p.baselineMs = now;
      }
    }
  }

  private vipsKnownFree(): boolean {
    return [...this.vipProbes.values()].every((p) => p.result === 'silent');
  }

  /** What to do with the VIPs when the agent stops (see stop-plan.ts). */
  stopPlan(release: boolean): StopPlan {
    return planStop({
      release,
      role: this.settings.role,
      state: this.state,
      holds: this.held.length > 0 || holdsVips(this.state),
      peerUp: this.peer.status === 'up',
      trustedLink: this.settings.trustedLink,
      handedOver: this.handedOver,
    });
  }

  /** Actions that release the VIPs of a stopping agent. */
  releaseOnStop(): Action[] {
    return [
      { kind: 'notify', event: 'stopping', state: this.state },
      { kind: 'net', changes: this.settings.vips.flatMap(releaseChanges), reason: 'agent stopping' },
    ];
  }

  private recordProbe(target: ProbeTarget, sentAtMs: number, now: number, answered: boolean): void {
    const t = this.settings.timing;
    switch (target.kind) {
      case 'peer':
        this.peer = answered
          ? recordAnswer(this.peer, t, sentAtMs, now)
          : recordMiss(this.peer, t, sentAtMs, now);
        if (answered) this.lastPeerAnswerMs = now;
        break;
      case 'track': {
        const d = this.tracks.get(target.address);
        if (d)
          this.tracks.set(
            target.address,
            answered ? recordAnswer(d, t, sentAtMs, now) : recordMiss(d, t, sentAtMs, now),
          );
        break;
      }
      case 'vip': {
        const p = this.vipProbes.get(target.name);
        if (p && sentAtMs >= p.baselineMs) p.result = answered ? 'answered' : 'silent';
        if (p && answered && this.state !== 'active') this.slaveSeenServing = true;
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
    if (this.peer.status !== 'up') this.peerUpSinceMs = null;
    else this.peerUpSinceMs ??= now;
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
    const failing = [...this.checks].filter(([, c]) => c.status === 'down');
    if (failing.length)
      return `check ${failing.map(([n, c]) => `${n} failing${c.lastProblem ? ` (${c.lastProblem})` : ''}`).join(', ')}`;
    return null;
  }

  /**
   * Slave serving, failback = auto without delay, master answering and able to reach us: the
   * instant until which it waits for the master's release request (see HANDBACK_GRACE_MS).
   */
  private handbackWaitUntilMs(): number | null {
    const s = this.settings;
    if (s.role !== 'slave' || this.state !== 'active' || this.handedOver || !this.masterLinkSeen) return null;
    // Quiesced, the master is handing back: the quiesce's own hold applies (QUIESCE_HOLD_MS).
    if (this.quiescedUntilMs !== null) return null;
    if (s.failback !== 'auto' || s.failbackDelayMs > 0 || this.peerUpSinceMs === null) return null;
    // Counted from the master's last request too: a master fetching this node's astdb before
    // it asks for the VIPs is about to ask.
    // And from a resume after a quiesce not followed: not released right after serving again.
    return Math.max(this.peerUpSinceMs, this.masterLinkAtMs ?? 0, this.resumedAtMs ?? 0) + HANDBACK_GRACE_MS;
  }

  /**
   * Whether a peer request decided earlier is still wanted now, just before it is sent (its
   * SSH connection may have taken long: a takeover asked by a master in fault, delivered after
   * the master recovered, would move the VIPs twice).
   */
  stillWants(request: PeerRequestName): boolean {
    if (this.settings.role !== 'master') return false;
    switch (request) {
      case 'peer-takeover':
        return this.state === 'fault' || this.state === 'maintenance';
      case 'peer-release':
        return this.state === 'standby' && this.releaseAsked;
      case 'peer-quiesce':
        return this.state === 'standby' && this.failbackData.phase === 'quiescing';
      case 'peer-resume':
        // Telling a quiesced slave to serve again is never wrong.
        return true;
    }
  }

  private wanted(now: number): { state: NodeState; reason: string } {
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
        if (this.state === 'init' && this.held.length)
          return { state: 'active', reason: `already holds ${this.held.join(', ')}` };
        const results = [...this.vipProbes.values()].map((p) => p.result);
        if (results.every((r) => r === 'silent')) {
          if (this.dataBeforeClaim())
            return { state: this.state, reason: "bringing the slave's astdb across before claiming" };
          return { state: 'active', reason: 'nobody answers on the VIPs' };
        }
        const taken = [...this.vipProbes].filter(([, p]) => p.result === 'answered').map(([n]) => n);
        if (taken.length) return { state: 'standby', reason: `somebody answers on ${taken.join(', ')}` };
        return { state: unknownFrom(this.state), reason: 'probing the VIPs' };
      }
      case 'slave': {
        const silenceMs = this.settings.timing.downAfterMs;
        if (this.handedOver)
          return { state: 'active', reason: `master ${this.settings.peerName} handed over` };
        if (this.peer.status === 'down') {
          return { state: 'active', reason: `master ${this.settings.peerName} silent for ${silenceMs} ms` };
        }
        if (this.peer.status === 'up') {
          // Once serving, the slave gives the VIPs back by itself only with failback = auto
          // and no delay (the original design); otherwise the master asks when it is time.
          // Without the trusted link nobody can ask: it gives them back when the master answers.
          const waitsToBeAsked =
            this.settings.trustedLink &&
            (this.settings.failback === 'manual' || this.settings.failbackDelayMs > 0);
          // Quiesced, it waits for the release (or resumes at the end of its hold).
          if (this.state === 'active' && (waitsToBeAsked || this.quiescedUntilMs !== null)) return stay;
          const until = this.handbackWaitUntilMs();
          if (until !== null) {
            if (now < until) return stay;
            return {
              state: 'standby',
              reason: `master ${this.settings.peerName} answers and did not ask for the VIPs within ${HANDBACK_GRACE_MS} ms`,
            };
          }
          return { state: 'standby', reason: `master ${this.settings.peerName} answers` };
        }
        return { state: unknownFrom(this.state), reason: `probing master ${this.settings.peerName}` };
      }
      default:
        return assertNever(role);
    }
  }

  private maybeTransition(now: number): Transition | null {
    let want = this.wanted(now);
    if (want.state === this.state) return null;
    if (this.state === 'fault' || want.state === 'fault') {
      this.resetObservations(now);
      // Leaving fault, decide again on what is heard from now on: the first decision still
      // counted the silence heard while cut off as the peer's death (a false takeover).
      if (this.state === 'fault') want = this.wanted(now);
      if (want.state === this.state) return null;
    }
    const transition: Transition = { from: this.state, to: want.state, atMs: now, reason: want.reason };
    this.state = want.state;
    this.sinceMs = now;
    this.lastReason = want.reason;
    this.onEnter(want.state, now);
    return transition;
  }

  /**
   * Going active: addresses, routes, gratuitous ARP, services, notify. Going passive: the
   * reverse — notify, services, routes, addresses (BEHAVIOR.md, "Order").
   */
  private transitionActions(from: NodeState, to: NodeState, reason: string): Action[] {
    const vips = this.settings.vips;
    // A quiesced slave's services are stopped already: its release is the VIPs' alone, and any
    // transition ends the quiesce (in fault the services stay as they are: stopped).
    const quiesced = this.quiescedUntilMs !== null;
    this.quiescedUntilMs = null;
    const notify: Action = { kind: 'notify', event: 'transition', state: to };
    if (to === 'active') {
      // A master taking VIPs back from a slave that served has its data already (see
      // dataBeforeClaim): the claim itself waits for nothing.
      this.held = vips.map((v) => v.name);
      return [
        { kind: 'net', changes: vips.flatMap(claimChanges), reason: `${from} -> active` },
        { kind: 'garp', vips: vips.map((v) => v.name) },
        { kind: 'services', command: 'start', wait: false },
        notify,
      ];
    }
    // The notify script first, while the VIPs are still held: starting a process blocks the
    // agent for milliseconds (about 3 ms measured), and run after the release it would delay the
    // answer on which the peer claims, inside the phones' outage.
    const actions: Action[] = [notify];
    // The slave's PBX services run only while it serves; the master's keep running in
    // standby (as in the original XiVO design). Maintenance stops them on either node.
    const stopServices =
      to === 'maintenance' || (to === 'standby' && this.settings.role === 'slave' && !quiesced);
    if (stopServices) actions.push({ kind: 'services', command: 'stop', wait: true });
    // A planned handover sends the last astdb changes once the services are stopped.
    if (to === 'maintenance' && from === 'active' && this.settings.trustedLink)
      actions.push({ kind: 'final-sync' });
    // `fault` leaves the services as they are: this node cannot judge whether to stop them.
    if (from === 'active' || this.held.length) {
      actions.push({
        kind: 'net',
        changes: vips.flatMap(releaseChanges),
        reason: `${from} -> ${to} (${reason})`,
      });
      this.held = [];
    }
    // The master stepping down while it is still reachable (maintenance, a failed check, a
    // lost DATA link) tells the slave to take over now, rather than leaving the phones
    // without a PBX until the slave's detector notices, which it never would: the master
    // still answers ping.
    if (
      from === 'active' &&
      this.settings.role === 'master' &&
      (to === 'maintenance' || to === 'fault') &&
      this.settings.trustedLink
    ) {
      actions.push({ kind: 'peer-request', request: 'peer-takeover' });
    }
    return actions;
  }
}
