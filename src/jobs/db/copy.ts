// The copy of PostgreSQL's data from the master to the slave (docs/replication.md, kind `db`):
// on the master, dumpDatabase() writes a data-only dump of the database, excluded tables' data
// left out, and checks it; on the slave, restoreDatabase() checks it again, dumps the slave's own
// data to the backup directory, then empties the dumped tables and loads the dump in one
// transaction: any error rolls everything back and the slave keeps its data as it was.
//
// Every program runs through runCommand (argv, timeout). Files pg_dump or psql must open are
// made reachable for `osUser` when one is set (see PgPrograms.osUser); the directories above
// them must be searchable by that user.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CommandError, runCommand } from '../../adapters/exec';
import { pruneBackups, newBackupPath } from './backups';
import type { PgConnection, PgPrograms } from './commands';
import { dumpCommand, listTablesCommand, pgEnvironment, restoreCommand } from './commands';
import { readDataDump, rowStream } from './data-dump';
import type { DatabaseListing } from './listing';
import { listedOrAssumed, ownedSequencePatterns, parseListing } from './listing';
import type { QualifiedName } from './names';
import { formatQualified, sameName } from './names';
import { exactPattern, excludingPattern, parseTablePattern } from './patterns';
import { DEFAULT_LOCK_TIMEOUT_MS, restoreScript, withoutRowData } from './restore';

export interface DbCopyOptions extends PgConnection, PgPrograms {
  /** pg_dump patterns of the tables whose data is not copied (`cel`, `stat_*`, `public.x`). */
  excludeTables: readonly string[];
  /** For the whole operation (each command gets what is left). */
  timeoutMs: number;
  /** How long a table lock may be waited for (pg_dump's and the restore's). Default 60 s. */
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface DumpOptions extends DbCopyOptions {
  /** Where the dump goes: written beside it under a temporary name, renamed when checked. */
  file: string;
}

export interface DumpResult {
  file: string;
  bytes: number;
  /** Tables whose data the dump holds. */
  tables: QualifiedName[];
  /** Sequences left out because their table is (patterns given to pg_dump). */
  excludedSequences: string[];
  durationMs: number;
}

export interface RestoreOptions extends DbCopyOptions {
  /** The dump to install (made by dumpDatabase). */
  file: string;
  /** Where the database's data is dumped before the restore (created if missing). */
  backupDir: string;
  /** How many backups to keep (at least 1: the one made now). */
  keep: number;
  /** Clock for the backup's name. */
  now?: () => Date;
}

export interface RestoreResult {
  durationMs: number;
  /** The database's data as it was before the restore. */
  backupFile: string;
  /** Tables emptied and loaded. */
  tables: QualifiedName[];
  bytes: number;
  /** Older backups removed to keep `keep`. */
  removedBackups: string[];
}

export class DbCopyError extends Error {
  constructor(
    message: string,
    /** The dump (or backup) file concerned. */
    readonly file: string,
    /** For a failed restore: the backup made before it. */
    readonly backupFile: string | null = null,
  ) {
    super(message);
    this.name = 'DbCopyError';
  }
}

class Deadline {
  private readonly end: number;
  constructor(readonly timeoutMs: number) {
    this.end = performance.now() + timeoutMs;
  }
  remaining(what: string, file: string): number {
    const left = Math.floor(this.end - performance.now());
    if (left <= 0)
      throw new DbCopyError(`${what}: out of time (the whole copy may take ${this.timeoutMs} ms)`, file);
    return left;
  }
}

/**
 * What a failed command said: how it ended and the end of its error output (`redact` takes
 * out what may quote the database's rows).
 */
function failure(e: unknown, redact: (stderr: string) => string = (s) => s): string {
  if (!(e instanceof CommandError)) return e instanceof Error ? e.message : String(e);
  const how = e.cause
    ? `could not be started (${e.cause.message})`
    : e.timedOut
      ? 'timed out and was killed'
      : e.signal
        ? `was killed by ${e.signal}`
        : `exited with code ${e.exitCode}`;
  const err = redact(e.stderr.trim());
  return `${path.basename(e.argv[0] === 'runuser' ? (e.argv[4] ?? 'runuser') : e.argv[0])} ${how}${err ? `: ${err.length > 1500 ? `…${err.slice(-1500)}` : err}` : ''}`;
}

async function systemUserIds(
  user: string,
  deadline: Deadline,
  file: string,
  signal?: AbortSignal,
): Promise<{ uid: number; gid: number }> {
  try {
    const uid = await runCommand(['id', '-u', user], {
      timeoutMs: Math.min(10_000, deadline.remaining('id', file)),
      signal,
    });
    const gid = await runCommand(['id', '-g', user], {
      timeoutMs: Math.min(10_000, deadline.remaining('id', file)),
      signal,
    });
    return { uid: Number.parseInt(uid.stdout.trim(), 10), gid: Number.parseInt(gid.stdout.trim(), 10) };
  } catch (e) {
    throw new DbCopyError(`system user ${user}: ${failure(e)}`, file);
  }
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const ownIds = () => ({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });

/** Lists the tables and owned sequences of the database (listing.ts). */
export async function listTables(
  o: PgConnection & PgPrograms & { timeoutMs: number; signal?: AbortSignal },
): Promise<DatabaseListing> {
  const r = await runCommand(listTablesCommand(o), {
    timeoutMs: o.timeoutMs,
    env: pgEnvironment(),
    signal: o.signal,
  });
  return parseListing(r.stdout);
}

async function listOrFail(o: DbCopyOptions, deadline: Deadline, file: string): Promise<DatabaseListing> {
  try {
    return await listTables({ ...o, timeoutMs: deadline.remaining('listing the tables', file) });
  } catch (e) {
    throw new DbCopyError(`listing the tables of database ${o.database} failed: ${failure(e)}`, file);
  }
}

/** Tables of the dump that an exclude pattern matches (a dump must never carry them). */
function excludedInDump(
  tables: readonly QualifiedName[],
  listing: DatabaseListing,
  excludeTables: readonly string[],
): string[] {
  const patterns = excludeTables.map(parseTablePattern);
  return tables.flatMap((t) => {
    const p = excludingPattern(patterns, listedOrAssumed(listing, t));
    return p === null ? [] : [`${formatQualified(t)} (pattern ${p})`];
  });
}

async function dumpWithDeadline(o: DumpOptions, deadline: Deadline): Promise<DumpResult> {
  const started = performance.now();
  const file = path.resolve(o.file);
  const dir = path.dirname(file);
  const listing = await listOrFail(o, deadline, file);
  const excludedSequences = ownedSequencePatterns(listing, o.excludeTables);
  const argvFor = (target: string) =>
    dumpCommand({
      ...o,
      file: target,
      excludeTableData: [...o.excludeTables, ...excludedSequences],
      lockWaitTimeoutMs: o.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    });
  argvFor(file); // settings checked before anything is written

  await fs.mkdir(dir, { recursive: true, mode: o.osUser ? 0o711 : 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await (await fs.open(tmp, 'wx', 0o600)).close();
  try {
    if (o.osUser) {
      const ids = await systemUserIds(o.osUser, deadline, file, o.signal);
      await fs.chown(tmp, ids.uid, ids.gid); // pg_dump, run as osUser, writes into it
    }
    try {
      await runCommand(argvFor(tmp), {
        timeoutMs: deadline.remaining('pg_dump', file),
        env: pgEnvironment(),
        signal: o.signal,
      });
    } catch (e) {
      throw new DbCopyError(`dump of database ${o.database} to ${file} failed: ${failure(e)}`, file);
    }
    if (o.osUser) await fs.chown(tmp, ownIds().uid, ownIds().gid);
    await fs.chmod(tmp, 0o600);
    const summary = await readDataDump(tmp).catch((e: Error) => {
      throw new DbCopyError(`dump of database ${o.database}: ${e.message}`, file);
    });
    const excluded = excludedInDump(summary.tables, listing, o.excludeTables);
    if (excluded.length > 0) {
      throw new DbCopyError(
        `dump of database ${o.database} holds data it must leave out: ${excluded.join(', ')}`,
        file,
      );
    }
    await fsyncPath(tmp);
    await fs.rename(tmp, file);
    await fsyncPath(dir);
    return {
      file,
      bytes: summary.bytes,
      tables: summary.tables,
      excludedSequences,
      durationMs: performance.now() - started,
    };
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Dumps the data of the database (excluded tables' data and their sequences left out) to
 * o.file, checked: complete, data only, none of the excluded tables in it.
 */
export async function dumpDatabase(o: DumpOptions): Promise<DumpResult> {
  return dumpWithDeadline(o, new Deadline(o.timeoutMs));
}

/**
 * Replaces the data of the dumped tables with the dump's, in one transaction. The dump is read
 * as data only (data-dump.ts): its rows go to psql's standard input for `\copy … from pstdin`,
 * its sequence values into setval calls pbx-ha writes; none of its statements is run. Before:
 * the dump is checked, every table it holds must exist here and none may be an excluded one (nor
 * an excluded table's sequence), and the database's current data is dumped to backupDir (the
 * `keep` newest kept). On a failure of psql the transaction is rolled back: the data stays as
 * it was; the error names the file and carries psql's message without the rows' values.
 */
export async function restoreDatabase(o: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const deadline = new Deadline(o.timeoutMs);
  const file = path.resolve(o.file);
  if (!Number.isInteger(o.keep) || o.keep < 1)
    throw new DbCopyError(`keep = ${o.keep}: at least 1 backup is kept`, file);

  const summary = await readDataDump(file).catch((e: Error) => {
    throw new DbCopyError(`restore refused, nothing changed: ${e.message}`, file);
  });
  const listing = await listOrFail(o, deadline, file);
  const missing = summary.tables.filter((t) => !listing.tables.some((l) => sameName(l, t)));
  if (missing.length > 0) {
    throw new DbCopyError(
      `restore of ${file} refused, nothing changed: database ${o.database} has no table ${missing.map(formatQualified).join(', ')} (do both nodes run the same version?)`,
      file,
    );
  }
  const excluded = excludedInDump(summary.tables, listing, o.excludeTables);
  const excludedSequences = ownedSequencePatterns(listing, o.excludeTables);
  for (const s of summary.sequences) {
    const owned = listing.sequences.find((l) => sameName(l, s));
    if (owned && excludedSequences.includes(exactPattern(owned)))
      excluded.push(`${formatQualified(s)} (sequence of ${formatQualified(owned.owner)})`);
  }
  if (excluded.length > 0) {
    throw new DbCopyError(
      `restore of ${file} refused, nothing changed: it holds data that is never copied: ${excluded.join(', ')}`,
      file,
    );
  }
  const script = restoreScript(summary, file, { lockTimeoutMs: o.lockTimeoutMs });

  const backupDir = path.resolve(o.backupDir);
  await fs.mkdir(backupDir, { recursive: true, mode: o.osUser ? 0o711 : 0o700 });
  const backupFile = await newBackupPath(backupDir, (o.now ?? (() => new Date()))());
  await dumpWithDeadline({ ...o, file: backupFile }, deadline).catch((e: Error) => {
    throw new DbCopyError(
      `restore of ${file} not started, nothing changed: the backup of the current data failed: ${e.message}`,
      file,
    );
  });

  const scriptFile = path.join(backupDir, `.restore-${process.pid}-${randomBytes(4).toString('hex')}.sql`);
  await fs.writeFile(scriptFile, script, { mode: 0o600, flag: 'wx' });
  try {
    if (o.osUser) {
      // psql, run as osUser, reads the script; the dump itself it never opens (its rows come
      // from pbx-ha on psql's standard input).
      const ids = await systemUserIds(o.osUser, deadline, file, o.signal);
      await fs.chown(scriptFile, ids.uid, ids.gid);
    }
    try {
      await runCommand(restoreCommand({ ...o, file: scriptFile }), {
        timeoutMs: deadline.remaining('psql', file),
        env: pgEnvironment(),
        signal: o.signal,
        inputStream: rowStream(file, summary),
      });
    } catch (e) {
      const end =
        e instanceof CommandError && (e.timedOut || e.signal)
          ? 'psql was stopped; the server rolls the transaction back when the connection drops'
          : `the transaction was rolled back, database ${o.database} keeps its data (backup ${backupFile})`;
      // Old backups go after the attempt too (bounded disk use), never while psql may read one.
      await pruneBackups(backupDir, o.keep, backupFile).catch(() => undefined);
      throw new DbCopyError(
        `restore of ${file} into database ${o.database} failed; ${end}: ${failure(e, withoutRowData)}`,
        file,
        backupFile,
      );
    }
  } finally {
    await fs.rm(scriptFile, { force: true });
  }
  // After the restore: the dump may itself be one of the old backups (restoring a previous version).
  const removedBackups = await pruneBackups(backupDir, o.keep, backupFile);
  return {
    durationMs: performance.now() - started,
    backupFile,
    tables: summary.tables,
    bytes: summary.bytes,
    removedBackups,
  };
}
