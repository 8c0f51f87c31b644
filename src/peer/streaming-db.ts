// The database in `[sync.db] mode = streaming`: PostgreSQL's own physical replication, driven at
// the moments the pair's roles change. The planner (domain/pg-streaming.ts) decides each step and
// PostgreSQL's tools (jobs/db/streaming-*.ts) take it; this module says which goal applies when:
//
//   master active       its server is the primary: set up once (server settings, pg_hba.conf for the
//                       slave's address only, the replication role and its secret, the slave's
//                       slot), then the slave is asked (peer-pg-follow, with the secret) to stand by
//                       for it — a first clone with pg_basebackup, its own data directory kept aside.
//   before services     a node about to serve promotes its standby (the executor's hook, before the
//   start (takeover)    services start command). A master whose server still stands by for the
//                       slave takes the primary role back in a switchover instead.
//   master standby      the slave serves: the master's server is rejoined as a standby of the
//                       slave's (pg_rewind, or a new clone with the old directory kept aside), so
//                       that what the slave commits reaches it continuously (also with manual failback).
//   failback (final)    the slave's services stopped: the master's standby waits until it replayed
//                       the slave's last record (the slave's server stopped cleanly first), then is
//                       promoted; the slave is asked to stand by for it again (handback()).
//
// Two primaries with commits of their own (a timeline split) are never resolved here: both data
// directories are kept as they are, streaming stops on this node, an alert says so, and `status`
// shows the commands that resolve it, until a later look sees one primary and its standby again.
//
// The trusted link goes from the master to the slave only: the master asks the slave's agent to
// stop, start or follow; the slave only ever looks at the master's server through the replication
// protocol. The replication secret is in a root-only file in pbx-ha's state directory and in the
// passfile the cluster's user reads (mode 0600); it is sent to the slave inside the SSH channel and
// never logged.

import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { PbxHaConfig, Role } from '../config/types';
import { lagBytes, type PgGoal, type PgObservation } from '../domain/pg-streaming';
import type { NodeState } from '../domain/states';
import { POSTGRES_OS_USER } from '../jobs/db-settings';
import type { PgClusterLayout, ReplicationSource } from '../jobs/db/streaming-commands';
import { describeStep, drivePg, type DriveResult, type PgNodeControl } from '../jobs/db/streaming-drive';
import { newReplicationSecret, splitResolution } from '../jobs/db/streaming-files';
import { PgStreamingNode } from '../jobs/db/streaming-node';
import { runCommand } from '../adapters/exec';
import { controldataCommand, toolEnvironment } from '../jobs/db/streaming-commands';
import { parseControlData, parseServerState, SERVER_STATE_SQL } from '../jobs/db/streaming-state';
import { RemotePgObserver } from '../jobs/db/streaming-remote';
import type { Logger } from '../ports/log';
import type { PeerLink } from '../ports/peer-link';
import type { DbReplicationStatus } from '../ports/status';

/** The replication role's secret as pbx-ha makes it (base64url); anything else is refused. */
export const REPLICATION_SECRET = /^[A-Za-z0-9_-]{16,128}$/;
/** The facts key of a timeline split found and not resolved yet. */
export const SPLIT_FACT = 'db.streaming-split';
/** How often the roles' goals are looked at again. */
export const STREAMING_TICK_MS = 2000;
/** A failed request to the slave is not repeated sooner than this. */
const FOLLOW_RETRY_MS = 10_000;
/** How long a look at the peer's server through the replication protocol may take. */
const PEER_LOOK_MS = 8000;
/** The same, at a takeover (the peer is known to be gone; a live server answers in milliseconds). */
const PEER_GONE_LOOK_MS = 2000;
/** Replaced data directories kept (each a whole cluster, so few). */
const KEEP_REPLACED = 2;

export interface StreamingDbDeps {
  config: () => PbxHaConfig;
  identity: () => { node: string; role: Role; peerAddress: string };
  state: () => NodeState;
  link: PeerLink;
  log: Logger;
  alert: (message: string) => void;
  /** Keeps a line in the history (a step taken, a failure). */
  record: (summary: string, ok: boolean) => void;
  facts: { fact(key: string): string | null; setFact(key: string, value: string): void };
  nowWallMs?: () => number;
}

export type FollowAnswer = { end: 'done' | 'blocked' | 'split'; detail: string };

export class StreamingDb {
  /** Every drive, one at a time: two goals never act on one server together. */
  private lane: Promise<unknown> = Promise.resolve();
  private ticking = false;
  /** The configuration the primary's setup was made for (redone after a reload). */
  private setUpFor: PbxHaConfig | null = null;
  private followFailedAtMs = 0;
  private lastWait = '';
  private lastRecorded = '';
  private view: Omit<DbReplicationStatus, 'mode' | 'split'> = {
    local: null,
    lagBytes: null,
    lagSeconds: null,
    lastStep: null,
  };

  constructor(private deps: StreamingDbDeps) {}

  /** Whether the streaming mode is on (and replication at all). */
  enabled(): boolean {
    const r = this.deps.config().replication;
    return r.enabled && r.db.mode === 'streaming';
  }

  status(): DbReplicationStatus {
    const mode = this.deps.config().replication.db.mode;
    if (mode !== 'streaming')
      return { mode, local: null, lagBytes: null, lagSeconds: null, lastStep: null, split: null };
    return { mode, ...this.view, split: this.split() };
  }

  // --- where things are ------------------------------------------------------------------

  private layout(): PgClusterLayout {
    const db = this.deps.config().replication.db;
    const s = db.streaming;
    return {
      dataDir: s.dataDir,
      configDir: s.configDir,
      binDir: s.binDir,
      socketDir: db.host,
      port: db.port,
      osUser: POSTGRES_OS_USER,
      control: s.control,
    };
  }

  /** The peer as this node's replication source; `slot` is the one on the peer this node streams from. */
  private source(): ReplicationSource {
    const c = this.deps.config();
    const { role, peerAddress } = this.deps.identity();
    return {
      host: peerAddress,
      port: c.replication.db.port,
      role: c.replication.db.streaming.role,
      passfile: path.join(c.replication.db.streaming.configDir, 'pbx-ha-replication.pgpass'),
      slot: `pbx_ha_${role}`,
    };
  }

  private secretFile(): string {
    return path.join(this.deps.config().agent.stateDir, 'pg-replication.secret');
  }

  private local(timeoutMs: number): PgStreamingNode {
    return new PgStreamingNode(this.layout(), { timeoutMs, keepReplaced: KEEP_REPLACED });
  }

  private remote(timeoutMs = PEER_LOOK_MS, signal?: AbortSignal): RemotePgObserver {
    return new RemotePgObserver(this.layout(), this.source(), timeoutMs, signal);
  }

  /**
   * The periodic look's question to the peer's server, while it runs: a takeover aborts it rather
   * than wait in the lane behind it (a peer whose link is cut answers only at the timeout, and
   * the services start after the promotion).
   */
  private looking: AbortController | null = null;

  /**
   * The peer's server as the drive needs it: looked at directly; stopped or started through its
   * agent. `gone`: the peer is known to be gone (a takeover): looked at briefly, and once it did
   * not answer it is not asked again in this drive (a cut link would cost a timeout each time,
   * before the services start).
   */
  private peerControl(gone = false): PgNodeControl {
    const remote = this.remote(gone ? PEER_GONE_LOOK_MS : PEER_LOOK_MS);
    let silent: PgObservation | null = null;
    const never = (what: string) => async (): Promise<never> => {
      throw new Error(`the peer's PostgreSQL is never asked to ${what} from here`);
    };
    const viaAgent = (request: 'peer-pg-stop' | 'peer-pg-start', what: string) => async () => {
      if (this.deps.identity().role !== 'master')
        throw new Error(
          `the master's PostgreSQL must ${what}, and the slave cannot ask it: the trusted link goes from the master to the slave only`,
        );
      await this.askSlave({ request }, 120_000);
    };
    const master = this.deps.identity().role === 'master';
    return {
      // A stopped server does not answer on the network: the master asks the slave's agent then.
      observe: async () => {
        if (silent !== null) return silent;
        const seen = await remote.observe();
        if (gone && seen.kind === 'unknown') silent = seen;
        return seen.kind === 'unknown' && master && this.deps.link.paired() ? this.slaveState(seen) : seen;
      },
      countCommits: never('count commits'),
      start: viaAgent('peer-pg-start', 'start'),
      stop: viaAgent('peer-pg-stop', 'stop'),
      promote: never('promote'),
      follow: never('follow'),
      rewind: never('rewind'),
      clone: never('clone'),
      ensureSlot: never('make a slot'),
    };
  }

  /** The slave's server as its agent reads it (pg_controldata when stopped), checked here as any answer. */
  private async slaveState(fallback: PgObservation): Promise<PgObservation> {
    try {
      const a = await this.askSlave({ request: 'peer-pg-state' }, 30_000);
      if (typeof a.text !== 'string' || a.text.length > 256 * 1024 || typeof a.running !== 'boolean')
        return { kind: 'unknown', reason: "the slave's answer to peer-pg-state is malformed" };
      return a.running ? parseServerState(a.text) : parseControlData(a.text, a.standbySignal === true);
    } catch (e) {
      return {
        kind: 'unknown',
        reason: `${fallback.kind === 'unknown' ? fallback.reason : ''}; its agent: ${(e as Error).message}`,
      };
    }
  }

  private async askSlave(req: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const control = await this.deps.link.open();
    try {
      return await control.ask({ ...req, from: this.deps.identity().node }, timeoutMs);
    } finally {
      control.close();
    }
  }

  private inLane<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  // --- driving ---------------------------------------------------------------------------

  private async drive(goal: PgGoal, timeoutMs: number, what: string): Promise<DriveResult> {
    const { role } = this.deps.identity();
    const gone = goal.kind === 'serve' && goal.peerGone;
    const r = await drivePg(goal, this.local(timeoutMs), this.peerControl(gone), {
      source: this.source(),
      applicationName: `pbx_ha_${role}`,
      peerSlot: `pbx_ha_${role === 'master' ? 'slave' : 'master'}`,
      timeoutMs,
      pollMs: 250,
      onStep: (s) => {
        if (s.kind === 'done' || s.kind === 'blocked' || s.kind === 'split') return;
        const line = `PostgreSQL (${what}): ${describeStep(s)}`;
        // A wait repeats every poll: logged when its reason changes.
        if (s.kind === 'wait') {
          if (s.reason === this.lastWait) return;
          this.lastWait = s.reason;
        } else this.lastWait = '';
        this.deps.log.log('info', line);
      },
    });
    this.noteEnd(r, what);
    return r;
  }

  private noteEnd(r: DriveResult, what: string): void {
    const summary = `PostgreSQL (${what}): ${describeStep(r.end)}`;
    const acted = r.steps.some((s) => !['wait', 'done', 'blocked', 'split'].includes(s.kind));
    const ok = r.end.kind === 'done';
    this.view.lastStep = acted || !ok ? { atWallMs: this.now(), summary, ok } : this.view.lastStep;
    if ((acted || !ok) && summary !== this.lastRecorded) {
      this.lastRecorded = summary;
      this.deps.log.log(ok ? 'info' : 'warn', summary);
      // The history line says the mode, and the lag as last measured.
      const lag =
        this.view.lagBytes === null
          ? ''
          : `; lag before it ${this.view.lagBytes} bytes${this.view.lagSeconds === null ? '' : `, ${this.view.lagSeconds} s`}`;
      this.deps.record(`db streaming: ${summary}${lag}`, ok);
    }
    if (r.end.kind === 'split') this.flagSplit(r.end.reason);
  }

  private now(): number {
    return this.deps.nowWallMs?.() ?? Date.now();
  }

  // --- the timeline split --------------------------------------------------------------------

  /** The split found and not resolved yet, with the commands that resolve it on this node. */
  split(): { reason: string; resolve: string } | null {
    const text = this.deps.facts.fact(SPLIT_FACT);
    if (!text) return null;
    try {
      const v = JSON.parse(text) as { reason?: unknown; resolve?: unknown };
      if (typeof v.reason === 'string' && typeof v.resolve === 'string')
        return { reason: v.reason, resolve: v.resolve };
    } catch {
      // kept below as unreadable
    }
    return { reason: 'a timeline split was recorded (its details are unreadable)', resolve: '' };
  }

  private flagSplit(reason: string): void {
    if (this.split()?.reason === reason) return;
    const layout = this.layout();
    const dump = path.join(path.dirname(layout.dataDir), `pbx-ha-split-${this.deps.identity().node}.sql`);
    const resolve = splitResolution(layout, this.source(), dump);
    this.deps.facts.setFact(SPLIT_FACT, JSON.stringify({ reason, resolve }));
    this.deps.alert(
      `database: two primaries (a timeline split): ${reason}. Nothing is dropped: both data directories are kept as they are, and pbx-ha stops streaming replication on this node until it is resolved by hand. To resolve, ${resolve}`,
    );
  }

  /** A split is over when one server is the primary and the other streams from it again. */
  private async splitResolved(): Promise<boolean> {
    const local = await this.local(30_000).observe();
    const peer = await this.remote().observe();
    const pair = (p: PgObservation, s: PgObservation) =>
      p.kind === 'primary' && s.kind === 'standby' && p.systemId === s.systemId && p.timeline === s.timeline;
    if (!pair(local, peer) && !pair(peer, local)) return false;
    this.deps.facts.setFact(SPLIT_FACT, '');
    const line =
      'PostgreSQL: the timeline split is resolved (one primary, its standby streams); streaming goes on';
    this.deps.log.log('info', line);
    this.deps.record(line, true);
    return true;
  }

  // --- the periodic look ---------------------------------------------------------------------

  /** Applies the goal of this node's role and state once; never two at a time. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (!this.enabled()) return;
      await this.inLane(async () => {
        if (this.split() !== null && !(await this.splitResolved())) {
          await this.look();
          return;
        }
        const { role } = this.deps.identity();
        const state = this.deps.state();
        if (role === 'master' && state === 'active') await this.asPrimary();
        else if (role === 'master' && state === 'standby' && this.deps.link.paired()) await this.rejoin();
        else await this.look();
      });
    } catch (e) {
      this.deps.log.log('warn', `PostgreSQL streaming: ${(e as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** What the local server is, and its standby's lag (seen from the primary, or from the standby). */
  private async look(): Promise<PgObservation> {
    const local = await this.local(30_000).observe();
    this.view.local = local.kind;
    this.view.lagBytes = null;
    this.view.lagSeconds = null;
    if (local.kind === 'primary') {
      const peerRole = this.deps.identity().role === 'master' ? 'slave' : 'master';
      const s = local.standbys.find((x) => x.applicationName === `pbx_ha_${peerRole}`);
      if (s?.replayLsn != null) {
        const bytes = local.currentLsn > s.replayLsn ? local.currentLsn - s.replayLsn : 0n;
        this.view.lagBytes = Number(bytes);
        this.view.lagSeconds = s.replayLagSeconds ?? (bytes === 0n ? 0 : null);
      }
    } else if (local.kind === 'standby') {
      const asking = new AbortController();
      this.looking = asking;
      let peer: PgObservation;
      try {
        peer = await this.remote(PEER_LOOK_MS, asking.signal).observe();
      } finally {
        if (this.looking === asking) this.looking = null;
      }
      const bytes = lagBytes(peer, local);
      if (bytes !== null) {
        this.view.lagBytes = Number(bytes);
        this.view.lagSeconds = bytes === 0n ? 0 : null;
      }
    }
    return local;
  }

  /** The master serves: its server is the primary, set up for the slave, and the slave follows it. */
  private async asPrimary(): Promise<void> {
    let local = await this.look();
    if (local.kind === 'standby') {
      // It claimed without its server having taken the primary role back (a handback that failed).
      await this.takePrimaryRole();
      local = await this.look();
    }
    if (local.kind !== 'primary') return;
    if (this.setUpFor !== this.deps.config()) {
      await this.setUpPrimary();
      this.setUpFor = this.deps.config();
    }
    const peer = await this.remote().observe();
    const follows =
      peer.kind === 'standby' && peer.systemId === local.systemId && peer.timeline === local.timeline;
    if (follows || this.now() - this.followFailedAtMs < FOLLOW_RETRY_MS) return;
    await this.askFollow();
  }

  /** Once per configuration: what the slave needs to stream from this primary. */
  private async setUpPrimary(): Promise<void> {
    const c = this.deps.config();
    const s = c.replication.db.streaming;
    const pg = this.local(120_000);
    const secret = await this.secret(true);
    const settings = path.join(s.configDir, 'conf.d', 'pbx-ha-replication.conf');
    const before = existsSync(settings) ? await fs.readFile(settings, 'utf8') : null;
    await pg.installServerSettings(s.maxSlotWalKeepMb);
    if ((await fs.readFile(settings, 'utf8')) !== before) {
      // Reloaded, not restarted: a restart would cut the calls' database. wal_log_hints waits for
      // the next restart; until then a rejoin clones rather than rewinds (slower, loses nothing).
      await pg.query('SELECT pg_reload_conf()');
      this.deps.log.log(
        'info',
        `PostgreSQL: ${settings} written; wal_log_hints takes effect at the server's next restart`,
      );
    }
    await pg.installHba(s.role, this.deps.identity().peerAddress);
    await pg.ensureReplicationRole(s.role, secret);
    const src = this.source();
    await pg.writePassfile(src.passfile, { host: src.host, port: src.port, role: src.role }, secret);
    await pg.ensureSlot('pbx_ha_slave');
  }

  /** The replication role's secret; made (master) when there is none yet. Root-only file. */
  private async secret(make: boolean): Promise<string> {
    const file = this.secretFile();
    if (existsSync(file)) {
      const text = (await fs.readFile(file, 'utf8')).trim();
      if (REPLICATION_SECRET.test(text)) return text;
      throw new Error(
        `${file} does not hold a replication secret pbx-ha made: move it aside to make a new one`,
      );
    }
    if (!make) throw new Error(`${file} is missing: the master sends it when it is active`);
    const secret = newReplicationSecret();
    await this.writeSecret(secret);
    return secret;
  }

  private async writeSecret(secret: string): Promise<void> {
    const file = this.secretFile();
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${randomBytes(4).toString('hex')}`;
    await fs.writeFile(tmp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    await fs.rename(tmp, file);
  }

  /** Asks the slave to stand by for this primary (a first clone, or a rejoin); its end is logged. */
  private async askFollow(): Promise<void> {
    const secret = await this.secret(false);
    const timeout = this.deps.config().replication.db.streaming.rejoinTimeoutMs + 30_000;
    try {
      const a = await this.askSlave({ request: 'peer-pg-follow', secret }, timeout);
      const end = a.end === 'done' || a.end === 'split' ? a.end : 'blocked';
      const detail = typeof a.detail === 'string' ? a.detail.slice(0, 500) : '';
      if (end !== 'done') this.followFailedAtMs = this.now();
      const line = `PostgreSQL: the slave's server, asked to stand by for this one: ${end}: ${detail}`;
      this.deps.log.log(end === 'done' ? 'info' : 'warn', line);
      if (end === 'split') this.flagSplit(`the slave found it: ${detail}`);
    } catch (e) {
      this.followFailedAtMs = this.now();
      this.deps.log.log(
        'warn',
        `PostgreSQL: the slave could not be asked to stand by: ${(e as Error).message}`,
      );
    }
  }

  /** The slave serves: this master's server stands by for the slave's (rewound or cloned). */
  private async rejoin(): Promise<DriveResult> {
    const s = this.deps.config().replication.db.streaming;
    // The slave may connect to this node once it is primary again.
    await this.local(60_000).installHba(s.role, this.deps.identity().peerAddress);
    const r = await this.drive({ kind: 'stand-by' }, s.rejoinTimeoutMs, 'stand by for the serving slave');
    await this.look().catch(() => undefined);
    return r;
  }

  /** A master whose server stands by takes the primary role back (switchover; else promoted alone). */
  private async takePrimaryRole(): Promise<DriveResult> {
    const s = this.deps.config().replication.db.streaming;
    if ((await this.local(30_000).observe()).kind !== 'standby')
      return this.drive({ kind: 'serve', peerGone: true }, s.promoteTimeoutMs, 'serve');
    const r = await this.drive({ kind: 'switchover' }, s.promoteTimeoutMs, 'switchover');
    if (r.end.kind !== 'blocked') return r;
    // Only when the slave's server cannot be asked at all (the slave is gone): promoted alone.
    if ((await this.remote().observe()).kind !== 'unknown') return r;
    return this.drive({ kind: 'serve', peerGone: true }, s.promoteTimeoutMs, 'promote, the slave gone');
  }

  // --- the hooks -------------------------------------------------------------------------------

  /**
   * Before the services start (the node takes the VIPs): its server must be the primary. A standby
   * is promoted; never throws. When it cannot be promoted, the services still start (calls are
   * answered by the PBX with its database read-only) and an alert says how to promote by hand.
   */
  async beforeServicesStart(): Promise<void> {
    if (!this.enabled()) return;
    this.looking?.abort();
    await this.inLane(async () => {
      const s = this.deps.config().replication.db.streaming;
      let why: string | null = null;
      try {
        if (this.split() !== null) return;
        const r =
          this.deps.identity().role === 'master'
            ? await this.takePrimaryRole()
            : // The slave takes the VIPs only when nobody answers on them: the master is gone.
              await this.drive({ kind: 'serve', peerGone: true }, s.promoteTimeoutMs, 'promote at takeover');
        if (r.end.kind === 'blocked') why = r.end.reason;
      } catch (e) {
        why = (e as Error).message;
      }
      await this.look().catch(() => undefined);
      if (why !== null) {
        const promote =
          s.control.kind === 'pg_ctlcluster'
            ? `pg_ctlcluster ${s.control.version} ${s.control.name} promote`
            : `runuser -u postgres -- ${s.binDir}/pg_ctl -D ${s.configDir} promote`;
        this.deps.alert(
          `database: this node's PostgreSQL was not promoted before the services start (${why}). The services start anyway, so that calls are answered, but the database stays a read-only standby: settings and call logs cannot be written. Once the peer's PostgreSQL is known to be stopped, promote it by hand: ${promote}`,
        );
      }
    });
  }

  /**
   * The failback's database step, on the master. While the slave still serves (`final` false):
   * this node's server must be a standby of the slave's, caught up (rejoined now if it is not);
   * otherwise this throws, and the failback waits (the slave keeps serving: nothing is lost by
   * waiting), also on a timeline split, which is not for a failback to settle. Once the slave's
   * services are stopped and the VIPs are free (`final`): the standby catches up with the slave's
   * last record and takes the primary role back (no committed transaction lost); the slave is
   * asked to follow it at the next look. The final step never throws: the claim goes on (the
   * phones are without a PBX), an alert says what failed, and the services' start hook tries the
   * switchover again. Resolves with what it did; null when not in streaming mode.
   */
  async handback(final: boolean, stillWanted: () => boolean): Promise<string | null> {
    if (!this.enabled()) return null;
    return this.inLane(async () => {
      if (!stillWanted()) return 'database: failback abandoned, nothing switched';
      const split = this.split();
      if (!final) {
        if (split !== null)
          throw new Error(`database: a timeline split is not resolved (${split.reason}): the failback waits`);
        const r = await this.rejoin();
        if (r.end.kind !== 'done')
          throw new Error(`database not caught up with the slave's: ${describeStep(r.end)}`);
        return `database: ${describeStep(r.end)}`;
      }
      if (split !== null)
        return `database NOT switched over: a timeline split is not resolved (${split.reason})`;
      try {
        const r = await this.takePrimaryRole();
        if (r.end.kind !== 'done') {
          this.deps.alert(
            `failback: the database's primary role did not come back here: ${describeStep(r.end)}`,
          );
          return `database NOT switched over: ${describeStep(r.end)}`;
        }
        this.followFailedAtMs = 0;
        return `database switched over: ${describeStep(r.end)}`;
      } catch (e) {
        this.deps.alert(`failback: the database's switchover failed: ${(e as Error).message}`);
        return `database NOT switched over: ${(e as Error).message}`;
      }
    });
  }

  /**
   * A planned handover (`pbx-ha failover`), on the master, its services stopped and its last astdb
   * copy sent: its server is stopped cleanly, so that its WAL senders hand the standby every record
   * (a clean shutdown waits for them) and the slave, finding no primary, promotes before its
   * services start. The slave cannot ask for this itself: the trusted link goes from the master to
   * the slave only. Back in standby, this node's server rejoins as the slave's standby (tick).
   * Never throws: the handover goes on; a server that did not stop leaves the slave serving with a
   * read-only standby and the alert of its start hook. Null when not in streaming mode.
   */
  async beforeHandover(): Promise<string | null> {
    if (!this.enabled() || this.deps.identity().role !== 'master') return null;
    return this.inLane(async () => {
      try {
        const pg = this.local(120_000);
        if (!(await pg.isRunning())) return 'database: PostgreSQL was not running';
        await pg.stop();
        await this.look().catch(() => undefined);
        const line =
          "PostgreSQL stopped cleanly before the handover: its standby holds every record and is promoted at the slave's takeover";
        this.deps.log.log('info', line);
        return `database: ${line}`;
      } catch (e) {
        this.deps.alert(`handover: this node's PostgreSQL could not be stopped: ${(e as Error).message}`);
        return `database NOT stopped: ${(e as Error).message}`;
      }
    });
  }

  // --- the slave's side of the master's requests ----------------------------------------------

  /** peer-pg-follow: stand by for the master's server (clone or rejoin as needed). */
  async follow(secret: string): Promise<FollowAnswer> {
    if (!REPLICATION_SECRET.test(secret))
      return { end: 'blocked', detail: 'the secret is not one pbx-ha makes' };
    if (!this.enabled()) return { end: 'blocked', detail: '[sync.db] mode is not streaming on this node' };
    return this.inLane(async () => {
      if (this.split() !== null && !(await this.splitResolved()))
        return { end: 'split' as const, detail: `a timeline split is not resolved: ${this.split()!.reason}` };
      const s = this.deps.config().replication.db.streaming;
      const pg = this.local(120_000);
      try {
        await this.writeSecret(secret);
        const src = this.source();
        await pg.writePassfile(src.passfile, { host: src.host, port: src.port, role: src.role }, secret);
        await pg.installServerSettings(s.maxSlotWalKeepMb);
        await pg.installHba(s.role, this.deps.identity().peerAddress);
        const r = await this.drive({ kind: 'stand-by' }, s.rejoinTimeoutMs, 'stand by for the master');
        await this.look().catch(() => undefined);
        return { end: r.end.kind, detail: describeStep(r.end) };
      } catch (e) {
        const detail = (e as Error).message;
        this.deps.log.log('warn', `PostgreSQL (stand by for the master): ${detail}`);
        return { end: 'blocked' as const, detail };
      }
    });
  }

  /** peer-pg-state: this server's state for the master (the fixed query's answer, or pg_controldata's). */
  async stateText(): Promise<{ running: boolean; text: string; standbySignal: boolean }> {
    if (!this.enabled()) throw new Error('[sync.db] mode is not streaming on this node');
    const layout = this.layout();
    const pg = this.local(30_000);
    const running = await pg.isRunning();
    const text = running
      ? await pg.query(SERVER_STATE_SQL)
      : (await runCommand(controldataCommand(layout), { timeoutMs: 30_000, env: toolEnvironment() })).stdout;
    return { running, text, standbySignal: existsSync(path.join(layout.dataDir, 'standby.signal')) };
  }

  /** peer-pg-stop / peer-pg-start: the master's switchover stops this server cleanly (or starts it again). */
  async control(action: 'stop' | 'start'): Promise<string> {
    if (!this.enabled()) throw new Error('[sync.db] mode is not streaming on this node');
    const pg = this.local(120_000);
    const running = await pg.isRunning();
    if (action === 'stop' && running) await pg.stop();
    if (action === 'start' && !running) await pg.start();
    const line = `PostgreSQL ${action === 'stop' ? 'stopped' : 'started'} at the master's request`;
    this.deps.log.log('info', line);
    return line;
  }
}
