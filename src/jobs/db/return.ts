// The rows the slave wrote while it served, brought back to the master at a failback, in the
// dump mode (docs/replication.md, "What comes back at a failback"). Decided by content, never
// by clocks:
// - the slave records, when it installs the master's dump, that dump's content digest
//   (dumpContentDigest: its lines without comments and pg_dump's random \restrict keys);
// - at a failback the master asks `peer-db-export`: the slave dumps its database with the same
//   options as the master's copy (copy.ts) and compares; changed, it publishes the dump in
//   outgoing/db.sql. The master fetches it, restores it with restoreDatabase (which first dumps
//   the master's own data to backup/db, the `keep_backups` newest kept), and alerts when its own
//   data had changed too since the last copy it sent: those changes are then only in that dump;
// - the release answer carries PostgreSQL's next transaction id (`xid`): no write transaction
//   since the early fetch, no dump at the final step (a quick question, no transfer).
// The excluded tables (call logs) are not copied by the dump mode in either direction.

import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../adapters/exec';
import type { PbxHaConfig } from '../../config/types';
import type { PeerChannel, PeerLink } from '../../ports/peer-link';
import { publishOutgoing } from '../staged-tree';
import { dbBackupDir, dbWorkFile, POSTGRES_OS_USER } from '../db-settings';
import { pgEnvironment } from './commands';
import { dumpDatabase, restoreDatabase } from './copy';

export const DB_EXPORT = 'db.sql';
/** The store's key for the content digest of the last dump both nodes held (sent, or brought back). */
export const LAST_COMMON_DB = 'db.last-common-digest';

/**
 * Longest line of a dump read for its digest. The dump may come from the peer: a file without a
 * newline must not be gathered into one string until the process runs out of memory.
 */
export const MAX_DUMP_LINE_BYTES = 64 * 1024 * 1024;

/**
 * SHA-256 (hex) of a data dump's content: its lines but comments, blank lines and \restrict
 * keys. Throws on a line longer than MAX_DUMP_LINE_BYTES (not a dump pbx-ha reads).
 */
export async function dumpContentDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  const take = (line: Buffer): void => {
    if (line.length === 0) return;
    const head = line.subarray(0, 12).toString('latin1');
    if (head.startsWith('--') || /^\\(un)?restrict /.test(head)) return;
    hash.update(line).update('\n');
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of createReadStream(file)) {
    const buf = chunk as Buffer;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      const part = buf.subarray(start, nl);
      take(pending.length ? Buffer.concat([...pending, part]) : part);
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
    }
    if (start < buf.length) {
      pending.push(buf.subarray(start));
      pendingBytes += buf.length - start;
      if (pendingBytes > MAX_DUMP_LINE_BYTES)
        throw new Error(`${file}: a line longer than ${MAX_DUMP_LINE_BYTES} bytes: not a dump pbx-ha reads`);
    }
  }
  if (pending.length) take(Buffer.concat(pending));
  return hash.digest('hex');
}

const installedPath = (config: PbxHaConfig) => path.join(config.agent.stateDir, 'db-installed.json');

/** Slave: records the dump just installed (its content digest), the base of the next failback. */
export async function recordInstalledDump(config: PbxHaConfig, file: string): Promise<void> {
  const digest = await dumpContentDigest(file);
  const target = installedPath(config);
  await fs.writeFile(`${target}.tmp`, JSON.stringify({ digest }), { mode: 0o600 });
  await fs.rename(`${target}.tmp`, target);
}

async function installedDigest(config: PbxHaConfig): Promise<string | null> {
  try {
    const v = JSON.parse(await fs.readFile(installedPath(config), 'utf8')) as { digest?: unknown };
    return typeof v.digest === 'string' && /^[0-9a-f]{64}$/.test(v.digest) ? v.digest : null;
  } catch {
    return null;
  }
}

/**
 * PostgreSQL's next transaction id (pg_current_snapshot's xmax): it moves with every write
 * transaction (and with autovacuum's analyses: then a dump tells). Null when unknown.
 */
export async function nextXid(config: PbxHaConfig): Promise<string | null> {
  const db = config.replication.db;
  try {
    const r = await runCommand(
      [
        'runuser',
        '-u',
        POSTGRES_OS_USER,
        '--',
        'psql',
        '-X',
        '--no-password',
        '-A',
        '-t',
        '-h',
        db.host,
        '-p',
        String(db.port),
        '-U',
        db.user,
        '-d',
        db.database,
        '-c',
        'SELECT pg_snapshot_xmax(pg_current_snapshot())',
      ],
      { timeoutMs: 5_000, env: pgEnvironment() },
    );
    const xid = r.stdout.trim();
    return /^\d{1,20}$/.test(xid) ? xid : null;
  } catch {
    return null;
  }
}

/**
 * The release answer's `db`: `installed` false when no copy from the master was ever installed
 * here (nothing to bring back), else the next transaction id (null: unknown, then asked again).
 */
export async function dbInfo(config: PbxHaConfig): Promise<{ installed: boolean; xid: string | null }> {
  // Streaming mode: PostgreSQL's own replication brings the rows (peer/streaming-db.ts), no dump.
  if (config.replication.db.mode === 'streaming') return { installed: false, xid: null };
  if ((await installedDigest(config)) === null) return { installed: false, xid: null };
  return { installed: true, xid: await nextXid(config) };
}

/** `peer-db-export` on the slave: whether its data changed since the master's last dump, and if so the dump in outgoing/. */
export function exportDatabaseForReturn(config: PbxHaConfig): Promise<Record<string, unknown>> {
  // One pg_dump at a time, whoever asks (a holder of pbx-ha's key could otherwise load a serving
  // PBX's database with as many as it likes), and none while no write ran since the last one.
  const run = exportLane.then(() => exportOnce(config));
  exportLane = run.catch(() => undefined);
  return run;
}

let exportLane: Promise<unknown> = Promise.resolve();
/** The last export's answer and the transaction id it was made at: unchanged, it is answered again. */
let lastExport: { xid: string; installed: string; answer: Record<string, unknown> } | null = null;

async function exportOnce(config: PbxHaConfig): Promise<Record<string, unknown>> {
  if (config.replication.db.mode === 'streaming')
    return { ok: true, changed: false, why: 'streaming mode: PostgreSQL replicates the database itself' };
  const installed = await installedDigest(config);
  if (installed === null)
    return { ok: true, changed: false, why: 'no database copy from the master was ever installed here' };
  const xid = await nextXid(config);
  if (xid !== null && lastExport?.xid === xid && lastExport.installed === installed) return lastExport.answer;
  const db = config.replication.db;
  const dump = await dumpDatabase({
    ...db,
    osUser: POSTGRES_OS_USER,
    file: dbWorkFile(config, 'return.sql'),
  });
  const digest = await dumpContentDigest(dump.file);
  const answer: Record<string, unknown> =
    digest === installed
      ? { ok: true, changed: false, digest, xid }
      : { ok: true, changed: true, digest, xid, tables: dump.tables.length, bytes: dump.bytes };
  if (answer.changed === true) await publishOutgoing(config.replication.exchangeDir, dump.file, DB_EXPORT);
  if (xid !== null) lastExport = { xid, installed, answer };
  return answer;
}

export interface DbReturnDeps {
  config: PbxHaConfig;
  node: string;
  link: PeerLink;
  control: PeerChannel;
  facts: { fact(key: string): string | null; setFact(key: string, value: string): void };
  stillWanted: () => boolean;
  stopServices: () => Promise<void>;
  alert: (message: string) => void;
}

/** What the master knows of the slave's database after a return: its xid and digest then. */
export interface DbReturnState {
  xid: string | null;
  digest: string | null;
}

/**
 * Brings the slave's rows here when its database changed since the master's last copy.
 * `known`: what the early fetch found; `releasedXid`: the release answer's (equal: nothing is
 * asked). Resolves with what it did and what it found; throws when the rows could not be
 * brought across.
 */
export async function returnDatabase(
  d: DbReturnDeps,
  known: DbReturnState | null,
  released: { installed?: unknown; xid?: unknown } | undefined,
): Promise<{ detail: string; state: DbReturnState | null }> {
  if (d.config.replication.db.mode === 'streaming')
    return { detail: 'database: streamed by PostgreSQL (streaming mode)', state: known };
  if (released?.installed === false)
    return { detail: 'database: no copy from the master was ever installed on the slave', state: known };
  if (known && typeof released?.xid === 'string' && released.xid === known.xid)
    return { detail: 'database: no write on the slave since the early fetch', state: known };
  const exported = await d.control.request({ request: 'peer-db-export', from: d.node }, 15 * 60_000);
  if (exported.ok !== true) throw new Error(`database export: ${String(exported.error)}`);
  const xid = typeof exported.xid === 'string' && /^\d{1,20}$/.test(exported.xid) ? exported.xid : null;
  const digest =
    typeof exported.digest === 'string' && /^[0-9a-f]{64}$/.test(exported.digest) ? exported.digest : null;
  if (exported.changed !== true)
    return {
      detail: `database: the slave's is the master's last copy${typeof exported.why === 'string' ? ` (${exported.why.slice(0, 200)})` : ''}`,
      state: { xid, digest },
    };
  if (digest === null) throw new Error("database export: the slave's answer has no digest");
  if (known && digest === known.digest)
    return { detail: 'database: already brought across at the early fetch', state: { xid, digest } };
  const { config } = d;
  const db = config.replication.db;
  const file = dbWorkFile(config, 'from-peer.sql');
  await fs.rm(file, { force: true });
  await d.link.fetch(`outgoing/${DB_EXPORT}`, file, db.timeoutMs);
  const fetched = await dumpContentDigest(file);
  if (fetched !== digest)
    throw new Error(
      `the fetched dump (${fetched.slice(0, 8)}) is not the one the slave exported (${digest.slice(0, 8)})`,
    );
  if (!d.stillWanted()) return { detail: 'database: failback abandoned before the restore', state: null };
  await d.stopServices();
  try {
    const restored = await restoreDatabase({
      ...db,
      osUser: POSTGRES_OS_USER,
      file,
      backupDir: dbBackupDir(config),
      keep: config.replication.keepBackups,
    });
    const mine = await dumpContentDigest(restored.backupFile);
    const common = d.facts.fact(LAST_COMMON_DB);
    d.facts.setFact(LAST_COMMON_DB, digest);
    const bothChanged = mine !== common && mine !== known?.digest;
    if (bothChanged)
      d.alert(
        `failback: the master's database had changed too since its last copy to the slave; the slave's rows (it served last) are in place, the master's changes are only in ${restored.backupFile}`,
      );
    return {
      detail:
        `database: the slave's rows restored (${restored.tables.length} tables, ${restored.bytes} bytes); the master's previous data kept in ${restored.backupFile}` +
        (bothChanged ? ' (it had changed since the last copy too: alerted)' : ''),
      state: { xid, digest },
    };
  } finally {
    await fs.rm(file, { force: true });
  }
}
