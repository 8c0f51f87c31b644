// `pbx-ha agent`: runs the agent in the foreground (systemd's Type=simple). Signal handlers
// only queue work: SIGTERM/SIGINT stop (releasing the VIPs unless configured or asked to
// keep them), SIGHUP reloads after validating the new file — an invalid file is refused
// and the running configuration kept.

import { consoleLogger } from '../adapters/console-logger';
import { ControlServer } from '../adapters/control-socket';
import { runCommand } from '../adapters/exec';
import { checkScript } from '../adapters/script-security';
import { IcmpProber } from '../adapters/icmp-prober';
import { Iproute2Net } from '../adapters/iproute2';
import { RawArp } from '../adapters/raw-arp';
import { LinkMonitor } from '../adapters/link-monitor';
import { StateStore } from '../adapters/state-store';
import { systemClock } from '../adapters/system-clock';
import { type MetricsServer, startMetricsServer } from '../adapters/metrics';
import type { Logger } from '../ports/log';
import path from 'node:path';
import { Agent, identityFor } from '../agent/agent';
import { controlHandler } from '../agent/control-handler';
import { PeerReceiver } from '../agent/peer-receiver';
import { Replication } from '../jobs/replication';
import { JobRunner } from '../jobs/runner';
import { JobSchedule } from '../jobs/schedule';
import { formatProblem } from '../config';
import { loadNode } from './load-node';
import { SystemdNotifier } from '../adapters/systemd-notify';
import { CONFIG_OPTION, configFile, NODE_OPTION, parseOptions } from './options';
import { EXIT_CONFIG } from './usage';

/** How long a failback may wait for the slave's astdb before claiming the VIPs anyway. */
const BEFORE_FAILBACK_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms))),
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
    log.log('error', `cannot open the history in ${stateDir}/state.db: ${(e as Error).message}; running without it`);
    return null;
  }
}

export async function agentCommand(args: string[]): Promise<number> {
  const values = parseOptions('agent', args, { ...CONFIG_OPTION, ...NODE_OPTION, debug: { type: 'boolean' } });
  const file = configFile(values);
  const log = consoleLogger(values.debug ? 'debug' : 'info');
  const loaded = await loadNode(file, values.node);
  if (!loaded.ok) {
    for (const p of loaded.problems) log.log('error', formatProblem(p));
    log.log('error', `${file}: the configuration is not valid; the agent does not start`);
    return EXIT_CONFIG;
  }
  let config = loaded.config;
  let releaseOnStop = config.agent.releaseOnStop;
  const arp = new RawArp({ log });
  const history = openHistory(config.agent.stateDir, log);
  const agent = new Agent(config, identityFor(config, loaded.selection.node), {
    clock: systemClock,
    log,
    history: history ?? undefined,
    net: new Iproute2Net(),
    prober: new IcmpProber(log),
    arp,
    run: runCommand,
    checkScript,
  });

  const identity = () => agent.identityNow();
  const facts = history ?? new MemoryFacts(log);
  const replication = new Replication({ config: () => config, identity, state: () => agent.status().state, facts, log });
  const runner = new JobRunner(
    replication.jobs(),
    systemClock,
    log,
    () => config.replication,
    (r) => agent.recordJob(`${r.kind} copy (${r.trigger}) ${r.ok ? `done in ${Math.round(r.durationMs)} ms: ${r.detail}` : `FAILED: ${r.error}`}`, r.ok),
    (message) => agent.alert(message),
  );
  const schedule = new JobSchedule(runner, systemClock, log);
  const receiver = new PeerReceiver({
    config: () => config,
    identity,
    state: () => agent.status().state,
    reason: () => agent.status().reason,
    log,
    recordJob: (s, ok) => agent.recordJob(s, ok),
    peerAsks: (request) => agent.command({ kind: 'peer-asks', request }),
    peerSeen: () => agent.notePeerLink(),
  });
  agent.setPeerRequester((request, stillWanted) => replication.askPeer(request, stillWanted));
  agent.setFinalSync(() => replication.finalAstdb());
  agent.setBeforeFailback(() => withTimeout(replication.pullAstdbIfNewer(() => agent.servicesNow('stop')), BEFORE_FAILBACK_TIMEOUT_MS, 'fetching the slave\'s astdb'));
  const handle = controlHandler({ agent, receiver, runner, schedule, log, replication, setReleaseOnStop: (r) => (releaseOnStop = r) });
  const control = new ControlServer(config.agent.socketPath, handle, log);
  const monitor = new LinkMonitor(() => agent.requestRead(), log);

  await control.start();
  await agent.start();
  monitor.start();
  schedule.start(config.replication);
  const statusAnswer = () => ({ ...agent.status(), jobs: runner.state(), nextRuns: schedule.nextRuns() });
  // Metrics are for watching the pair, not for running it: a port already taken is an alert,
  // never a reason for the agent not to serve.
  let metrics: MetricsServer | null = null;
  const startMetrics = async () => {
    await metrics?.close();
    metrics = null;
    if (!config.metrics.enabled) return;
    metrics = await startMetricsServer(config.metrics, { status: statusAnswer }, log).catch((e: Error) => {
      agent.alert(e.message);
      return null;
    });
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
      runner.stop();
      void agent
        .stop(releaseOnStop)
        .then(() => control.stop())
        .then(() => metrics?.close())
        .then(() => history?.close())
        .then(() => resolve(0));
    };
    let reloading: Promise<void> = Promise.resolve();
    const reload = () => {
      reloading = reloading.then(async () => {
        log.log('info', `SIGHUP received: reloading ${file}`);
        const next = await loadNode(file, values.node);
        if (!next.ok) {
          for (const p of next.problems) log.log('error', formatProblem(p));
          log.log('error', `${file}: reload refused, the running configuration is kept`);
          return;
        }
        if (next.config.agent.socketPath !== config.agent.socketPath) {
          log.log('warn', `[agent] socket changed: it takes effect at the next restart`);
        }
        config = next.config;
        releaseOnStop = config.agent.releaseOnStop;
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
