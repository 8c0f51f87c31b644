// [metrics]: a Prometheus endpoint (GET /metrics) built with prom-client on its own Registry.
//
//   startMetricsServer(settings, source, log): Promise<MetricsServer>
//
// Every value is read from `source.status()` when Prometheus scrapes (prom-client `collect()`
// callbacks), never on a timer: an idle agent does no work. The status is read once per scrape and
// shared by every metric. Counters (transitions, job runs) are fed from what changed since the
// previous scrape, so they only ever grow; events that came and went between two scrapes (more transitions than the status keeps, two runs of one job) are counted as well as the
// status allows, never twice. The peer's round trip is the last one, a gauge: a histogram fed once
// per scrape would count scrapes, not probes. Times are Unix timestamps, not ages.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { MetricsConfig } from '../config/types';
import { NODE_STATES } from '../domain/states';
import type { Logger } from '../ports/log';
import type { JobState, StatusAnswer } from '../ports/status';

/** What the agent provides: the same answer as `pbx-ha status --json`. */
export interface MetricsSource {
  status(): StatusAnswer;
  /** Wall-clock milliseconds, for "seconds since"; Date.now() when absent (tests set it). */
  wallMs?(): number;
}

export interface MetricsServer {
  /** Stops listening and drops open connections; safe to call twice. */
  close(): Promise<void>;
  /** Where it really listens (the port chosen by the system when settings.port was 0). */
  address: { host: string; port: number };
}

const PREFIX = 'pbx_ha_';

/** Milliseconds to seconds, rounded to the microsecond (0.42 ms gives 0.00042, not 0.00041999999999999996). */
const seconds = (ms: number) => Math.round(ms * 1000) / 1e6;

/** `host:port`, with IPv6 in brackets, for messages. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Counts of each key, to find records that are new since the previous scrape. */
function tally(keys: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** The registry and its metrics, fed from `source`. Exported for tests that need no HTTP. */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  const registers = [registry];

  // One status per scrape: prom-client calls every metric's collect() synchronously from
  // registry.metrics(), before the first await, so the snapshot is dropped at the next microtask.
  let snapshot: StatusAnswer | null = null;
  const status = (): StatusAnswer => {
    if (snapshot === null) {
      snapshot = source.status();
      queueMicrotask(() => (snapshot = null));
    }
    return snapshot;
  };

  new Gauge({
    name: `${PREFIX}state`,
    help: 'Current state of this node: 1 for the state it is in, 0 for the others (init, active, standby, fault, maintenance).',
    labelNames: ['node', 'role', 'state'],
    registers,
    collect() {
      const s = status();
      this.reset();
      for (const state of NODE_STATES)
        this.set({ node: s.node, role: s.role, state }, state === s.state ? 1 : 0);
    },
  });

  new Gauge({
    name: `${PREFIX}state_change_timestamp_seconds`,
    help: 'When this node entered its current state (its last transition, or the agent start), in seconds since the Unix epoch.',
    registers,
    collect() {
      this.reset();
      const since = Date.parse(status().since);
      if (Number.isFinite(since)) this.set(since / 1000);
    },
  });

  // Transitions are recognised by their timestamp (with from, to and reason, to tell apart two
  // in the same millisecond): those not in the previous scrape's list are new.
  let seenTransitions = new Map<string, number>();
  new Counter({
    name: `${PREFIX}transitions_total`,
    help: 'State transitions of this node since the agent started, by the state entered.',
    labelNames: ['to'],
    registers,
    collect() {
      const now = tally(status().transitions.map((t) => `${t.at} ${t.from} ${t.to} ${t.reason}`));
      for (const state of NODE_STATES) this.inc({ to: state }, 0);
      for (const t of status().transitions) {
        const key = `${t.at} ${t.from} ${t.to} ${t.reason}`;
        const seen = seenTransitions.get(key) ?? 0;
        if (seen < now.get(key)!) {
          this.inc({ to: t.to });
          seenTransitions.set(key, seen + 1);
        }
      }
      seenTransitions = now;
    },
  });

  new Gauge({
    name: `${PREFIX}peer_reachable`,
    help: 'Whether the peer answers its ICMP probes: 1 when up, 0 when down or not known yet.',
    labelNames: ['peer'],
    registers,
    collect() {
      const p = status().peer;
      this.reset();
      this.set({ peer: p.name }, p.reachability === 'up' ? 1 : 0);
    },
  });

  new Gauge({
    name: `${PREFIX}peer_last_rtt_seconds`,
    help: 'Round-trip time of the last answered probe to the peer, in seconds (absent until the peer has answered).',
    labelNames: ['peer'],
    registers,
    collect() {
      const p = status().peer;
      this.reset();
      if (p.rttMs !== null) this.set({ peer: p.name }, seconds(p.rttMs));
    },
  });

  new Gauge({
    name: `${PREFIX}vip_held`,
    help: 'Whether this node holds the virtual IP (by its name, address and interface): 1 held here, 0 not held here.',
    labelNames: ['vip', 'address', 'interface'],
    registers,
    collect() {
      this.reset();
      for (const v of status().vips)
        this.set({ vip: v.name, address: v.address, interface: v.interface }, v.held ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PREFIX}track_up`,
    help: 'Whether each tracked address ([health] track) answers its probes: 1 up, 0 down or not known yet.',
    labelNames: ['address'],
    registers,
    collect() {
      this.reset();
      for (const t of status().tracks) this.set({ address: t.address }, t.reachability === 'up' ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PREFIX}check_up`,
    help: 'Whether each tracked check ([track.NAME]) passes: 1 up, 0 down or not known yet.',
    labelNames: ['check'],
    registers,
    collect() {
      this.reset();
      for (const c of status().checks ?? []) this.set({ check: c.name }, c.status === 'up' ? 1 : 0);
    },
  });

  // Job runs are counted from changes of lastSuccess and lastError. Failures between two scrapes
  // are recovered from consecutiveFailures when it allows (it restarts at 0 after a success).
  const jobsSeen = new Map<string, { success: string | null; error: string | null; failures: number }>();
  const jobs = (): JobState[] => status().jobs ?? [];
  new Counter({
    name: `${PREFIX}job_runs_total`,
    help: 'Finished replication copies since the agent started, by kind (files, db, astdb) and result (ok, failed).',
    labelNames: ['kind', 'result'],
    registers,
    collect() {
      for (const j of jobs()) {
        const before = jobsSeen.get(j.kind) ?? { success: null, error: null, failures: 0 };
        const success = j.lastSuccess ? `${j.lastSuccess.startedAtWallMs} ${j.lastSuccess.durationMs}` : null;
        const error = j.lastError ? `${j.lastError.atWallMs} ${j.lastError.message}` : null;
        const succeeded = success !== null && success !== before.success;
        this.inc({ kind: j.kind, result: 'ok' }, succeeded ? 1 : 0);
        let failed = 0;
        if (error !== null && error !== before.error) {
          if (succeeded) failed = Math.max(j.consecutiveFailures, 1);
          else failed = j.consecutiveFailures > before.failures ? j.consecutiveFailures - before.failures : 1;
        }
        this.inc({ kind: j.kind, result: 'failed' }, failed);
        jobsSeen.set(j.kind, { success, error, failures: j.consecutiveFailures });
      }
    },
  });

  new Gauge({
    name: `${PREFIX}job_last_success_timestamp_seconds`,
    help: 'When the last successful copy of this kind finished, in seconds since the Unix epoch (0: none since the agent started).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const j of jobs()) {
        const s = j.lastSuccess;
        this.set({ kind: j.kind }, s ? (s.startedAtWallMs + s.durationMs) / 1000 : 0);
      }
    },
  });

  new Gauge({
    name: `${PREFIX}job_last_duration_seconds`,
    help: 'How long the last successful copy of this kind took, in seconds.',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const j of jobs())
        if (j.lastSuccess) this.set({ kind: j.kind }, seconds(j.lastSuccess.durationMs));
    },
  });

  new Gauge({
    name: `${PREFIX}job_last_bytes`,
    help: 'Bytes sent by the last successful copy of this kind.',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const j of jobs()) if (j.lastSuccess) this.set({ kind: j.kind }, j.lastSuccess.bytes);
    },
  });

  new Gauge({
    name: `${PREFIX}job_consecutive_failures`,
    help: 'Failed copies of this kind in a row since its last success (0 when the last run worked).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const j of jobs()) this.set({ kind: j.kind }, j.consecutiveFailures);
    },
  });

  new Gauge({
    name: `${PREFIX}db_mode`,
    help: 'The database replication mode ([sync.db] mode): 1 for the one configured, 0 for the other.',
    labelNames: ['mode'],
    registers,
    collect() {
      const db = status().db;
      this.reset();
      if (db) for (const mode of ['dump', 'streaming'] as const) this.set({ mode }, db.mode === mode ? 1 : 0);
    },
  });

  new Gauge({
    name: `${PREFIX}db_replication_lag_bytes`,
    help: 'Streaming mode: WAL the standby has not replayed yet, in bytes (absent when not measured).',
    registers,
    collect() {
      const db = status().db;
      this.reset();
      if (db?.lagBytes != null) this.set(db.lagBytes);
    },
  });

  new Gauge({
    name: `${PREFIX}db_replication_lag_seconds`,
    help: "Streaming mode: the standby's replay lag in seconds (absent when not measured).",
    registers,
    collect() {
      const db = status().db;
      this.reset();
      if (db?.lagSeconds != null) this.set(db.lagSeconds);
    },
  });

  new Gauge({
    name: `${PREFIX}db_timeline_split`,
    help: 'Streaming mode: 1 while two primaries (a timeline split) are not resolved; streaming is stopped meanwhile.',
    registers,
    collect() {
      const db = status().db;
      this.reset();
      if (db) this.set(db.split ? 1 : 0);
    },
  });

  return registry;
}

function listenError(e: NodeJS.ErrnoException, where: string): Error {
  switch (e.code) {
    case 'EADDRINUSE':
      return new Error(
        `metrics: cannot listen on ${where}: the port is already in use (another pbx-ha, or another exporter?); change listen in [metrics]`,
      );
    case 'EADDRNOTAVAIL':
      return new Error(
        `metrics: cannot listen on ${where}: this host has no such address; change listen in [metrics]`,
      );
    case 'EACCES':
      return new Error(`metrics: cannot listen on ${where}: permission denied`);
    default:
      return new Error(`metrics: cannot listen on ${where}: ${e.message}`);
  }
}

/** Serves GET /metrics on settings.host:settings.port (port 0: any free port). Ignores settings.enabled. */
export function startMetricsServer(
  settings: MetricsConfig,
  source: MetricsSource,
  log: Logger,
): Promise<MetricsServer> {
  const registry = createMetricsRegistry(source);
  const where = formatHostPort(settings.host, settings.port);

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res
        .writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' })
        .end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: Error) => {
        log.log('warn', `metrics: cannot collect: ${e.message}`);
        res
          .writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
          .end(`cannot collect the metrics: ${e.message}\n`);
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  return new Promise<MetricsServer>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.close();
      reject(listenError(e, where));
    };
    server.once('error', onError);
    server.listen({ host: settings.host, port: settings.port, exclusive: true }, () => {
      server.off('error', onError);
      server.on('error', (e) => log.log('warn', `metrics: ${e.message}`));
      const a = server.address() as AddressInfo;
      const address = { host: a.address, port: a.port };
      log.log('info', `metrics: serving http://${formatHostPort(address.host, address.port)}/metrics`);
      let closing: Promise<void> | null = null;
      resolve({
        address,
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
