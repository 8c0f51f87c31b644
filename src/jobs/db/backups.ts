// The slave's data as it was before each restore: backupDir/db-<ISO time>.sql, the `keep`
// newest kept. Names sort by time; the clock is not trusted to only move forward, so the
// backup just made is never a candidate for removal, whatever its name.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

const BACKUP_NAME = /^db-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z(-\d+)?\.sql$/;

/** `db-2026-11-22T03-29-35.123Z.sql` (no colons: safe in rsync and scp arguments). */
export function backupFileName(at: Date, suffix = 0): string {
  return `db-${at.toISOString().replace(/:/g, '-')}${suffix > 0 ? `-${suffix}` : ''}.sql`;
}

export function isBackupFileName(name: string): boolean {
  return BACKUP_NAME.test(name);
}

/** Backups to delete: all but the `keep` newest by name, never `justMade`. */
export function backupsToDelete(names: readonly string[], keep: number, justMade: string): string[] {
  const others = names
    .filter((n) => isBackupFileName(n) && n !== justMade)
    .sort()
    .reverse();
  return others.slice(Math.max(0, keep - 1));
}

/** A name for a new backup in dir that no file has yet. */
export async function newBackupPath(dir: string, at: Date): Promise<string> {
  for (let suffix = 0; ; suffix++) {
    const candidate = path.join(dir, backupFileName(at, suffix));
    try {
      await fs.lstat(candidate);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return candidate;
      throw e;
    }
  }
}

/** Removes the old backups of dir; returns the removed paths. */
export async function pruneBackups(dir: string, keep: number, justMade: string): Promise<string[]> {
  const names = await fs.readdir(dir);
  const doomed = backupsToDelete(names, keep, path.basename(justMade));
  for (const name of doomed) await fs.rm(path.join(dir, name), { force: true });
  return doomed.map((n) => path.join(dir, n));
}
