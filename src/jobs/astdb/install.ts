// Puts a checked astdb copy in place of Asterisk's file, keeping the file it replaces.
//
// The caller makes sure no Asterisk has the target open (the slave installs only in standby,
// services stopped): an Asterisk that kept running would go on writing to the replaced inode.
//
// Order, so that a crash at any point leaves either the old or the new file in place, and the
// old content always in the backup:
//   1. check the staged copy (nothing touched if it fails);
//   2. bring it into the target's directory (rename is atomic only within one filesystem);
//   3. keep the current target in the backup directory, with its provenance record;
//   4. remove the target's record and SQLite companions (-wal, -journal, -shm): they belong to
//      the old file, and SQLite would apply an old WAL or hot journal to the new one;
//   5. rename the new file over the target, sync the directory, write the new record;
//   6. prune the backups.

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspectAstdb } from './inspect';
import { exists, fsyncDir, fsyncFile } from './durable-files';
import { provenancePath, readProvenance, writeProvenance, type Provenance } from './provenance';
import { companionPaths, removeWithCompanions, takeSnapshot } from './snapshot';

export interface InstallRequest {
  /** The checked copy to install (in the staging area; left there unless it is already in the target's directory). */
  stagedPath: string;
  /** Asterisk's file, normally /var/lib/asterisk/astdb.sqlite3. */
  targetPath: string;
  /** Where the replaced file is kept, normally /var/lib/pbx-ha/backup/astdb. */
  backupDir: string;
  /** How many replaced files to keep (at least 1: the one just replaced is never pruned). */
  keep: number;
  /** The node that made the staged copy; recorded beside the installed file. */
  madeBy: string;
  /** This node's name, recorded on a replaced file that Asterisk changed here. Default: the hostname. */
  thisNode?: string;
  /** The content digest the sender announced: a staged copy holding anything else is refused. */
  expectedDigest?: string;
  /** Time limit of the check of the staged copy (inspect.ts), in ms. */
  checkTimeoutMs?: number;
  /** Wall clock, for the records and the backup names only (never for a decision). */
  now?: () => Date;
}

export interface ReplacedFile {
  backupPath: string;
  /** Content digest, or the digest of the bytes when `problem` is set. */
  digest: string;
  /** Set when the replaced file was not a readable astdb; it was then kept byte for byte. */
  problem?: string;
}

export interface InstallResult {
  targetPath: string;
  digest: string;
  keys: number;
  bytes: number;
  /** The file that was in place before, as kept in the backup directory; null if there was none. */
  replaced: ReplacedFile | null;
  /** Backups removed to keep only `keep`. */
  pruned: string[];
  durationMs: number;
}

const BACKUP_NAME = /^astdb-.+\.sqlite3$/;
const NEW_SUFFIX = '.pbx-ha-new';

/** ISO time without colons, which scp and rsync would read as host separators. Sorts like the time. */
function stamp(date: Date): string {
  return date.toISOString().replace(/:/g, '-');
}

async function freeBackupPath(backupDir: string, base: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = path.join(backupDir, `${base}${n === 0 ? '' : `-${n}`}.sqlite3`);
    if (!(await exists(candidate))) return candidate;
  }
}

/** Copies `from` and its -wal and -journal (SQLite finds them by name) to `to`; -shm is only a cache SQLite rebuilds. */
async function copyWithJournals(from: string, to: string): Promise<void> {
  for (const suffix of ['', '-wal', '-journal']) {
    if (!(await exists(from + suffix))) continue;
    await fs.copyFile(from + suffix, to + suffix);
    await fsyncFile(to + suffix);
  }
}

/**
 * Keeps the current target under backupDir. The target itself is never modified: it is copied
 * with its -wal and -journal to a scratch file, where SQLite may replay a WAL or roll back a hot
 * journal left by a crash (as Asterisk would on its next start), and that is copied with the
 * online backup. A file that is not a readable astdb is kept byte for byte, journals included.
 */
async function keepReplaced(
  targetPath: string,
  backupDir: string,
  thisNode: string,
  now: Date,
): Promise<ReplacedFile> {
  await fs.mkdir(backupDir, { recursive: true, mode: 0o700 });
  // A broken record must not prevent the install: the file is what matters.
  const recorded = await readProvenance(targetPath).catch(() => null);
  const madeAtWall = (await fs.stat(targetPath)).mtime.toISOString();
  const scratch = path.join(backupDir, `.astdb-${stamp(now)}.scratch`);
  const pending = path.join(backupDir, `.astdb-${stamp(now)}.partial`);

  try {
    await copyWithJournals(targetPath, scratch);
    const info = await takeSnapshot(scratch, pending, { recover: true });
    const backupPath = await freeBackupPath(backupDir, `astdb-${stamp(now)}-${info.digest.slice(0, 8)}`);
    await fs.rename(pending, backupPath);
    await fsyncDir(backupDir);
    // The record still describes the file if its digest matches; otherwise Asterisk changed the
    // file here since the recorded copy was installed.
    const record: Provenance =
      recorded && recorded.digest === info.digest
        ? recorded
        : { digest: info.digest, madeBy: thisNode, madeAtWall, basedOn: recorded?.digest ?? null };
    await writeProvenance(backupPath, record);
    return { backupPath, digest: info.digest };
  } catch (err) {
    await removeWithCompanions(pending);
    const problem = (err as Error).message.split(scratch).join(targetPath);
    const digest = createHash('sha256')
      .update(await fs.readFile(targetPath))
      .digest('hex');
    const backupPath = await freeBackupPath(backupDir, `astdb-${stamp(now)}-${digest.slice(0, 8)}`);
    await copyWithJournals(targetPath, backupPath);
    await fsyncDir(backupDir);
    await writeProvenance(backupPath, {
      digest,
      madeBy: thisNode,
      madeAtWall,
      basedOn: recorded?.digest ?? null,
      problem,
    });
    return { backupPath, digest, problem };
  } finally {
    await removeWithCompanions(scratch);
  }
}

/** Removes the oldest backups (by the time in their names) beyond `keep`, with their records and companions. */
async function pruneBackups(backupDir: string, keep: number): Promise<string[]> {
  const names = (await fs.readdir(backupDir))
    .filter((name) => BACKUP_NAME.test(name))
    .sort()
    .reverse();
  const pruned: string[] = [];
  for (const name of names.slice(keep)) {
    const file = path.join(backupDir, name);
    for (const related of [file, provenancePath(file), ...companionPaths(file)])
      await fs.rm(related, { force: true });
    pruned.push(file);
  }
  if (pruned.length > 0) await fsyncDir(backupDir);
  return pruned;
}

/** Gives `file` the owner and mode of the file it replaces (Asterisk runs as user asterisk on XiVO). */
async function takeOwnership(file: string, targetPath: string): Promise<void> {
  const model = await fs.stat(targetPath).catch(() => null);
  // No file to imitate: the directory's owner (asterisk's own directory), and SQLite's usual 0644.
  const { uid, gid } = model ?? (await fs.stat(path.dirname(targetPath)));
  const mode = model ? model.mode & 0o7777 : 0o644;
  const current = await fs.stat(file);
  if (current.uid !== uid || current.gid !== gid) await fs.chown(file, uid, gid);
  await fs.chmod(file, mode);
}

/** Brings the staged copy into the target's directory, as `<target>.pbx-ha-new` unless it is there already. */
async function bringBesideTarget(
  stagedPath: string,
  targetPath: string,
  expectedDigest: string,
  checkTimeoutMs?: number,
): Promise<string> {
  if (path.dirname(path.resolve(stagedPath)) === path.dirname(path.resolve(targetPath))) return stagedPath;
  // A copy, not a move: the staged file stays where rsync left it, as the basis of the next delta.
  const newPath = targetPath + NEW_SUFFIX;
  for (const stale of [newPath, ...companionPaths(newPath)]) await fs.rm(stale, { force: true });
  await fs.copyFile(stagedPath, newPath);
  await fsyncFile(newPath);
  // The staged file's content may have been partly in a -wal that a plain copy leaves behind.
  const inspected = await inspectAstdb(newPath, checkTimeoutMs);
  const copied = inspected.ok ? inspected.digest : `(${inspected.problem})`;
  if (copied !== expectedDigest) {
    await fs.rm(newPath, { force: true });
    throw new Error(
      `astdb install: the copy of ${stagedPath} in ${newPath} holds ${copied.slice(0, 8)}, not ${expectedDigest.slice(0, 8)}; ${targetPath} left untouched`,
    );
  }
  return newPath;
}

/** Checks `stagedPath` and installs it as `targetPath`, keeping the file it replaces. Throws, target untouched, on a bad copy. */
export async function installAstdb(request: InstallRequest): Promise<InstallResult> {
  const started = performance.now();
  const { stagedPath, targetPath, backupDir, keep, madeBy } = request;
  const now = request.now ?? (() => new Date());
  const thisNode = request.thisNode ?? os.hostname();
  if (!Number.isInteger(keep) || keep < 1) {
    throw new Error(
      `astdb install: keep is ${keep}, expected a whole number of at least 1 (the file just replaced is always kept)`,
    );
  }
  if (path.resolve(stagedPath) === path.resolve(targetPath)) {
    throw new Error(`astdb install: the staged copy and the target are the same file (${targetPath})`);
  }

  // Off the event loop, with a time limit: the staged copy comes from the peer.
  const check = await inspectAstdb(stagedPath, request.checkTimeoutMs);
  if (!check.ok)
    throw new Error(
      `astdb install refused: the staged copy is not a sound astdb: ${check.problem}; ${targetPath} left untouched`,
    );
  const digest = check.digest;
  if (request.expectedDigest !== undefined && request.expectedDigest !== digest) {
    throw new Error(
      `astdb install refused: the staged astdb is not the one the master sent (digest ${digest.slice(0, 8)}, announced ${request.expectedDigest.slice(0, 8)}); ${targetPath} left untouched`,
    );
  }
  const staged = await readProvenance(stagedPath);
  if (staged && staged.digest !== digest) {
    throw new Error(
      `astdb install refused: ${provenancePath(stagedPath)} describes content ${staged.digest.slice(0, 8)} but ${stagedPath} holds ${digest.slice(0, 8)} ` +
        `(a transfer half done, or a record from another copy); ${targetPath} left untouched`,
    );
  }

  const newPath = await bringBesideTarget(stagedPath, targetPath, digest, request.checkTimeoutMs);
  let replaced: ReplacedFile | null = null;
  try {
    await takeOwnership(newPath, targetPath);
    if (await exists(targetPath)) replaced = await keepReplaced(targetPath, backupDir, thisNode, now());
  } catch (err) {
    if (newPath !== stagedPath) await fs.rm(newPath, { force: true });
    throw err;
  }

  await fs.rm(provenancePath(targetPath), { force: true });
  for (const companion of companionPaths(targetPath)) await fs.rm(companion, { force: true });
  await fs.rename(newPath, targetPath);
  await fsyncDir(path.dirname(targetPath));
  if (newPath === stagedPath) await fs.rm(provenancePath(stagedPath), { force: true });

  await writeProvenance(targetPath, {
    digest,
    madeBy,
    madeAtWall: now().toISOString(),
    basedOn: replaced && !replaced.problem ? replaced.digest : null,
  });
  const pruned = replaced ? await pruneBackups(backupDir, keep) : [];
  const { size } = await fs.stat(targetPath);
  return {
    targetPath,
    digest,
    keys: check.keys,
    bytes: size,
    replaced,
    pruned,
    durationMs: performance.now() - started,
  };
}
