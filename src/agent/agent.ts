// The agent's event loop: observations come in as events, one at a time through a single
// queue (one writer), the NodeMachine decides, the Executor applies. Timers and I/O are
// injected so that the whole loop can run against fakes.

import type { PbxHaConfig, TrackCheckConfig } from '../config/types';
import type { MachineEvent, MachineSettings, PeerAsk, ProbeTarget } from '../domain/node-machine';
import type { NodeState } from '../domain/states';
import type { PeerRequestName } from '../domain/actions';
import { NodeMachine } from '../domain/node-machine';
import { releaseChanges } from '../domain/reconcile';
import type { Clock, Timer } from '../ports/clock';
import type { CommandRunner } from '../ports/commands';
import type { HistorySink } from '../ports/history';
import type { Logger } from '../ports/log';
import type { PeerHooks, PeerRequester } from '../ports/peer-requests';
import type { ArpPort, NetPort, NetReading, Prober } from '../ports/network';
import type { ScriptVerdict } from '../adapters/script-security';
import { Executor } from './executor';
import { GarpScheduler } from './garp-scheduler';
import { StallMeter, stallMarginMs } from './stall-meter';
import type { AgentStatus, TransitionRecord } from './status';
import { buildStatus, transitionRecord } from './status';
import { machineSettingsFor } from './machine-settings';
import type { Identity } from './identity';

export { identityFor, type Identity } from './identity';
export type { HistorySink, PeerRequester };

export interface AgentDeps {
  history?: HistorySink;
  clock: Clock;
  log: Logger;
  net: NetPort;
  prober: Prober;
  arp: ArpPort;
  run: CommandRunner;
  /** Script checks of the configured programs (script-security.ts); absent where programs are fakes. */
  checkScript?: (program: string) => ScriptVerdict;
  /** The trusted link's side of the peer actions; absent: no trusted link (requests fail at once). */
  peer?: PeerHooks;
  /** Run before each services start (streaming mode's promotion): see ExecutorDeps. */
  beforeServicesStart?: () => Promise<void>;
}

/** How many transitions `status` shows. */
const TRANSITIONS_KEPT = 20;
/** How long an ARP conflict check waits for another holder's answer. */
const CONFLICT_CHECK_TIMEOUT_MS = 500;
/** Link-monitor events come in bursts (one per address and flag); read once per burst. */
const LINK_EVENT_DEBOUNCE_MS = 20;

export class Agent {
  private machine: NodeMachine;
  private queue: Promise<void> = Promise.resolve();
  private timers: Timer[] = [];
  private deadline: Timer | null = null;
  private stalls: { count: number; worstMs: number; loggedAtMs: number | null } = {
    count: 0,
    worstMs: 0,
    loggedAtMs: null,
  };
  private stallMeter = new StallMeter(stallMarginMs(1000));
  /** When the next probe round is due (its lateness is the first sign of a stall). */
  private roundDueMs = 0;
  private readTimer: Timer | null = null;
  /**
   * Bumped when a read of addresses and routes starts and when a change of them ends: a reading
   * is used only if neither happened since it started. Otherwise it may show the system as it
   * was before a claim or a release, or be older than a reading already used (two reads can
   * finish out of order), and the node would decide, for a moment, on a state that is gone.
   */
  private netEpoch = 0;
  /** Peer requests that failed in a row, per request. */
  private peerFailures = new Map<PeerRequestName, number>();
  private transitions: TransitionRecord[] = [];
  private executor: Executor;
  private garp: GarpScheduler;
  private stopping = false;
  private vipProbesRunning = new Set<string>();
  private lastReadError: string | null = null;
  private alerted = new Set<string>();
  private checksInFlight = new Set<string>();

  constructor(
    private config: PbxHaConfig,
    private identity: Identity,
    private deps: AgentDeps,
  ) {
    this.garp = new GarpScheduler(
      deps.arp,
      deps.clock,
      deps.log,
      () => this.config,
      (vip) => this.machine.view().held.includes(vip),
    );
    this.executor = new Executor({
      net: {
        read: () => deps.net.read(),
        apply: async (changes) => {
          try {
            await deps.net.apply(changes);
          } finally {
            this.netEpoch++;
          }
        },
      },
      garp: this.garp,
      run: deps.run,
      log: deps.log,
      config: () => this.config,
      identity: () => this.identity,
      state: () => this.machine.currentState(),
      failbackFetch: (id, final, slaveServed) => this.failbackFetch(id, final, slaveServed),
      finalSync: () => (deps.peer ? deps.peer.finalSync() : Promise.resolve('no replication')),
      peerRequest: (request) => this.askPeer(request),
      // At the moments when the peer may have taken the VIPs, the check listens no longer than a
      // probe does: a slave beside a master that holds them yields within one detection interval.
      conflictCheck: () =>
        this.conflictCheck(Math.min(CONFLICT_CHECK_TIMEOUT_MS, this.config.health.timeoutMs)),
      onAlert: (message) =>
        this.remember({ atWallMs: deps.clock.wallMs(), kind: 'alert', summary: message, ok: false }),
      checkScript: deps.checkScript,
      beforeServicesStart: deps.beforeServicesStart,
    });
    this.machine = new NodeMachine(this.settings([]), deps.clock.nowMs());
  }

  /** Reads the system once, then starts probing, reconciling and conflict checks. */
  async start(): Promise<void> {
    const first = await this.deps.net.read();
    // Starts the ARP sender and learns the interfaces' MACs now, not during a takeover.
    await this.deps.arp.prepare([...new Set(this.config.vips.map((v) => v.interface))]).catch((e: Error) => {
      this.executor.alert(`ARP sender not ready: ${e.message}; it is retried at the first use`);
    });
    this.machine = new NodeMachine(this.settings(this.ownInterfaces(first)), this.deps.clock.nowMs());
    const { node, role, peer } = this.identity;
    this.deps.log.log('info', `pbx-ha agent started: node ${node}, role ${role}, peer ${peer}, state init`);
    this.enqueue({
      kind: 'net-read',
      nowMs: this.deps.clock.nowMs(),
      actual: first.actual,
      carrier: first.carrier,
      macs: first.macs,
    });
    this.startLoops();
  }

  /** Resolves once the events queued so far are handled: after start(), the first reconcile. */
  settled(): Promise<void> {
    return this.queue;
  }

  /**
   * Stops every loop, then does with the VIPs what the stop plan says (domain/stop-plan.ts):
   * hands them over to the peer, releases them, or keeps them.
   */
  async stop(release: boolean): Promise<void> {
    this.stopping = true;
    this.stopLoops();
    await this.queue;
    const plan = this.machine.stopPlan(release);
    let outcome: string;
    switch (plan.kind) {
      case 'nothing':
        outcome = 'no VIP held';
        break;
      case 'release':
        await this.executor.run(this.machine.releaseOnStop());
        outcome = `VIPs released (${plan.why})`;
        break;
      case 'keep':
        outcome = `VIPs kept as they are: ${plan.why}`;
        break;
      case 'hand-over': {
        const { peer } = this.identity;
        const failure = await handOver(
          this.deps.peer?.request ?? null,
          this.deps.clock,
          STOP_HANDOVER_TIMEOUT_MS,
        );
        if (failure === null) {
          this.deps.log.log('info', `stopping: handed over to ${peer}, which is now active`);
          await this.executor.run(this.machine.releaseOnStop());
          outcome = `VIPs released, handed over to ${peer}`;
        } else {
          // Released, they would be nobody's: the slave hears this host and never takes over.
          this.executor.alert(
            `stopping: ${peer} could not take over (${failure}); the VIPs are kept on ${this.identity.node}, which no agent watches until pbx-ha starts again`,
          );
          outcome = 'VIPs kept as they are: nobody could take them over';
        }
        break;
      }
    }
    await this.executor.settle();
    this.deps.prober.close();
    await this.deps.arp.close();
    this.deps.log.log('info', `pbx-ha agent stopped; ${outcome}`);
  }

  /** Takes a validated new configuration (SIGHUP). VIPs dropped from it are released. */
  async reload(config: PbxHaConfig, identity: Identity): Promise<void> {
    await this.enqueueWork(async () => {
      const kept = new Set(config.vips.map((v) => `${v.address}/${v.prefixLength}@${v.interface}`));
      const dropped = this.config.vips.filter(
        (v) => !kept.has(`${v.address}/${v.prefixLength}@${v.interface}`),
      );
      if (dropped.length) {
        await this.executor.run([
          {
            kind: 'net',
            changes: dropped.flatMap(releaseChanges),
            reason: 'VIPs removed from the configuration',
          },
        ]);
      }
      this.config = config;
      this.identity = identity;
      const reading = await this.deps.net.read();
      // A fresh machine starts in `init`, which touches nothing: a master that holds the
      // VIPs keeps them, a slave that holds them keeps them until its detector decides.
      this.machine = new NodeMachine(this.settings(this.ownInterfaces(reading)), this.deps.clock.nowMs());
      this.stopLoops();
      this.startLoops();
      this.deps.log.log('info', `configuration reloaded from ${config.file}`);
      await this.process({
        kind: 'net-read',
        nowMs: this.deps.clock.nowMs(),
        actual: reading.actual,
        carrier: reading.carrier,
        macs: reading.macs,
      });
    });
  }

  /** Re-reads links and addresses now (ifupdown hook, `ip monitor` events). */
  requestRead(): void {
    if (this.readTimer || this.stopping) return;
    this.readTimer = this.deps.clock.after(LINK_EVENT_DEBOUNCE_MS, () => {
      this.readTimer = null;
      void this.readNet();
    });
  }

  /** Who this node is now (it may change with a reload). */
  identityNow(): Identity {
    return this.identity;
  }

  /** Runs the services command now and waits for it. */
  servicesNow(command: 'start' | 'stop'): Promise<void> {
    return this.executor.servicesNow(command);
  }

  /**
   * An administrator's command or the peer's request, handled in the event queue like any
   * event; resolves once its actions ran, with the state it led to.
   */
  async command(
    event: { kind: 'admin'; command: 'failover' | 'failback' } | { kind: 'peer-asks'; request: PeerAsk },
  ): Promise<NodeState> {
    // Stamped when it arrives, like every other event: events wait in the queue in the order of
    // their times (behind a slow services stop, say), and a stamp taken when its turn comes would
    // be later than those of the probe results still waiting, making the detectors believe that
    // nothing answered since the queue stopped moving.
    const nowMs = this.deps.clock.nowMs();
    await this.enqueueWork(() => this.process({ ...event, nowMs }));
    return this.machine.currentState();
  }

  /**
   * Slave, two-phase failback: whether it is quiesced now, and whether the last release it
   * honoured found it quiesced (its data unchanged since its quiesce answer).
   */
  handback(): { quiesced: boolean; releasedQuiesced: boolean } {
    const v = this.machine.view();
    return { quiesced: v.quiesced, releasedQuiesced: v.releasedQuiesced };
  }

  /** The peer reached this node over the trusted link (see the `peer-link` event). */
  notePeerLink(): void {
    this.enqueue({ kind: 'peer-link', nowMs: this.deps.clock.nowMs() });
  }

  /** Raises an alert (log, history, notify script) on behalf of other parts of the agent. */
  alert(message: string): void {
    this.executor.alert(message);
  }

  /** Records a finished copy in the history. */
  recordJob(summary: string, ok: boolean): void {
    this.remember({ atWallMs: this.deps.clock.wallMs(), kind: 'job', summary, ok });
  }

  /** The node's state now (cheap: status() builds the whole answer to `pbx-ha status`). */
  state(): NodeState {
    return this.machine.currentState();
  }

  status(): AgentStatus {
    return buildStatus(this.deps.clock, this.config, this.identity, this.machine.view(), this.transitions);
  }

  // --- loops -------------------------------------------------------------------------

  private settings(ownInterfaces: string[]): MachineSettings {
    return machineSettingsFor(this.config, this.identity, ownInterfaces);
  }

  /** The interface carrying this node's own address: its carrier matters too. */
  private ownInterfaces(reading: NetReading): string[] {
    return reading.actual.addresses
      .filter((a) => a.address === this.identity.ownAddress)
      .map((a) => a.ifname);
  }

  private startLoops(): void {
    const { clock } = this.deps;
    const interval = this.config.health.intervalMs;
    this.stallMeter = new StallMeter(stallMarginMs(interval));
    this.roundDueMs = clock.nowMs() + interval;
    this.timers.push(
      clock.every(interval, () => {
        const nowMs = clock.nowMs();
        this.noticeLateness(this.roundDueMs, nowMs, 'the probe round');
        // Timers are rescheduled from when they ran, not from when they were due.
        this.roundDueMs = nowMs + interval;
        this.probeRound();
      }),
    );
    this.timers.push(clock.every(this.config.agent.reconcileIntervalMs, () => void this.readNet()));
    this.timers.push(clock.every(this.config.agent.reconcileIntervalMs, () => this.conflictCheck()));
    for (const check of this.config.checks)
      this.timers.push(clock.every(check.intervalMs, () => void this.runCheck(check)));
    this.probeRound();
  }

  private stopLoops(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.deadline?.cancel();
    this.deadline = null;
    this.readTimer?.cancel();
    this.readTimer = null;
    this.garp.stop();
  }

  private probeRound(): void {
    if (this.stopping) return;
    for (const target of this.machine.probeTargets()) void this.probe(target);
  }

  private async probe(target: ProbeTarget): Promise<void> {
    const { clock, prober, arp } = this.deps;
    const timeoutMs = this.config.health.timeoutMs;
    const sentAtMs = clock.nowMs();
    let answered: boolean;
    switch (target.kind) {
      case 'peer':
        answered = (await prober.ping(this.identity.peerAddress, timeoutMs)).answered;
        break;
      case 'track':
        answered = (await prober.ping(target.address, timeoutMs)).answered;
        break;
      case 'vip': {
        const vip = this.config.vips.find((v) => v.name === target.name);
        if (!vip || this.vipProbesRunning.has(vip.name)) return;
        this.vipProbesRunning.add(vip.name);
        try {
          // "Free" means no ICMP and no ARP answer (BEHAVIOR.md, "One holder"): a holder
          // that filters ICMP still answers ARP.
          const [icmp, macs] = await Promise.all([
            prober.ping(vip.address, timeoutMs),
            arp.whoHas(vip.address, vip.interface, timeoutMs).catch((e: Error) => {
              // Without ARP the check falls back on ICMP alone rather than never claiming:
              // a master that cannot check would otherwise leave the phones with nobody.
              this.alertOnce(
                `arp-${vip.name}`,
                `ARP check of ${vip.address} on ${vip.interface} failed, relying on ICMP alone: ${e.message}`,
              );
              return [];
            }),
          ]);
          answered = icmp.answered || macs.length > 0;
        } finally {
          this.vipProbesRunning.delete(vip.name);
        }
        break;
      }
    }
    const nowMs = clock.nowMs();
    if (!answered) {
      // A timeout that fired late may have beaten an answer still waiting to be read.
      const blind = this.noticeLateness(
        sentAtMs + timeoutMs,
        nowMs,
        `the timeout of a probe of ${probeName(target)}`,
      );
      // "Nobody answers on the VIP" is what lets a master claim: never on a late timeout.
      if (blind && target.kind === 'vip') return;
    }
    this.enqueue({ kind: 'probe-result', target, sentAtMs, nowMs, answered });
  }

  /**
   * A timer due at `dueMs` fires at `nowMs`: when late, this agent did not run meanwhile (see
   * StallMeter), and the machine is told (a `stall`), so that this time is not taken for the
   * peer's or a gateway's silence. Logged at most once a minute. Returns whether it was late.
   */
  private noticeLateness(dueMs: number, nowMs: number, what: string): boolean {
    if (nowMs - dueMs <= this.stallMeter.marginMs) return false;
    const lateMs = this.stallMeter.fired(dueMs, nowMs);
    if (lateMs === 0) return true;
    this.enqueue({ kind: 'stall', nowMs, blindMs: lateMs });
    this.stalls.count++;
    this.stalls.worstMs = Math.max(this.stalls.worstMs, lateMs);
    if (this.stalls.loggedAtMs === null || nowMs - this.stalls.loggedAtMs >= STALL_LOG_EVERY_MS) {
      this.deps.log.log(
        'warn',
        `the agent did not run for ${Math.round(lateMs)} ms (${what} fired late: CPU starved or blocked); that time is not counted as silence` +
          (this.stalls.count > 1
            ? ` (${this.stalls.count} stalls since the last report, worst ${Math.round(this.stalls.worstMs)} ms)`
            : ''),
      );
      this.stalls = { count: 0, worstMs: 0, loggedAtMs: nowMs };
    }
    return true;
  }

  /** History must never stop the agent: a full disk is reported, the failover goes on. */
  private remember(event: Parameters<HistorySink['add']>[0]): void {
    try {
      this.deps.history?.add(event);
    } catch (e) {
      this.alertOnce('history', `cannot write the history: ${(e as Error).message}`);
    }
  }

  /** Raises an alert the first time a given problem is seen, not at every probe. */
  private alertOnce(key: string, message: string): void {
    if (this.alerted.has(key)) return;
    this.alerted.add(key);
    this.executor.alert(message);
  }

  /** Runs one tracked check if checks count now (see NodeMachine.checksRunning). */
  private async runCheck(check: TrackCheckConfig): Promise<void> {
    if (this.stopping || !this.machine.checksRunning() || this.checksInFlight.has(check.name)) return;
    this.checksInFlight.add(check.name);
    let ok = true;
    let problem: string | null = null;
    try {
      // Through the executor: an insecure check script is never run, and is alerted once.
      await this.executor.runConfigured(
        check.command,
        { timeoutMs: check.timeoutMs },
        `tracked check ${check.name}`,
      );
    } catch (e) {
      ok = false;
      problem = (e as Error).message.slice(0, 300);
    } finally {
      this.checksInFlight.delete(check.name);
    }
    this.enqueue({ kind: 'check-result', nowMs: this.deps.clock.nowMs(), name: check.name, ok, problem });
  }

  /** Sends a request to the peer; its answer comes back as an event. */
  private askPeer(request: PeerRequestName): void {
    const send = this.deps.peer?.request;
    if (!send) {
      this.deps.log.log('warn', `no trusted link to ${this.identity.peer}: cannot send ${request}`);
      this.enqueue({ kind: 'peer-answered', nowMs: this.deps.clock.nowMs(), request, ok: false });
      return;
    }
    void send(request, () => this.machine.stillWants(request))
      .catch((e: Error) => {
        // A takeover is asked once, and the phones may be without a PBX until the slave takes
        // over by itself: alerted at once. A release is asked again, and one failure is common
        // and harmless (the first connection just after a cable comes back): a warning, and an
        // alert when it keeps failing.
        const failures = (this.peerFailures.get(request) ?? 0) + 1;
        this.peerFailures.set(request, failures);
        const message = `${request} to ${this.identity.peer} failed: ${e.message}`;
        const alertAfter =
          request === 'peer-takeover' || request === 'peer-resume' ? 1 : RELEASE_FAILURES_ALERTED;
        if (failures >= alertAfter)
          this.alertOnce(
            `peer-${request}`,
            failures > 1 ? `${message} (${failures} times in a row)` : message,
          );
        else this.deps.log.log('warn', `${message}; asked again`);
        return false;
      })
      .then((ok) => {
        if (ok) {
          this.alerted.delete(`peer-${request}`);
          this.peerFailures.delete(request);
        }
        const handback = request === 'peer-release' || request === 'peer-quiesce';
        const slaveDataChanged =
          ok && handback ? (this.deps.peer?.releasedDataChanged() ?? false) : undefined;
        const quiesce = request === 'peer-quiesce' ? (this.deps.peer?.lastQuiesce?.() ?? null) : null;
        this.enqueue({
          kind: 'peer-answered',
          nowMs: this.deps.clock.nowMs(),
          request,
          ok,
          slaveDataChanged,
          ...(quiesce ? { quiesced: ok && quiesce.quiesced, unsupported: quiesce.unsupported } : {}),
        });
      });
  }

  /**
   * Runs a failback's data step outside the event queue; its end is a `failback-data` event. The
   * job asks the machine before it stops services or replaces the astdb: a failback abandoned
   * meanwhile (a fault, a claim after the slave fell silent) touches nothing.
   */
  private failbackFetch(id: number, final: boolean, slaveServed: boolean): void {
    const fetch = this.deps.peer?.failbackFetch;
    const started = this.deps.clock.nowMs();
    const job = fetch
      ? fetch(final, () => !this.stopping && this.machine.failbackFetchWanted(id), slaveServed)
      : Promise.resolve('no trusted link: nothing to fetch');
    void job
      .then(
        (detail) => ({ ok: true, detail }),
        (e: Error) => ({ ok: false, detail: e.message }),
      )
      .then(({ ok, detail }) => {
        const took = Math.round(this.deps.clock.nowMs() - started);
        this.deps.log.log(
          ok ? 'info' : 'warn',
          `failback data${final ? " (the slave's services stopped)" : ''}: ${ok ? '' : 'FAILED: '}${detail} (${took} ms)`,
        );
        this.enqueue({ kind: 'failback-data', nowMs: this.deps.clock.nowMs(), id, ok, detail });
      });
  }

  private async readNet(): Promise<void> {
    if (this.stopping) return;
    const epoch = ++this.netEpoch;
    try {
      const r = await this.deps.net.read();
      this.lastReadError = null;
      const event: MachineEvent = {
        kind: 'net-read',
        nowMs: this.deps.clock.nowMs(),
        actual: r.actual,
        carrier: r.carrier,
        macs: r.macs,
      };
      // Checked when its turn in the queue comes: the events before it may change addresses.
      void this.enqueueWork(async () => {
        if (epoch === this.netEpoch) return this.process(event);
        this.requestRead(); // stale: read again (a newer read in flight is not held up by this)
      });
    } catch (e) {
      const message = (e as Error).message;
      if (message !== this.lastReadError) this.executor.alert(`cannot read addresses and links: ${message}`);
      this.lastReadError = message;
    }
  }

  /** While active, asks on each link whether another MAC answers for our VIPs (listening `timeoutMs`). */
  private conflictCheck(timeoutMs = CONFLICT_CHECK_TIMEOUT_MS): void {
    if (this.stopping || this.machine.currentState() !== 'active') return;
    for (const vip of this.config.vips) {
      this.deps.arp
        .whoHas(vip.address, vip.interface, timeoutMs)
        .then((macs) => {
          if (macs.length)
            this.enqueue({ kind: 'conflict', nowMs: this.deps.clock.nowMs(), vip: vip.name, macs });
        })
        .catch((e: Error) =>
          this.deps.log.log('warn', `ARP conflict check of ${vip.address} failed: ${e.message}`),
        );
    }
  }

  // --- the queue -----------------------------------------------------------------------

  private enqueue(event: MachineEvent): void {
    void this.enqueueWork(() => this.process(event));
  }

  private enqueueWork(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work).catch((e: Error) => {
      this.deps.log.log('error', `internal error while handling an event: ${e.stack ?? e.message}`);
    });
    this.queue = next;
    return next;
  }

  private async process(event: MachineEvent): Promise<void> {
    if (this.stopping) return;
    const { actions, transition } = this.machine.handle(event);
    let history: Parameters<HistorySink['add']>[0] | null = null;
    if (transition) {
      const record = transitionRecord(this.deps.clock, transition);
      this.transitions = [record, ...this.transitions].slice(0, TRANSITIONS_KEPT);
      const summary = `${this.identity.node}: ${transition.from} -> ${transition.to} (${transition.reason})`;
      this.deps.log.log('info', summary);
      history = {
        atWallMs: this.deps.clock.wallMs(),
        kind: 'transition',
        summary,
        ok: transition.to !== 'fault',
      };
    }
    // Going active, the history row (an SQLite commit, a disk sync: milliseconds) is written once
    // the claim is made and announced, not between the decision and the first gratuitous ARP; it
    // keeps the decision's time. Otherwise it is written first, as the actions may take long.
    const claiming = transition?.to === 'active';
    if (history && !claiming) this.remember(history);
    await this.executor.run(actions);
    if (history && claiming) this.remember(history);
    this.garp.setActive(this.machine.currentState() === 'active');
    this.armDeadline();
    // A new state may need fresh observations (a master back from fault asks at once whether
    // anybody holds the VIPs) rather than waiting for the next round: one interval less of outage.
    if (transition) this.probeRound();
  }

  /** One timer at the next detection deadline, so a failover happens exactly then. */
  private armDeadline(): void {
    this.deadline?.cancel();
    this.deadline = null;
    const at = this.machine.nextDeadlineMs();
    if (at === null || this.stopping) return;
    const { clock } = this.deps;
    const delay = Math.max(0, at - clock.nowMs()) + 1;
    const dueMs = clock.nowMs() + delay;
    this.deadline = clock.after(delay, () => {
      const nowMs = clock.nowMs();
      // Before the tick: a deadline reached only because this agent did not run must not
      // count as the peer's silence.
      this.noticeLateness(dueMs, nowMs, 'a detection deadline');
      this.enqueue({ kind: 'tick', nowMs });
    });
  }
}

const STALL_LOG_EVERY_MS = 60_000;
/** How long a stopping agent waits for its peer to take over (systemd waits 90 s by default). */
const STOP_HANDOVER_TIMEOUT_MS = 20_000;

/** Asks the peer to take over now; null when it did, else why not. */
async function handOver(send: PeerRequester | null, clock: Clock, timeoutMs: number): Promise<string | null> {
  if (!send) return 'no trusted link';
  let timer: Timer | undefined;
  try {
    const done = await Promise.race([
      send('peer-takeover', () => true),
      new Promise<never>((_, reject) => {
        timer = clock.after(timeoutMs, () => reject(new Error(`no answer within ${timeoutMs} ms`)));
      }),
    ]);
    return done ? null : 'the request was not sent';
  } catch (e) {
    return (e as Error).message;
  } finally {
    timer?.cancel();
  }
}
/** A release request failing this many times in a row raises an alert (before: warnings). */
const RELEASE_FAILURES_ALERTED = 3;

function probeName(target: ProbeTarget): string {
  switch (target.kind) {
    case 'peer':
      return 'the peer';
    case 'track':
      return target.address;
    case 'vip':
      return `VIP ${target.name}`;
  }
}
