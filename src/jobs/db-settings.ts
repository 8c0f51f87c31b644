// Where and as whom the database copy runs.

import { chmodSync, mkdirSync } from 'node:fs';
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
