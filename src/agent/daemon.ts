// The composition root: builds every part of a running node through its constructor
// (buildNode, also used by the tests' PairWorld with fakes) and runs it as a daemon
// (runDaemon): it owns the configuration, handles reload and signals. Signal handlers
// only queue work: SIGTERM/SIGINT stop (releasing the VIPs unless configured or asked to
// keep them), SIGHUP reloads after validating the new file — an invalid file is refused
// and the running configuration kept.

import { followServingSlave } from './standby-pull';
import { ControlServer, ControlSocketError, type ControlHandler } from '../adapters/control-socket';
import { runCommand } from '../adapters/exec';
import { checkOwnDirOnDisk } from '../adapters/own-dir-security';
import { checkScript } from '../adapters/script-security';
import { IcmpProber } from '../adapters/icmp-prober';
import { Iproute2Net } from '../adapters/iproute2';
import { RawArp } from '../adapters/raw-arp';
import { LinkMonitor } from '../adapters/link-monitor';
import { StateStore } from '../adapters/state-store';
import { systemClock } from '../adapters/system-clock';
import { type MetricsServer, startMetricsServer } from '../adapters/metrics';
import { SystemdNotifier } from '../adapters/systemd-notify';
import type { Clock } from '../ports/clock';
import type { FactStore } from '../ports/history';
import type { Logger } from '../ports/log';
import type { PeerLink } from '../ports/peer-link';
import path from 'node:path';
import { Agent, type AgentDeps } from './agent';
import { controlHandler } from './control-handler';
import { identityFor, type Identity } from './identity';
import type { StatusAnswer } from './status';
import { PeerReceiver } from '../peer/receiver';
import { Replication } from '../peer/replication';
import { STREAMING_TICK_MS, StreamingDb } from '../peer/streaming-db';
import { SshPeerLink } from '../peer/ssh-link';
import { JobRunner } from '../jobs/runner';
import { JobSchedule } from '../jobs/schedule';
import { SpoolWatch } from '../jobs/spool-watch';
import { ReceivedCopies } from './received-copies';
import { formatProblem, printable, type NodeConfig, type PbxHaConfig } from '../config';
import { loadNode } from './load-node';
import type { StartWatcher } from '../adapters/inotify-watch';

/**
 * How long a failback's data step may take. While the slave still serves, a step that times out
 * is tried again later (nothing is lost by waiting); once it has released the VIPs, the master
 * claims them without the slave's last changes rather than leave the phones without a PBX longer.
 */
const FAILBACK_FETCH_TIMEOUT_MS = 120_000;
const FAILBACK_FINAL_FETCH_TIMEOUT_MS = 15_000;

function withTimeout<T>(clock: Clock, p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: { cancel(): void } | undefined;
  return Promise.race([
    p.finally(() => timer?.cancel()),
    new Promise<never>(
      (_, reject) => (timer = clock.after(ms, () => reject(new Error(`${what} took more than ${ms} ms`)))),
    ),
  ]);
}

/** Facts kept in memory when state.db cannot be opened (they are then lost at a restart). */
class MemoryFacts {
  private facts = new Map<string, string>();
  constructor(private log: Logger) {}
  fact(key: string): string | null {
    return this.facts.get(key) ?? null;
  }
  setFact(key: string, value: string): void {
    this.facts.set(key, value);
    this.log.log('warn', `remembering ${key} in memory only: state.db is not available`);
  }
}

/** The history is worth having, not worth a failover: without it the agent still runs. */
function openHistory(stateDir: string, log: Logger): StateStore | null {
  try {
    return new StateStore(path.join(stateDir, 'state.db'));
  } catch (e) {
    log.log(
      'error',
      `cannot open the history in ${stateDir}/state.db: ${(e as Error).message}; running without it`,
    );
    return null;
  }
}

/** The outside world of one node: real adapters in the daemon, fakes in the tests. */
export interface NodePorts extends Omit<AgentDeps, 'peer'> {
  facts: FactStore;
  /** The trusted link to the peer; it reads the configuration and the peer's address at each use. */
  link: (config: () => PbxHaConfig, identity: () => Identity) => PeerLink;
  /** The spool watcher's child (inotifywait unless a test gives another). */
  startSpoolWatcher?: StartWatcher;
}

/** How often the spool watcher checks that this node still sends copies (started or stopped accordingly). */
const SPOOL_FOLLOW_MS = 500;

/**
 * Runs the spool watcher while this node sends copies, on the spool roots configured now; stops
 * it when the node stops serving. Polled: a state read every half second costs nothing, and needs
 * no hook into the node machine. Returns the timer to cancel at stop.
 */
export function followServing(parts: NodeParts, config: () => PbxHaConfig, clock: Clock): { cancel(): void } {
  const follow = () => {
    const roots = config().replication.files.spool;
    if (parts.replication.sendsCopies() && roots.length > 0) parts.spool.watch(roots);
    else if (parts.spool.state().roots.length > 0) void parts.spool.stop();
  };
  follow();
  return clock.every(SPOOL_FOLLOW_MS, follow);
}

/** Every part of a running node, wired. */
export interface NodeParts {
  agent: Agent;
  replication: Replication;
  runner: JobRunner;
  schedule: JobSchedule;
  /** The change-driven spool copy; follows whether this node sends copies (followServing). */
  spool: SpoolWatch;
  /** The database in streaming mode (peer/streaming-db.ts): its tick runs every STREAMING_TICK_MS. */
  streaming: StreamingDb;
  receiver: PeerReceiver;
  /** What the control socket answers (administrator, ifupdown hook, the peer's relayed requests). */
  handle: ControlHandler;
  /** The answer to `status` and what the metrics read: the one place it is built. */
  statusAnswer(): StatusAnswer;
  /** Whether a stop releases the VIPs now ([agent] release_on_stop, or `pbx-ha keep-vips`). */
  releaseOnStop(): boolean;
}

/**
 * Builds a node's parts through their constructors. `config` is read at each use: the
 * daemon replaces it on a reload (and calls `agent.reload` with it).
 */
export function buildNode(config: () => PbxHaConfig, node: NodeConfig, ports: NodePorts): NodeParts {
  const { clock, log, history } = ports;
  let releaseOnStop = config().agent.releaseOnStop;
  let releaseOnStopOf = config();
  // Declared before the parts that read it; every use is a call made after construction.
  // eslint-disable-next-line prefer-const
  let agent: Agent;
  const identity = () => agent.identityNow();
  const link = ports.link(config, identity);
  // eslint-disable-next-line prefer-const
  let spool: SpoolWatch;
  const streaming = new StreamingDb({
    config,
    identity,
    state: () => agent.status().state,
    link,
    log,
    alert: (message) => agent.alert(message),
    record: (summary, ok) => agent.recordJob(summary, ok),
    facts: ports.facts,
    nowWallMs: () => clock.wallMs(),
  });
  const replication = new Replication({
    config,
    identity,
    state: () => agent.state(),
    facts: ports.facts,
    log,
    link,
    spoolChanges: () => spool.takeChanges(),
    alert: (message) => agent.alert(message),
    streamingHandback: (final, stillWanted) => streaming.handback(final, stillWanted),
  });
  agent = new Agent(config(), identityFor(config(), node), {
    clock,
    log,
    history,
    net: ports.net,
    prober: ports.prober,
    arp: ports.arp,
    run: ports.run,
    checkScript: ports.checkScript,
    peer: {
      request: (request, stillWanted) => replication.askPeer(request, stillWanted),
      // The last astdb copy, then (streaming mode) the clean stop that lets the slave promote.
      finalSync: async () => {
        try {
          return await replication.finalAstdb();
        } finally {
          await streaming.beforeHandover();
        }
      },
      failbackFetch: (final, stillWanted, slaveServed) =>
        withTimeout(
          clock,
          replication.fetchForFailback(final, stillWanted, () => agent.servicesNow('stop'), slaveServed),
          final ? FAILBACK_FINAL_FETCH_TIMEOUT_MS : FAILBACK_FETCH_TIMEOUT_MS,
          "bringing the slave's astdb across",
        ),
      releasedDataChanged: () => replication.releasedDataChanged(),
      lastQuiesce: () => replication.lastQuiesce(),
    },
    beforeServicesStart: () => streaming.beforeServicesStart(),
  });
  const runner = new JobRunner(
    replication.jobs(),
    clock,
    log,
    () => config().replication,
    (r) =>
      agent.recordJob(
        `${r.kind} copy (${r.trigger}) ${r.ok ? `done in ${Math.round(r.durationMs)} ms: ${r.detail}` : `FAILED: ${r.error}`}`,
        r.ok,
      ),
    (message) => agent.alert(message),
  );
  const schedule = new JobSchedule(runner, clock, log);
  spool = new SpoolWatch({
    clock,
    log,
    alert: (message) => agent.alert(message),
    copy: () => runner.run('files', 'change'),
    failing: () => (runner.state().find((j) => j.kind === 'files')?.consecutiveFailures ?? 0) > 0,
    startWatcher: ports.startSpoolWatcher,
  });
  const received = new ReceivedCopies(clock);
  const receiver = new PeerReceiver({
    config,
    identity,
    state: () => agent.state(),
    reason: () => agent.status().reason,
    log,
    recordJob: (s, ok) => agent.recordJob(s, ok),
    peerAsks: (request) => agent.command({ kind: 'peer-asks', request }),
    handback: () => agent.handback(),
    peerSeen: () => agent.notePeerLink(),
    alert: (message) => agent.alert(message),
    received: (copy) => received.note(copy),
    streaming,
  });
  const statusAnswer = (): StatusAnswer => ({
    ...agent.status(),
    jobs: runner.state(),
    nextRuns: schedule.nextRuns(),
    sends: replication.sendsCopies(),
    received: received.state(),
    spool: spool.state(),
    db: streaming.status(),
  });
  const handle = controlHandler({
    agent,
    receiver,
    runner,
    log,
    clock,
    replication,
    status: statusAnswer,
    setReleaseOnStop: (r) => (releaseOnStop = r),
  });
  return {
    agent,
    replication,
    runner,
    schedule,
    spool,
    streaming,
    receiver,
    handle,
    statusAnswer,
    releaseOnStop: () => {
      // A reload resets it to the file's value (as the daemon did before it owned this).
      if (releaseOnStopOf !== config()) {
        releaseOnStopOf = config();
        releaseOnStop = releaseOnStopOf.agent.releaseOnStop;
      }
      return releaseOnStop;
    },
  };
}

/**
 * Runs the agent of `file` until SIGTERM or SIGINT; resolves with the exit code. A configuration
 * that is not valid is reported and the agent does not start (EXIT_CONFIG).
 */
export async function runDaemon(
  file: string,
  nodeOverride: string | undefined,
  log: Logger,
  exitConfig: number,
): Promise<number> {
  const loaded = await loadNode(file, nodeOverride);
  if (!loaded.ok) {
    for (const p of loaded.problems) log.log('error', formatProblem(p));
    log.log('error', `${printable(file)}: the configuration is not valid; the agent does not start`);
    return exitConfig;
  }
  let config = loaded.config;
  // Named as pbx-ha's own (check-config), but only the disk says whose they are: one made first
  // by another user, or open to others, would let them plant links where root writes.
  for (const [key, dir] of [
    ['[agent] state_dir', config.agent.stateDir],
    ['[replication] exchange_dir', config.replication.exchangeDir],
    ['[replication] backup_dir', config.replication.backupDir],
  ] as const) {
    const verdict = checkOwnDirOnDisk(dir);
    if (!verdict.ok) {
      log.log(
        'error',
        `${printable(file)}: ${key} = ${printable(dir)}: ${verdict.reason}; the agent does not start`,
      );
      return exitConfig;
    }
  }
  const arp = new RawArp({ log });
  const history = openHistory(config.agent.stateDir, log);
  const net = new Iproute2Net({ onRestart: (why) => log.log('warn', why) });
  const parts = buildNode(() => config, loaded.selection.node, {
    clock: systemClock,
    log,
    history: history ?? undefined,
    net,
    prober: new IcmpProber(log),
    arp,
    run: runCommand,
    checkScript,
    facts: history ?? new MemoryFacts(log),
    link: (current, identity) => new SshPeerLink(current, () => identity().peerAddress),
  });
  const { agent, runner, schedule } = parts;
  const control = new ControlServer(config.agent.socketPath, parts.handle, log);
  const monitor = new LinkMonitor(() => agent.requestRead(), log);

  try {
    await control.start();
  } catch (e) {
    // Another agent answers on the socket, or its place is not pbx-ha's own: restarting would
    // not change that, so the exit is the configuration error's, which systemd does not retry.
    if (!(e instanceof ControlSocketError)) throw e;
    log.log('error', `${e.message}; the agent does not start`);
    history?.close();
    return exitConfig;
  }
  await agent.start();
  monitor.start();
  schedule.start(config.replication);
  const following = followServing(parts, () => config, systemClock);
  const pulling = followServingSlave(
    parts.replication,
    () => config,
    systemClock,
    log,
    () => agent.servicesNow('stop'),
  );
  const streamingTicks = systemClock.every(STREAMING_TICK_MS, () => void parts.streaming.tick());
  // Metrics are for watching the pair, not for running it: a port already taken is an alert,
  // never a reason for the agent not to serve.
  let metrics: MetricsServer | null = null;
  const startMetrics = async () => {
    await metrics?.close();
    metrics = null;
    if (!config.metrics.enabled) return;
    metrics = await startMetricsServer(config.metrics, { status: parts.statusAnswer }, log).catch(
      (e: Error) => {
        agent.alert(e.message);
        return null;
      },
    );
    if (metrics) log.log('info', `metrics on http://${metrics.address.host}:${metrics.address.port}/metrics`);
  };
  await startMetrics();
  // systemd (Type=notify): ready once the first reading of addresses and routes has been
  // reconciled, so that `systemctl start` returns with the VIPs already claimed or released.
  // Not awaited: the signal handlers below must be in place while the first reconcile runs.
  const notifier = new SystemdNotifier(process.env, log);
  void agent.settled().then(async () => {
    await notifier.ready(`${agent.status().state}`);
    notifier.startWatchdog();
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.log('info', `${signal} received: stopping`);
      void notifier.stopping();
      monitor.stop();
      schedule.stop();
      following.cancel();
      pulling.cancel();
      streamingTicks.cancel();
      void parts.spool.stop();
      runner.stop();
      void agent
        .stop(parts.releaseOnStop())
        .then(() => control.stop())
        .then(() => metrics?.close())
        .then(() => history?.close())
        .then(() => net.close())
        .then(() => resolve(0));
    };
    let reloading: Promise<void> = Promise.resolve();
    const reload = () => {
      reloading = reloading.then(async () => {
        log.log('info', `SIGHUP received: reloading ${file}`);
        const next = await loadNode(file, nodeOverride);
        if (!next.ok) {
          for (const p of next.problems) log.log('error', formatProblem(p));
          log.log('error', `${printable(file)}: reload refused, the running configuration is kept`);
          return;
        }
        if (next.config.agent.socketPath !== config.agent.socketPath) {
          log.log('warn', `[agent] socket changed: it takes effect at the next restart`);
        }
        config = next.config;
        await agent.reload(config, identityFor(config, next.selection.node));
        schedule.start(config.replication);
        await startMetrics();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reload);
  });
}
