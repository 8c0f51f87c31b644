// Where and as whom the database copy runs.

import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { PbxHaConfig } from '../config/types';

/**
 * pg_dump and psql run as the `postgres` system user: Debian's PostgreSQL lets the postgres
 * role in over the local socket only by peer authentication, that is, from that user.
 */
export const POSTGRES_OS_USER = 'postgres';

/**
 * A file in the database work directory, which the postgres user can enter (0711) but not
 * list, unlike the root-only staging area.
 */
export function dbWorkFile(config: PbxHaConfig, name: string): string {
  const dir = path.join(config.agent.stateDir, 'db-work');
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  return path.join(dir, name);
}

/**
 * The directory of the database backups (the slave's data, dumped before each restore), which
 * pg_dump, run as the postgres user, writes into. The backup area above it must let that user
 * through too: the astdb and files backups may have created it first as 0700, and the dump of
 * the current data then failed with "Permission denied" at every copy. Only the "others may
 * enter" bit is added (an administrator's own directory keeps the rest of its mode); what the
 * other kinds' directories hold stays root-only (they are 0700).
 */
export function dbBackupDir(config: PbxHaConfig): string {
  const root = config.replication.backupDir;
  const dir = path.join(root, 'db');
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  for (const d of [root, dir]) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o001);
  }
  return dir;
}
