// A consistent copy of a live astdb, made with SQLite's online backup API while Asterisk may be
// writing to it, and checked before anyone can see it.
//
// Why the copy runs inside a read transaction of our own, in one backup step: SQLite restarts an
// online backup from page 1 whenever another connection writes to the source between two steps,
// so a copy made 100 pages per event-loop turn could restart for ever on a busy PBX. And a step
// that finds the source locked before the first page reports "0 pages left", which
// better-sqlite3 takes for "done": no copy at all. Taking the read lock first (waiting for it
// without blocking the event loop), then copying every page in one step under it, gives a
// point-in-time copy whatever the journal mode:
// - WAL: readers never block Asterisk.
// - Rollback journal (Asterisk's default): Asterisk cannot COMMIT while the copy holds its shared
//   lock. Asterisk sets no busy timeout; its COMMIT fails, it logs a warning and commits the
//   same transaction at its next sync (about a second later). Nothing is lost; the lock is held
//   for the time the pages take to copy (about 20 ms for 100 000 keys, 7 MB).

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import {
  astdbProblems,
  DEFAULT_BUSY_TIMEOUT_MS,
  digestOfOpenDatabase,
  openAstdbReadOnly,
  ASTDB_TABLE,
} from './digest';
import { fsyncDir, fsyncFile, tempPathBeside } from './durable-files';

export interface SnapshotInfo {
  path: string;
  bytes: number;
  keys: number;
  /** Content digest (see digest.ts), not a digest of the file's bytes. */
  digest: string;
}

export interface SnapshotOptions {
  /** How long one attempt waits for a lock held by Asterisk (blocks the event loop meanwhile). */
  busyTimeoutMs?: number;
  /** Gives up when the source stays locked this long. */
  timeoutMs?: number;
  /**
   * Open the source read-write, so that SQLite rolls back a hot journal or recovers a WAL left
   * by a crash, as Asterisk itself would on its next start. Only for a file no Asterisk uses
   * (install.ts, on a scratch copy of the file it replaces); a live astdb is opened read-only.
   */
  recover?: boolean;
}

const ALL_PAGES = 0x7fffffff;

/** SQLite's companion files: they belong to the database file of the same name. */
export function companionPaths(dbPath: string): string[] {
  return ['-wal', '-shm', '-journal'].map((suffix) => dbPath + suffix);
}

export async function removeWithCompanions(dbPath: string): Promise<void> {
  for (const file of [dbPath, ...companionPaths(dbPath)]) await fs.rm(file, { force: true });
}

function openSource(sourcePath: string, options: SnapshotOptions): Database.Database {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  try {
    return options.recover
      ? new Database(sourcePath, { fileMustExist: true, timeout: busyTimeoutMs })
      : openAstdbReadOnly(sourcePath, busyTimeoutMs);
  } catch (err) {
    throw new Error(`astdb snapshot: cannot open ${sourcePath}: ${(err as Error).message}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens a read transaction on the source. Each attempt waits at most the busy timeout (which
 * blocks the event loop); between attempts the event loop runs, until the deadline.
 */
async function beginRead(
  source: Database.Database,
  sourcePath: string,
  deadline: number,
  timeoutMs: number,
): Promise<void> {
  for (;;) {
    try {
      source.exec('BEGIN');
      source.prepare('SELECT count(*) FROM sqlite_master').get(); // takes the read lock
      return;
    } catch (err) {
      if (source.inTransaction) source.exec('ROLLBACK');
      const busy = (err as { code?: string }).code === 'SQLITE_BUSY';
      if (!busy) throw new Error(`astdb snapshot: cannot read ${sourcePath}: ${(err as Error).message}`);
      if (performance.now() > deadline)
        throw new Error(`astdb snapshot: ${sourcePath} stayed locked for ${timeoutMs} ms`);
      await sleep(10);
    }
  }
}

async function copyAllPages(
  source: Database.Database,
  sourcePath: string,
  tempPath: string,
  deadline: number,
  timeoutMs: number,
): Promise<void> {
  let progress: Database.BackupMetadata;
  try {
    progress = await source.backup(tempPath, {
      // Called between steps, also after a step that found a lock (SQLITE_BUSY): better-sqlite3
      // then tries again on the next event-loop turn, until this deadline.
      progress: () => {
        if (performance.now() > deadline) throw new Error(`a lock stayed for ${timeoutMs} ms`);
        return ALL_PAGES;
      },
    });
  } catch (err) {
    throw new Error(`astdb snapshot of ${sourcePath} into ${tempPath} failed: ${(err as Error).message}`);
  }
  if (progress.totalPages === 0)
    throw new Error(`astdb snapshot of ${sourcePath}: the backup copied no page`);
}

/** Checks the fresh copy and reads what it holds; throws, naming both files, when it is not sound. */
function inspectCopy(sourcePath: string, tempPath: string): { keys: number; digest: string } {
  let problem: string;
  try {
    const copy = openAstdbReadOnly(tempPath);
    try {
      const problems = astdbProblems(copy);
      if (problems.length === 0) {
        const keys = (copy.prepare(`SELECT count(*) AS n FROM ${ASTDB_TABLE}`).get() as { n: number }).n;
        return { keys, digest: digestOfOpenDatabase(copy) };
      }
      problem = problems.join('; ');
    } finally {
      copy.close();
    }
  } catch (err) {
    problem = (err as Error).message; // a read that SQLite itself found malformed
  }
  throw new Error(`astdb snapshot of ${sourcePath} is not sound (copy ${tempPath} deleted): ${problem}`);
}

/**
 * Copies the astdb at `sourcePath` to `destPath` (replaced atomically), checks the copy with
 * `PRAGMA integrity_check`, and returns what the copy holds. A copy that fails the check is
 * deleted and never reaches `destPath`.
 */
export async function takeSnapshot(
  sourcePath: string,
  destPath: string,
  options: SnapshotOptions = {},
): Promise<SnapshotInfo> {
  const tempPath = tempPathBeside(destPath);
  try {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = performance.now() + timeoutMs;
    const source = openSource(sourcePath, options);
    try {
      await beginRead(source, sourcePath, deadline, timeoutMs);
      await copyAllPages(source, sourcePath, tempPath, deadline, timeoutMs);
    } finally {
      source.close(); // ends the read transaction: Asterisk may commit again
    }

    const { keys, digest } = inspectCopy(sourcePath, tempPath);

    await fsyncFile(tempPath);
    // Leftover companions of an earlier dest would be applied to the new file by SQLite.
    for (const stale of companionPaths(destPath)) await fs.rm(stale, { force: true });
    await fs.rename(tempPath, destPath);
    await fsyncDir(path.dirname(destPath));
    const { size } = await fs.stat(destPath);
    return { path: destPath, bytes: size, keys, digest };
  } catch (err) {
    await removeWithCompanions(tempPath);
    throw err;
  }
}
