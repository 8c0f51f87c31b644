// The astdb merge of a failback, run in a child process with a time limit (merge-child.ts), and
// the bookkeeping around it: the merge base (one file, the last copy both nodes had in common)
// and the files that keep the values that lost a conflict (as many as keep_backups).

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CommandError, runCommand } from '../../adapters/exec';
import { fsyncDir, fsyncFile, tempPathBeside } from './durable-files';
import type { MergeChildAnswer, MergeChildRequest } from './merge-child';

export type { MergeChildRequest };

const CHILD = path.join(__dirname, 'merge-child.js');

/** Default time limit: reading, merging and writing 100 000 keys per side takes a few seconds at most. */
export const DEFAULT_MERGE_TIMEOUT_MS = 60_000;

/** The merge base in pbx-ha's state directory: one file, replaced at each exchange. */
export function mergeBasePath(stateDir: string): string {
  return path.join(stateDir, 'astdb-merge-base.sqlite3');
}

/** Runs the merge off the event loop; throws with the child's reason when it fails. */
export async function mergeAstdb(
  req: MergeChildRequest,
  timeoutMs = DEFAULT_MERGE_TIMEOUT_MS,
): Promise<MergeChildAnswer> {
  let stdout: string;
  try {
    ({ stdout } = await runCommand([process.execPath, CHILD, JSON.stringify(req)], { timeoutMs }));
  } catch (e) {
    if (e instanceof CommandError && e.timedOut)
      throw new Error(`the astdb merge took longer than ${timeoutMs} ms (stopped)`);
    throw new Error(`the astdb merge failed: ${(e as Error).message.slice(0, 500)}`);
  }
  let a: Record<string, unknown>;
  try {
    a = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new Error('the astdb merge gave no answer');
  }
  if (a.ok !== true || typeof a.keys !== 'number' || typeof a.digest !== 'string')
    throw new Error(`the astdb merge failed: ${typeof a.problem === 'string' ? a.problem : 'no answer'}`);
  return a as unknown as MergeChildAnswer;
}

/**
 * Makes `source` (a checked astdb) the merge base: copied beside the base, synced, renamed over
 * it. Exactly one base is kept.
 */
export async function keepMergeBase(source: string, stateDir: string): Promise<void> {
  const base = mergeBasePath(stateDir);
  const temp = tempPathBeside(base);
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  try {
    await fs.copyFile(source, temp);
    await fs.chmod(temp, 0o600);
    await fsyncFile(temp);
    await fs.rename(temp, base);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw e;
  }
  await fsyncDir(stateDir);
}

const CONFLICTS_NAME = /^astdb-conflicts-.*\.json$/;

/** Where the values that lost the conflicts of one merge are kept, in the astdb backup directory. */
export function conflictsFilePath(backupDir: string, now: Date): string {
  return path.join(backupDir, `astdb-conflicts-${now.toISOString().replace(/[:.]/g, '-')}.json`);
}

/** Removes all but the `keep` newest conflicts files (their names sort by time). */
export async function pruneConflictFiles(backupDir: string, keep: number): Promise<void> {
  const names = (await fs.readdir(backupDir).catch(() => [] as string[]))
    .filter((n) => CONFLICTS_NAME.test(n))
    .sort()
    .reverse();
  for (const name of names.slice(Math.max(1, keep))) await fs.rm(path.join(backupDir, name), { force: true });
}
