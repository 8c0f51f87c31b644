// The receiving side of the trusted link, inside the agent: answers the peer's requests that
// `pbx-ha peer-command` let through. A node accepts a copy only in `standby` (BEHAVIOR.md,
// "Data"): an active node serves with its own data and refuses, saying why. A request is
// honoured only when it names the configured peer, and only when it makes sense in this node's
// role and state (domain/request-authority.ts); a refused one changes nothing, gets the reason
// as its answer, and is logged (and, when only an impostor or a misconfigured pair sends it,
// alerted, so that it is in the history).

import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { restoreDatabase } from '../jobs/db/copy';
import { dbBackupDir, dbWorkFile, POSTGRES_OS_USER } from '../jobs/db-settings';
import type { ControlAnswer } from '../adapters/control-socket';
import type { PbxHaConfig } from '../config/types';
import type { CopyKind } from '../domain/copies';
import type { NodeState } from '../domain/states';
import { installAstdb } from '../jobs/astdb/install';
import { checkAstdb, contentDigest } from '../jobs/astdb/digest';
import { readProvenance } from '../jobs/astdb/provenance';
import { takeSnapshot } from '../jobs/astdb/snapshot';
import { installFiles } from '../jobs/files';
import { publishSpoolFiles, publishSpoolListing, spoolInfo } from '../jobs/spool-return';
import { dbInfo, exportDatabaseForReturn, recordInstalledDump } from '../jobs/db/return';
import { judgePeerRequest } from '../domain/request-authority';
import { quotedPeerText, type PeerRequest } from './protocol';
import { INCOMING, stagingPaths } from './staging';
import { copyStagedFile, exchangeSubdir, publishOutgoing } from '../jobs/staged-tree';
import type { Logger } from '../ports/log';
import type { StreamingDb } from './streaming-db';

export interface ReceiverDeps {
  config: () => PbxHaConfig;
  identity: () => { node: string; role: 'master' | 'slave' };
  state: () => NodeState;
  /** Why the node is in its state, for refusals. */
  reason: () => string;
  log: Logger;
  recordJob: (summary: string, ok: boolean) => void;
  /** Hands the peer's takeover, release, quiesce or resume request to the node machine; resolves with the new state. */
  peerAsks: (request: 'takeover' | 'release' | 'quiesce' | 'resume') => Promise<NodeState>;
  /**
   * The node machine's two-phase failback state: quiesced now; the last release honoured found
   * it quiesced. Absent: never quiesced.
   */
  handback?: () => { quiesced: boolean; releasedQuiesced: boolean };
  /** Told of every request from the configured peer: it can reach this node (it may ask for the VIPs back). */
  peerSeen?: () => void;
  /**
   * Raises an alert (log and history) for a request no agent of the pair sends: another name
   * in `from`, or a request only a slave may be asked, sent to the master. Absent: logged only.
   */
  alert?: (message: string) => void;
  /** Told of every copy received, installed or not, for `pbx-ha status` (agent/received-copies.ts). */
  received?: (copy: { kind: CopyKind; from: string; ok: boolean; detail: string }) => void;
  /** The streaming mode's side of the master's requests (peer/streaming-db.ts); absent: refused. */
  streaming?: StreamingDb;
}

export class PeerReceiver {
  /** The last refusal alerted (see `refuse`). */
  private lastAlert: string | null = null;

  constructor(private deps: ReceiverDeps) {}

  async handle(req: PeerRequest): Promise<ControlAnswer> {
    const { node, role } = this.deps.identity();
    const config = this.deps.config();
    const peer = role === 'master' ? config.slave : config.master;
    if (req.from !== peer) return this.refuse(req, `${node} takes requests only from its peer ${peer}`, true);
    this.deps.peerSeen?.();
    const state = this.deps.state();
    const verdict = judgePeerRequest(req.request, {
      node,
      role,
      state,
      reason: this.deps.reason(),
      quiesced: this.deps.handback?.().quiesced ?? false,
    });
    if (!verdict.honoured) return this.refuse(req, verdict.why, role === 'master');
    const staging = stagingPaths(config);
    switch (req.request) {
      case 'peer-hello':
        return { ok: true, node, role, state };
      case 'peer-astdb-info':
        return { ok: true, node, state, ...(await astdbInfo(config.replication.astdb.path)) };
      case 'peer-astdb-export': {
        // Also while this node serves: the master brings the slave's data across before it asks
        // for the VIPs (a consistent online snapshot; what changes after it is fetched again
        // once the services are stopped, see Replication.fetchForFailback).
        // Made in pbx-ha's own directory, then put in outgoing/ without following any link there.
        const snap = await takeSnapshot(
          config.replication.astdb.path,
          await privateFile(config, 'astdb-export.sqlite3'),
        );
        await publishOutgoing(config.replication.exchangeDir, snap.path, path.basename(staging.astdbExport));
        return { ok: true, node, digest: snap.digest, keys: snap.keys, bytes: snap.bytes };
      }
      // What this node changed while it served, for the master's failback (jobs/spool-return.ts, jobs/db/return.ts).
      case 'peer-spool-list':
        return { ...(await publishSpoolListing(config)), ok: true, node };
      case 'peer-spool-export':
        return { ...(await publishSpoolFiles(config)), ok: true, node };
      case 'peer-db-export':
        return { ...(await exportDatabaseForReturn(config)), ok: true, node };
      case 'peer-takeover': {
        const now = await this.deps.peerAsks('takeover');
        if (now !== 'active')
          return { ok: false, error: `${node} did not take over: it is ${now} (${this.deps.reason()})` };
        this.deps.log.log('info', `took over at ${req.from}'s request`);
        return { ok: true, node, state: now };
      }
      case 'peer-quiesce': {
        // Two-phase failback: the services are stopped (the machine waits for it) and the VIPs
        // kept; the digests of the data, final now, go with the answer, so that the master
        // fetches only what changed since its first fetch, while this node still holds the VIPs.
        const now = await this.deps.peerAsks('quiesce');
        const quiesced = this.deps.handback?.().quiesced ?? false;
        if (now === 'active' && !quiesced)
          return { ok: false, error: `${node} did not stop its services: ${this.deps.reason()}` };
        if (quiesced)
          this.deps.log.log(
            'info',
            `quiesced at ${req.from}'s request (failback): services stopped, the VIPs kept until its release`,
          );
        return { ok: true, node, state: now, quiesced, data: await dataDigests(config) };
      }
      case 'peer-resume': {
        const now = await this.deps.peerAsks('resume');
        return { ok: true, node, state: now };
      }
      case 'peer-release': {
        const now = await this.deps.peerAsks('release');
        if (now === 'active') return { ok: false, error: `${node} is still active` };
        // Quiesced until now: the data is as the quiesce answer said, and the master fetched
        // what it needed then. Answered at once: the VIPs are without a holder until the
        // master reads this answer, so nothing is read or computed in between.
        if (this.deps.handback?.().releasedQuiesced) return { ok: true, node, state: now, quiesced: true };
        // The services are stopped and the VIPs released: the astdb is final. Its digest goes
        // with the answer, so that the master, which claims the VIPs as soon as it reads it,
        // knows at once whether it must fetch the file (no second request in the outage).
        return {
          ok: true,
          node,
          state: now,
          astdb: await astdbInfo(config.replication.astdb.path),
          ...(await returnInfo(config)),
        };
      }
      case 'peer-pg-state':
      case 'peer-pg-stop':
      case 'peer-pg-start':
      case 'peer-pg-follow':
        return this.streaming(req);
      case 'peer-install': {
        try {
          const detail = await this.install(req.kind, req.from, req.digest, config, req.paths);
          this.deps.recordJob(`${req.kind} copy from ${req.from} installed: ${detail}`, true);
          this.deps.received?.({ kind: req.kind, from: req.from, ok: true, detail });
          return { ok: true, node, detail };
        } catch (e) {
          const message = `${req.kind} copy from ${req.from} NOT installed, previous data kept: ${(e as Error).message}`;
          this.deps.recordJob(message, false);
          this.deps.received?.({ kind: req.kind, from: req.from, ok: false, detail: message });
          this.deps.log.log('error', message);
          return { ok: false, error: message };
        }
      }
    }
  }

  /** The streaming mode's requests: the master's server asks the slave's (peer/streaming-db.ts). */
  private async streaming(
    req: Extract<
      PeerRequest,
      { request: 'peer-pg-state' | 'peer-pg-stop' | 'peer-pg-start' | 'peer-pg-follow' }
    >,
  ): Promise<ControlAnswer> {
    const db = this.deps.streaming;
    const node = this.deps.identity().node;
    if (!db?.enabled()) return { ok: false, error: `${node}: [sync.db] mode is not streaming here` };
    try {
      switch (req.request) {
        case 'peer-pg-state':
          return { ok: true, node, ...(await db.stateText()) };
        case 'peer-pg-stop':
          return { ok: true, node, detail: await db.control('stop') };
        case 'peer-pg-start':
          return { ok: true, node, detail: await db.control('start') };
        case 'peer-pg-follow':
          return { ok: true, node, ...(await db.follow(req.secret)) };
      }
    } catch (e) {
      return { ok: false, error: `${node}: ${(e as Error).message}` };
    }
  }

  /** A request that is not honoured: nothing changes; the reason goes back, and into the log. */
  private refuse(req: PeerRequest, why: string, alert: boolean): ControlAnswer {
    const what = req.request === 'peer-install' ? `a ${req.kind} copy` : req.request;
    const message = `refused ${what} from ${quotedPeerText(req.from)}: ${why}`;
    // Alerted once in a row: the same refusal repeated (a loop, or a key holder's flood) is
    // logged, not turned into one alert and one notification each.
    if (alert && this.deps.alert && message !== this.lastAlert) this.deps.alert(message);
    else this.deps.log.log('warn', message);
    if (alert) this.lastAlert = message;
    return { ok: false, error: why };
  }

  private async install(
    kind: 'files' | 'db' | 'astdb',
    from: string,
    digest: string | undefined,
    config: PbxHaConfig,
    only?: string[],
  ): Promise<string> {
    const r = config.replication;
    switch (kind) {
      case 'astdb': {
        // Checked and installed from pbx-ha's own copy, read from the staging area without following links.
        const copy = await privateFile(config, 'astdb-staged.sqlite3');
        await copyStagedFile(exchangeSubdir(r.exchangeDir, 'incoming'), INCOMING.astdb, copy);
        const result = await installAstdb({
          stagedPath: copy,
          expectedDigest: digest,
          targetPath: config.replication.astdb.path,
          backupDir: path.join(r.backupDir, 'astdb'),
          keep: r.keepBackups,
          madeBy: from,
          thisNode: this.deps.identity().node,
        });
        return (
          `${result.keys} keys` +
          (result.replaced ? `; replaced file kept as ${result.replaced.backupPath}` : '')
        );
      }
      case 'db': {
        // psql runs as the postgres user, which cannot enter the root-only staging area.
        const work = dbWorkFile(config, 'restore.sql');
        await copyStagedFile(exchangeSubdir(r.exchangeDir, 'incoming'), INCOMING.db, work);
        try {
          const result = await restoreDatabase({
            ...config.replication.db,
            osUser: POSTGRES_OS_USER,
            file: work,
            backupDir: dbBackupDir(config),
            keep: r.keepBackups,
          });
          await recordInstalledDump(config, work); // the base of the next failback's database return
          return `${result.tables.length} tables restored in ${Math.round(result.durationMs)} ms; previous data kept in ${result.backupFile}`;
        } finally {
          await rm(work, { force: true });
        }
      }
      case 'files': {
        // A change copy installs the spool roots it sent, which must be this node's own.
        const foreign = (only ?? []).filter((p) => !config.replication.files.spool.includes(p));
        if (foreign.length)
          throw new Error(
            `${foreign.join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not among this node's [sync.files] spool paths (${config.replication.files.spool.join(', ') || 'none'}): the two nodes' configurations differ`,
          );
        const result = await installFiles(
          path.join(exchangeSubdir(r.exchangeDir, 'incoming'), INCOMING.files),
          only ?? config.replication.files.paths,
          // A change copy's replaced files are kept apart: a day of voicemail deletions would
          // otherwise push the configuration's backups out of the `keep_backups` newest.
          path.join(r.backupDir, only ? 'spool' : 'files'),
          config.replication.files.timeoutMs,
          r.keepBackups,
          // A change copy adds and updates, never removes: a voicemail the slave recorded while
          // it served must not go with the master's first change after a failback. Removals
          // reach the slave at the next full copy, the replaced files kept under files-*.
          !only,
        );
        return `${result.installed.length} paths installed; ${result.backupDir ? `replaced files kept in ${result.backupDir}` : 'nothing replaced'}`;
      }
    }
  }
}

/** A file in pbx-ha's own root-only directory (never in the exchange area the peer writes to). */
async function privateFile(config: PbxHaConfig, name: string): Promise<string> {
  const dir = path.join(config.agent.stateDir, 'work');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, name);
}

/**
 * What the master needs to decide whether the spool files and the database changed since its
 * early failback fetch (the digest of the spool listing, PostgreSQL's next transaction id).
 * Unknown (an error) is null: the master then asks again.
 */
async function returnInfo(config: PbxHaConfig): Promise<Record<string, unknown>> {
  const spool = await spoolInfo(config).catch(() => ({ digest: null }));
  const db = await dbInfo(config).catch(() => ({ installed: true, xid: null }));
  return { spool, db };
}

/**
 * The digest of each kind of data a failback brings back, for the quiesce answer
 * (protocol.ts's QuiesceAnswer): `{ astdb: { digest, … }, spool: { digest }, db: { installed, xid } }`.
 */
async function dataDigests(config: PbxHaConfig): Promise<Record<string, Record<string, unknown>>> {
  return {
    astdb: await astdbInfo(config.replication.astdb.path),
    ...((await returnInfo(config)) as Record<string, Record<string, unknown>>),
  };
}

/** What the master needs to decide whether to fetch this node's astdb (see Replication.fetchForFailback). */
async function astdbInfo(file: string): Promise<Record<string, unknown>> {
  const check = checkAstdb(file);
  if (!check.ok) return { digest: null, problem: check.problem };
  return { digest: contentDigest(file), keys: check.keys, provenance: await readProvenance(file) };
}
