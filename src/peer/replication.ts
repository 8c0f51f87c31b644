// The master's side of replication: the three copies, and the astdb fetched back before a
// failback. Each copy goes: check that it applies (this node is the active master, the peer
// is in standby), make a consistent copy, send it into the peer's staging area with rsync,
// ask the peer to check and install it.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { exists } from '../jobs/astdb/durable-files';
import { takeSnapshot } from '../jobs/astdb/snapshot';
import type { PbxHaConfig } from '../config/types';
import type { NodeState } from '../domain/states';
import { EMPTY_CONTENT_DIGEST, checkAstdb } from '../jobs/astdb/digest';
import { inspectAstdb } from '../jobs/astdb/inspect';
import { installAstdb } from '../jobs/astdb/install';
import {
  conflictsFilePath,
  keepMergeBase,
  mergeAstdb,
  mergeBasePath,
  pruneConflictFiles,
} from '../jobs/astdb/merge';
import { dumpDatabase } from '../jobs/db/copy';
import { dbWorkFile, POSTGRES_OS_USER } from '../jobs/db-settings';
import { JobNotApplicable, type JobDefinition, type JobOutcome } from '../jobs/runner';
import { parseHello, parseQuiesceAnswer, type PeerHello } from './protocol';
import { outbox, REMOTE } from './staging';
import type { Logger } from '../ports/log';
import type { PeerChannel, PeerLink } from '../ports/peer-link';
import type { SpoolChanges } from '../jobs/spool-watch';
import { listRoots, recordSpoolBase } from '../jobs/spool-manifest';
import { emptyListingDigest, returnSpool } from '../jobs/spool-return';
import { dumpContentDigest, LAST_COMMON_DB, returnDatabase, type DbReturnState } from '../jobs/db/return';
import type { PeerRequestName } from '../domain/actions';
import type { QuiesceOutcome } from '../ports/peer-requests';
/**
 * The store's key for the digest of the last astdb the two nodes had in common: the last copy
 * the master sent, or the slave's file the master merged at a failback (see docs/replication.md).
 * The merge base file (jobs/astdb/merge.ts) holds that content.
 */
export const LAST_SENT_ASTDB = 'astdb.last-sent-digest';

export interface ReplicationDeps {
  config: () => PbxHaConfig;
  identity: () => { node: string; role: 'master' | 'slave'; peerAddress: string };
  state: () => NodeState;
  facts: { fact(key: string): string | null; setFact(key: string, value: string): void };
  log: Logger;
  /** The trusted link to the peer (SSH, or the tests' in-memory fake). */
  link: PeerLink;
  /** The spool roots changed since the last `change` copy (jobs/spool-watch.ts); `all` = a full copy. */
  spoolChanges?: () => SpoolChanges | null;
  /** Raises an alert (log and history): a failback found files or rows changed on both nodes. */
  alert?: (message: string) => void;
  /**
   * Streaming mode's database step of a failback (peer/streaming-db.ts handback), run after each
   * fetch's astdb step: caught up while the slave serves, switched over at the final fetch (the
   * slave's services stopped); null: not in streaming mode. Throws to hold the failback.
   */
  streamingHandback?: (final: boolean, stillWanted: () => boolean) => Promise<string | null>;
}

/** How long the channel of a failback's release waits for the fetch that follows it. */
const RELEASED_CHANNEL_KEEP_MS = 30_000;

export class Replication {
  constructor(private deps: ReplicationDeps) {}

  /** Opens the control channel and checks that a copy applies now. */
  private async openForCopy(kind: string, handingOver = false): Promise<PeerChannel> {
    const { role, node } = this.deps.identity();
    if (role !== 'master') throw new JobNotApplicable(`${kind} copies go from the master; this is the slave`);
    const state = this.deps.state();
    if (state !== 'active' && !handingOver)
      throw new JobNotApplicable(`${node} is ${state}, not active: no ${kind} copy`);
    if (!this.deps.config().replication.enabled)
      throw new JobNotApplicable('replication is disabled ([replication] enabled = no)');
    const control = await this.deps.link.open();
    const hello = parseHello(await control.request({ request: 'peer-hello', from: node }, 15_000));
    if (hello.state !== 'standby') {
      control.close();
      throw new Error(`${hello.node} is ${hello.state}: it accepts copies only in standby`);
    }
    return control;
  }

  private async install(
    control: PeerChannel,
    kind: string,
    timeoutMs: number,
    digest?: string,
    paths?: string[],
  ): Promise<string> {
    const answer = await control.request(
      { request: 'peer-install', from: this.deps.identity().node, kind, digest, ...(paths ? { paths } : {}) },
      timeoutMs,
    );
    if (answer.ok !== true) throw new Error(String(answer.error ?? 'the peer refused the copy'));
    return String(answer.detail ?? 'installed');
  }

  jobs(): JobDefinition[] {
    const c = () => this.deps.config();
    return [
      {
        kind: 'astdb',
        timeoutMs: c().replication.astdb.timeoutMs,
        run: (signal, trigger) => this.copyAstdb(signal, trigger === 'forced'),
      },
      { kind: 'db', timeoutMs: c().replication.db.timeoutMs, run: (signal) => this.copyDatabase(signal) },
      {
        kind: 'files',
        timeoutMs: c().replication.files.timeoutMs,
        run: async (signal, trigger) =>
          this.copyFiles(signal, trigger === 'change' ? this.spoolRoots() : 'all'),
      },
    ];
  }

  /** The astdb copy under way, if any: a failback's fetch waits for it. */
  private astdbCopy: Promise<JobOutcome> | null = null;
  /**
   * Set while the slave's astdb is fetched and merged for a failback: a copy sent meanwhile
   * would install the master's old file on the slave, over the changes the slave made while it
   * served.
   */
  private fetchingAstdb = false;

  async copyAstdb(signal: AbortSignal, force = false, handingOver = false): Promise<JobOutcome> {
    if (this.fetchingAstdb)
      throw new JobNotApplicable(
        "the slave's astdb is being fetched before the failback: no astdb copy until it is in place",
      );
    const copy = this.copyAstdbNow(signal, force, handingOver);
    this.astdbCopy = copy;
    try {
      return await copy;
    } finally {
      if (this.astdbCopy === copy) this.astdbCopy = null;
    }
  }

  private async copyAstdbNow(signal: AbortSignal, force: boolean, handingOver: boolean): Promise<JobOutcome> {
    const config = this.deps.config();
    const control = await this.openForCopy('astdb', handingOver);
    try {
      const snap = await takeSnapshot(config.replication.astdb.path, outbox(config, 'astdb.sqlite3'));
      if (!force && snap.digest === this.deps.facts.fact(LAST_SENT_ASTDB))
        return { bytes: 0, detail: `unchanged since the last copy (${snap.keys} keys)` };
      await this.deps.link.send(snap.path, REMOTE.astdbDir, config.replication.astdb.timeoutMs, signal);
      const detail = await this.install(control, 'astdb', config.replication.astdb.timeoutMs, snap.digest);
      // What the slave now holds is the base of the next failback's merge.
      await this.keepBase(snap.path, snap.digest);
      return { bytes: snap.bytes, detail: `${snap.keys} keys, ${snap.bytes} bytes; ${detail}` };
    } finally {
      control.close();
    }
  }

  async copyDatabase(signal: AbortSignal): Promise<JobOutcome> {
    const config = this.deps.config();
    const db = config.replication.db;
    if (db.mode === 'streaming')
      throw new JobNotApplicable('[sync.db] mode = streaming: PostgreSQL replicates the database itself');
    const control = await this.openForCopy('db');
    try {
      const dump = await dumpDatabase({
        ...db,
        osUser: POSTGRES_OS_USER,
        file: dbWorkFile(config, 'asterisk.sql'),
        signal,
      });
      await this.deps.link.send(dump.file, REMOTE.dbDir, db.timeoutMs, signal);
      const detail = await this.install(control, 'db', db.timeoutMs);
      // What the slave now holds: the base of the next failback's database return.
      this.deps.facts.setFact(LAST_COMMON_DB, await dumpContentDigest(dump.file));
      return { bytes: dump.bytes, detail: `${dump.tables.length} tables, ${dump.bytes} bytes; ${detail}` };
    } finally {
      control.close();
    }
  }

  /** A change copy's spool roots (still configured ones only); JobNotApplicable when none changed. */
  private spoolRoots(): SpoolChanges {
    const changes = this.deps.spoolChanges?.() ?? null;
    if (changes === 'all') return 'all';
    const spool = this.deps.config().replication.files.spool;
    const roots = (changes ?? []).filter((r) => spool.includes(r));
    if (roots.length === 0) throw new JobNotApplicable('no spool change left to copy');
    return roots;
  }

  /** Copies every [sync.files] path (`all`), or only the given spool roots (a change copy). */
  async copyFiles(signal: AbortSignal, only: SpoolChanges = 'all'): Promise<JobOutcome> {
    const config = this.deps.config();
    const control = await this.openForCopy('files');
    try {
      // Listed before the push: a file changed after it is then changed on both sides alike,
      // never taken for a change the slave made (jobs/spool-return.ts).
      const spoolRoots = config.replication.files.spool.filter((r) => only === 'all' || only.includes(r));
      const spoolListing = await listRoots(spoolRoots);
      const push = await this.deps.link.sendTree(
        only === 'all' ? config.replication.files.paths : only,
        REMOTE.filesDir,
        config.replication.files.timeoutMs,
        signal,
      );
      const detail = await this.install(
        control,
        'files',
        config.replication.files.timeoutMs,
        undefined,
        only === 'all' ? undefined : push.sent,
      );
      await recordSpoolBase(
        config.agent.stateDir,
        config.replication.files.spool,
        spoolListing,
        only === 'all',
      ).catch((e: Error) =>
        this.deps.log.log('warn', `could not record the spool base of the next failback: ${e.message}`),
      );
      const missing = push.missing.length ? `; absent here: ${push.missing.join(', ')}` : '';
      return {
        bytes: push.bytes,
        detail: `${push.sent.length} paths, ${push.bytes} bytes sent${missing}; ${detail}`,
      };
    } finally {
      control.close();
    }
  }

  /**
   * Whether the copy jobs run on this node now (openForCopy's rule, without the peer's part):
   * `pbx-ha status` shows their next runs, and the spool watcher runs, only then.
   */
  sendsCopies(): boolean {
    return (
      this.deps.identity().role === 'master' &&
      this.deps.state() === 'active' &&
      this.deps.config().replication.enabled
    );
  }

  /** Whether `pbx-ha pair` has been run here: pbx-ha's key and the peer's host key exist. */
  paired(): boolean {
    return this.deps.link.paired();
  }

  /** Who the peer is and what state it is in, over the trusted link. */
  async hello(): Promise<PeerHello> {
    const control = await this.deps.link.open();
    try {
      return parseHello(
        await control.ask({ request: 'peer-hello', from: this.deps.identity().node }, 15_000),
      );
    } finally {
      control.close();
    }
  }

  /**
   * Sends a takeover or release request to the peer's agent; true when it did it, false when
   * `stillWanted` said no once connected (the SSH handshake to a peer just back can take
   * seconds: a request decided before must not be delivered when it no longer holds).
   */
  async askPeer(request: PeerRequestName, stillWanted: () => boolean = () => true): Promise<boolean> {
    const req = { request, from: this.deps.identity().node };
    if (request === 'peer-release') return this.askRelease(req, stillWanted);
    if (request === 'peer-quiesce') return this.askQuiesce(req, stillWanted);
    const spare = this.takeSpare();
    let control = spare;
    let answer: Record<string, unknown>;
    try {
      control ??= await this.deps.link.open();
      if (!stillWanted()) return this.notSent(request);
      answer = await control.ask(req, 60_000);
    } finally {
      control?.close();
    }
    this.deps.log.log('info', `${request}: ${String(answer.node)} is now ${String(answer.state)}`);
    return true;
  }

  private notSent(request: string): false {
    this.deps.log.log('info', `${request} not sent: no longer wanted once the connection to the peer was up`);
    return false;
  }

  /**
   * Failback, first half: the slave stops its services and releases the VIPs, then answers
   * with its astdb's digest. The channel stays open for the second half: when the slave's file
   * changed since the failback fetch (fetchForFailback), its last changes are fetched over it with
   * no new SSH handshake; when it did not, the master claims at once.
   */
  private async askRelease(req: Record<string, unknown>, stillWanted: () => boolean): Promise<boolean> {
    this.dropReleased();
    // After a quiesce, the channel it was asked on (kept through the final fetch): no SSH
    // handshake between the slave's services stop and the claim.
    const control = this.takeHandback() ?? (await this.deps.link.open());
    try {
      if (!stillWanted()) {
        control.close();
        return this.notSent('peer-release');
      }
      const answer = await control.ask(req, 60_000);
      this.deps.log.log(
        'info',
        `peer-release: ${String(answer.node)} is now ${String(answer.state)}${answer.quiesced === true ? ' (its services stopped since the quiesce)' : ''}`,
      );
      if (answer.quiesced === true) {
        // Its services stayed stopped since the quiesce answer this node's final fetch worked
        // from: nothing changed, nothing to ask (the slave answers without reading its data, so
        // the VIPs are without a holder for one request, not for a digest's computation too).
        this.released = {
          control,
          slaveDigest: undefined,
          quiescedSinceFetch: true,
          expiry: setTimeout(() => this.dropReleased(), RELEASED_CHANNEL_KEEP_MS).unref(),
        };
        return true;
      }
      const astdb = answer.astdb;
      const digest =
        typeof astdb === 'object' && astdb !== null && 'digest' in astdb
          ? (astdb as { digest: unknown }).digest
          : undefined;
      this.released = {
        control,
        // Only a well-formed answer counts; anything else is asked again (peer-astdb-info).
        slaveDigest: typeof digest === 'string' || digest === null ? digest : undefined,
        answer,
        quiescedSinceFetch: false,
        // Not taken (the master did not go on to claim): closed, not left open.
        expiry: setTimeout(() => this.dropReleased(), RELEASED_CHANNEL_KEEP_MS).unref(),
      };
      return true;
    } catch (e) {
      control.close();
      throw e;
    }
  }

  private released: {
    control: PeerChannel;
    slaveDigest: string | null | undefined;
    /** The release or quiesce answer's per-kind fields (spool, db), for the final fetch's other kinds. */
    answer?: Record<string, unknown>;
    /** The release answer said the slave's services stayed stopped since its quiesce answer. */
    quiescedSinceFetch: boolean;
    expiry: NodeJS.Timeout;
  } | null = null;

  /**
   * Two-phase failback, first phase (the node machine's `peer-quiesce`): the slave stops its
   * services, keeps the VIPs, and answers with the digest of each kind of its data, now final.
   * Its astdb digest is kept as a release answer's is (`released`, read by releasedDataChanged
   * and by the final fetch, fetchForFailback(final = true), which borrows the channel); the
   * channel itself is kept for the release (`handback`). The outcome (quiesced, or an older slave
   * that does not know the request) is read with lastQuiesce().
   */
  private async askQuiesce(req: Record<string, unknown>, stillWanted: () => boolean): Promise<boolean> {
    this.dropReleased();
    this.dropHandback();
    this.quiesceOutcome = null;
    const control = await this.deps.link.open();
    try {
      if (!stillWanted()) {
        control.close();
        return this.notSent('peer-quiesce');
      }
      const raw = await control.request(req, 60_000);
      if (raw.ok !== true) {
        const why = typeof raw.error === 'string' ? raw.error.slice(0, 500) : 'no reason given';
        // An older slave's forced command knows no such request: the one-phase failback then.
        this.quiesceOutcome = { quiesced: false, unsupported: /is not one the peer may make/.test(why) };
        throw new Error(`the peer refused "peer-quiesce": ${why}`);
      }
      const answer = parseQuiesceAnswer(raw);
      this.quiesceOutcome = { quiesced: answer.quiesced, unsupported: false };
      this.deps.log.log(
        'info',
        `peer-quiesce: ${answer.node} is ${answer.state}, ${answer.quiesced ? 'its services stopped, the VIPs kept until the release' : 'not serving'}`,
      );
      // Not taken (the master did not go on to release): closed, not left open.
      this.handback = {
        control,
        expiry: setTimeout(() => this.dropHandback(), RELEASED_CHANNEL_KEEP_MS).unref(),
      };
      // The final fetch borrows the channel: its end must not close it before the release.
      const borrowed: PeerChannel = {
        request: control.request.bind(control),
        ask: control.ask.bind(control),
        close: () => {},
      };
      this.released = {
        control: borrowed,
        slaveDigest: 'astdb' in answer.digests ? answer.digests.astdb : undefined,
        // The other kinds' final state (spool listing digest, database transaction id), read as
        // a release answer's: what changed since the early fetch is fetched, nothing else.
        answer: { spool: answer.data.spool, db: answer.data.db },
        quiescedSinceFetch: false,
        expiry: setTimeout(() => this.dropReleased(), RELEASED_CHANNEL_KEEP_MS).unref(),
      };
      return true;
    } catch (e) {
      if (this.handback?.control !== control) control.close();
      throw e;
    }
  }

  private quiesceOutcome: QuiesceOutcome | null = null;

  /** What the slave answered to the last `peer-quiesce` (null: none answered yet). */
  lastQuiesce(): QuiesceOutcome | null {
    return this.quiesceOutcome;
  }

  /** The channel a quiesce was asked on, kept for the release that follows it. */
  private handback: { control: PeerChannel; expiry: NodeJS.Timeout } | null = null;

  private takeHandback(): PeerChannel | null {
    const h = this.handback;
    if (h) clearTimeout(h.expiry);
    this.handback = null;
    return h?.control ?? null;
  }

  private dropHandback(): void {
    this.takeHandback()?.close();
  }

  private takeReleased(): {
    control: PeerChannel;
    slaveDigest: string | null | undefined;
    answer?: Record<string, unknown>;
  } | null {
    const r = this.released;
    if (r) clearTimeout(r.expiry);
    this.released = null;
    return r;
  }

  private dropReleased(): void {
    this.takeReleased()?.control.close();
  }

  /**
   * A control channel opened ahead of a planned handover, so that between this node's
   * release of the VIPs and the slave's claim there is one request, not an SSH handshake.
   */
  private spare: PeerChannel | null = null;

  private takeSpare(): PeerChannel | null {
    const s = this.spare;
    this.spare = null;
    return s;
  }

  /**
   * The last astdb copy of a planned handover: this node has just stopped its services (it
   * is no longer active), so the copy holds every change.
   */
  async finalAstdb(): Promise<string> {
    try {
      return (await this.copyAstdb(new AbortController().signal, true, true)).detail;
    } finally {
      // A hello round trip too: the peer's end of the channel is a program that needs a
      // moment to start, and that moment must pass before the VIPs are released, not after.
      await this.deps.link
        .open()
        .then(async (spare) => {
          try {
            await spare.request({ request: 'peer-hello', from: this.deps.identity().node }, 15_000);
            this.spare = spare;
          } catch (e) {
            spare.close();
            throw e;
          }
        })
        .catch((e: Error) =>
          this.deps.log.log('warn', `could not open the control channel ahead of the handover: ${e.message}`),
        );
    }
  }

  /**
   * Records `digest` as the content both nodes hold and keeps `file` as the merge base. A base
   * that could not be kept is ignored by the next merge (its digest differs): a union, then.
   */
  private async keepBase(file: string, digest: string): Promise<void> {
    this.deps.facts.setFact(LAST_SENT_ASTDB, digest);
    try {
      await keepMergeBase(file, this.deps.config().agent.stateDir);
    } catch (e) {
      this.deps.log.log('warn', `could not keep the astdb merge base: ${(e as Error).message}`);
    }
  }

  /** Digest of the slave's astdb as the last failback fetch found it (null: none fetched). */
  private fetchedSlaveDigest: string | null = null;

  /**
   * Whether the slave's astdb, as its release answer gives it, differs from what the failback
   * fetch brought across: the slave wrote more in between, and that rest is fetched before the
   * claim. True when the answer gave no digest (unknown: fetched rather than lost).
   */
  releasedDataChanged(): boolean {
    if (this.released?.quiescedSinceFetch) return false;
    // Streaming mode: the database's switchover is in the final fetch, which always runs.
    if (this.deps.config().replication.db.mode === 'streaming') return true;
    if (this.releasedOtherDataChanged()) return true;
    const d = this.released?.slaveDigest;
    if (d === null) return false; // the slave has no readable astdb: nothing more to bring
    return d === undefined || (d !== this.fetchedSlaveDigest && d !== this.deps.facts.fact(LAST_SENT_ASTDB));
  }

  /**
   * A failback's data step (the node machine's `failback-fetch`), run outside the event queue:
   * fetches the slave's astdb if it changed since the last copy the two had in common, and merges
   * it with this node's (three-way, against that copy; the side that served last wins a key both
   * changed — the slave when `slaveServed`, the default — and the other value is kept in the
   * backup area and logged). `final`: the slave
   * has released the VIPs (its file is final). `stillWanted` is asked before this node's services
   * are stopped and before its astdb is replaced: a failback abandoned meanwhile touches nothing.
   * Resolves with what it did; throws when the data could not be brought across.
   */
  async fetchForFailback(
    final: boolean,
    stillWanted: () => boolean,
    stopServices: () => Promise<void>,
    slaveServed = true,
  ): Promise<string> {
    const config = this.deps.config();
    if (!config.replication.enabled) return 'replication is disabled: nothing fetched';
    if (!this.paired()) return 'not paired with the slave (pbx-ha pair): nothing fetched';
    // One at a time: a fetch of an abandoned failback may still be waiting on the network (a
    // cable cut under it); it shares the work files and the astdb with the next one. Its turn
    // over, a fetch no longer wanted ends at its next check.
    const turn = this.failbackLane.then(async () => {
      if (!stillWanted()) return 'failback abandoned before its fetch began: nothing fetched';
      this.fetchingAstdb = true;
      try {
        // A copy that started before (it will be refused or installed first): then the slave's file.
        await this.astdbCopy?.catch(() => undefined);
        const detail = await this.fetchAndMerge(
          final,
          stillWanted,
          stopServices,
          slaveServed ? 'slave' : 'master',
        );
        // Streaming mode: the master's server stands by for the slave's, caught up (the fetch while
        // the slave serves), then takes the primary role back once the slave's services are
        // stopped (the final fetch). See peer/streaming-db.ts.
        const db = await this.deps.streamingHandback?.(final, stillWanted);
        return db ? `${detail}; ${db}` : detail;
      } finally {
        this.fetchingAstdb = false;
      }
    });
    this.failbackLane = turn.catch(() => undefined);
    return turn;
  }

  private failbackLane: Promise<unknown> = Promise.resolve();

  private async fetchAndMerge(
    final: boolean,
    stillWanted: () => boolean,
    stopServices: () => Promise<void>,
    winner: 'master' | 'slave',
  ): Promise<string> {
    const released = final ? this.takeReleased() : null;
    const control = released?.control ?? (await this.deps.link.open());
    let others: string[];
    try {
      others = await this.returnSlaveChanges(control, released?.answer, stillWanted, stopServices);
    } catch (e) {
      control.close();
      throw e;
    }
    const astdb = await this.fetchAndMergeAstdb(final, stillWanted, stopServices, winner, released, control);
    return [astdb, ...others].join('; ');
  }

  /** The slave's spool files and database, as they were when `fetchAndMerge` last brought them across. */
  private returned: { spool: string | null | undefined; db: DbReturnState | null } = {
    spool: undefined,
    db: null,
  };

  /**
   * The spool files and the database the slave changed while it served, brought here
   * (jobs/spool-return.ts, jobs/db/return.ts); `releaseAnswer`: the final step's, whose
   * digests say whether anything changed since the early fetch (then nothing is asked).
   */
  private async returnSlaveChanges(
    control: PeerChannel,
    releaseAnswer: Record<string, unknown> | undefined,
    stillWanted: () => boolean,
    stopServices: () => Promise<void>,
    withDb = true,
  ): Promise<string[]> {
    const config = this.deps.config();
    const deps = {
      config,
      node: this.deps.identity().node,
      link: this.deps.link,
      control,
      stillWanted,
      stopServices,
      alert: (m: string) => (this.deps.alert ? this.deps.alert(m) : this.deps.log.log('warn', m)),
    };
    const field = (kind: string, key: string): string | null | undefined => {
      const v = (releaseAnswer?.[kind] as Record<string, unknown> | undefined)?.[key];
      return typeof v === 'string' ? v : releaseAnswer && v === null ? null : undefined;
    };
    const spool = await returnSpool(deps, this.returned.spool, field('spool', 'digest'));
    this.returned.spool = spool.slaveDigest;
    if (!withDb) return [spool.detail];
    const db = await returnDatabase(
      { ...deps, facts: this.deps.facts },
      this.returned.db,
      releaseAnswer?.db as Record<string, unknown> | undefined,
    );
    this.returned.db = db.state;
    return [spool.detail, db.detail];
  }

  /**
   * With `[failover] failback = manual` the slave may serve for days while the master is back in
   * standby: what the slave changes is brought here as it happens (the failback's early fetch,
   * run by agent/standby-pull.ts: spool files and astdb at each call, the database when `withDb`),
   * so that the standing-by master holds it. Resolves with what it did; null when it does not
   * apply now (not a master in standby with manual failback, or the slave does not serve).
   */
  async pullFromServingSlave(withDb: boolean, stopServices: () => Promise<void>): Promise<string | null> {
    const config = this.deps.config();
    const { role, node } = this.deps.identity();
    const applies = () =>
      role === 'master' &&
      this.deps.state() === 'standby' &&
      config.failover.failback === 'manual' &&
      config.replication.enabled &&
      this.paired();
    if (!applies()) return null;
    const turn = this.failbackLane.then(async () => {
      if (!applies()) return null;
      const control = await this.deps.link.open();
      let others: string[];
      try {
        const hello = parseHello(await control.request({ request: 'peer-hello', from: node }, 15_000));
        if (hello.state !== 'active') {
          control.close();
          return null;
        }
        others = await this.returnSlaveChanges(control, undefined, applies, stopServices, withDb);
      } catch (e) {
        control.close();
        throw e;
      }
      this.fetchingAstdb = true;
      try {
        await this.astdbCopy?.catch(() => undefined);
        const astdb = await this.fetchAndMergeAstdb(false, applies, stopServices, 'slave', null, control);
        return [astdb, ...others].join('; ');
      } finally {
        this.fetchingAstdb = false;
      }
    });
    this.failbackLane = turn.catch(() => undefined);
    return turn;
  }

  /** Whether the release answer says the slave's spool or database changed since the early fetch. */
  private releasedOtherDataChanged(): boolean {
    const a = this.released?.answer;
    if (!a) return false;
    const spool = (a.spool as { digest?: unknown } | undefined)?.digest;
    const db = a.db as { installed?: unknown; xid?: unknown } | undefined;
    const xid = db?.xid;
    const roots = this.deps.config().replication.files.spool;
    const spoolChanged =
      roots.length > 0 &&
      (typeof spool !== 'string' || (spool !== this.returned.spool && spool !== emptyListingDigest(roots)));
    const dbChanged =
      db !== undefined &&
      db.installed !== false &&
      (typeof xid !== 'string' || xid !== this.returned.db?.xid);
    return spoolChanged || dbChanged;
  }

  private async fetchAndMergeAstdb(
    final: boolean,
    stillWanted: () => boolean,
    stopServices: () => Promise<void>,
    winner: 'master' | 'slave',
    released: { slaveDigest: string | null | undefined } | null,
    control: PeerChannel,
  ): Promise<string> {
    const config = this.deps.config();
    const { node } = this.deps.identity();
    try {
      let slaveDigest: string | null;
      if (released && released.slaveDigest !== undefined) {
        slaveDigest = released.slaveDigest;
      } else {
        const info = await control.request({ request: 'peer-astdb-info', from: node }, 15_000);
        if (info.ok !== true) throw new Error(String(info.error));
        slaveDigest = typeof info.digest === 'string' ? info.digest : null;
      }
      const common = this.deps.facts.fact(LAST_SENT_ASTDB);
      const local = config.replication.astdb.path;
      if (slaveDigest === null) {
        this.fetchedSlaveDigest = null;
        return 'astdb kept: the slave has no readable astdb';
      }
      if (slaveDigest === common || slaveDigest === this.fetchedSlaveDigest) {
        this.fetchedSlaveDigest = slaveDigest;
        return `astdb kept: the slave did not change its astdb since it was last exchanged (${slaveDigest.slice(0, 8)})`;
      }
      const localOk = checkAstdb(local).ok;
      // An empty astdb is what Asterisk creates when its file is missing: a slave that started
      // without its copy. Merged against the base, it would delete every key the master has.
      if (slaveDigest === EMPTY_CONTENT_DIGEST && localOk) {
        this.fetchedSlaveDigest = slaveDigest;
        return "astdb kept: the slave's astdb is empty (an Asterisk started without its file), the master's is not";
      }
      const exported = await control.request({ request: 'peer-astdb-export', from: node }, 60_000);
      if (exported.ok !== true) throw new Error(String(exported.error));
      const staged = outbox(config, 'astdb-from-peer.sqlite3');
      await this.deps.link.fetch(REMOTE.astdbExport, staged, config.replication.astdb.timeoutMs);
      const fetched = await inspectAstdb(staged);
      if (!fetched.ok) throw new Error(`the slave's astdb is not sound: ${fetched.problem}`);
      if (fetched.digest !== exported.digest)
        throw new Error(
          `the fetched astdb (${fetched.digest.slice(0, 8)}) is not the one the slave exported (${String(exported.digest).slice(0, 8)})`,
        );
      if (!stillWanted()) return 'failback abandoned before the merge: nothing replaced';
      // This master's services serve no phone (the VIPs are on the slave, or free): stopped so
      // that its Asterisk neither writes during the merge nor keeps the replaced file open.
      await stopServices();
      const mine = localOk ? await takeSnapshot(local, outbox(config, 'astdb-mine.sqlite3')) : null;
      const basePath = mergeBasePath(config.agent.stateDir);
      const backupDir = path.join(config.replication.backupDir, 'astdb');
      await mkdir(backupDir, { recursive: true, mode: 0o700 });
      const conflictsFile = conflictsFilePath(backupDir, new Date());
      const merged = await mergeAstdb({
        base: (await exists(basePath)) ? basePath : null,
        baseDigest: common,
        master: mine?.path ?? null,
        slave: staged,
        out: outbox(config, 'astdb-merged.sqlite3'),
        conflictsFile,
        winner,
      });
      if (!stillWanted()) return 'failback abandoned before the install: nothing replaced';
      const installed = await installAstdb({
        stagedPath: outbox(config, 'astdb-merged.sqlite3'),
        targetPath: local,
        backupDir,
        keep: config.replication.keepBackups,
        madeBy: `${node} (merged with ${String(exported.node ?? 'the slave')})`,
        thisNode: node,
        expectedDigest: merged.digest,
      });
      if (merged.conflicts) await pruneConflictFiles(backupDir, config.replication.keepBackups);
      // The slave's file is what both nodes now have in common: the next merge's base.
      await this.keepBase(staged, fetched.digest);
      this.fetchedSlaveDigest = fetched.digest;
      const conflicts = merged.conflicts
        ? `; ${merged.conflicts} keys changed on both sides, the ${winner}'s value kept (it served last), the ${winner === 'slave' ? 'master' : 'slave'}'s in ${conflictsFile} (${merged.conflictKeys.join(', ')}${merged.conflicts > merged.conflictKeys.length ? ', ...' : ''})`
        : '';
      const base = merged.baseIgnored
        ? `; merged without a base (${merged.baseIgnored}): no deletion applied`
        : '';
      return (
        `astdb merged with the slave's${final ? ' (its last changes)' : ''}: ${merged.fromSlave} keys from the slave, ` +
        `${merged.fromMaster} kept from the master, ${installed.keys} keys in all${conflicts}${base}; the master's previous file kept`
      );
    } finally {
      control.close();
    }
  }
}
