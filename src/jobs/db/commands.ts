// The command lines of the database copy: pure argv builders (no shell ever sees them), checked
// so that no setting can turn into an option or a connection string.

import * as path from 'node:path';
import { LIST_TABLES_SQL } from './listing';
import { parseTablePattern } from './patterns';

export interface PgConnection {
  /** As libpq's PGHOST: a socket directory (absolute path) or a host name / IPv4 address. */
  host: string;
  port: number;
  /** Role to connect as. */
  user: string;
  database: string;
}

export interface PgPrograms {
  /** Directory of pg_dump and psql (e.g. /usr/lib/postgresql/15/bin); default: found in PATH. */
  binDir?: string;
  /**
   * System user to run pg_dump and psql as (`runuser -u USER --`): where pg_hba.conf uses peer
   * authentication for local connections, Debian's default, the role postgres is only reachable
   * as the system user postgres. Default: the agent's own user.
   */
  osUser?: string;
}

export class DbSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DbSettingError';
  }
}

export function checkConnection(c: PgConnection): void {
  if (!/^[A-Za-z0-9_]+$/.test(c.database))
    throw new DbSettingError(`database name ${JSON.stringify(c.database)}: letters, digits and _ only`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(c.user))
    throw new DbSettingError(`role ${JSON.stringify(c.user)}: letters, digits, _ . - only`);
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)
    throw new DbSettingError(`port ${c.port}: not a TCP port`);
  const socketDir = c.host.startsWith('/') && !/[\s\0]/.test(c.host);
  const hostName = /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(c.host);
  if (!socketDir && !hostName)
    throw new DbSettingError(
      `host ${JSON.stringify(c.host)}: a socket directory (absolute path) or a host name`,
    );
}

function checkPrograms(p: PgPrograms): void {
  if (p.binDir !== undefined && !path.isAbsolute(p.binDir))
    throw new DbSettingError(`binDir ${JSON.stringify(p.binDir)}: not an absolute path`);
  if (p.osUser !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(p.osUser))
    throw new DbSettingError(`osUser ${JSON.stringify(p.osUser)}: not a system user name`);
}

function checkFile(file: string): void {
  if (!path.isAbsolute(file) || file.includes('\0'))
    throw new DbSettingError(`file ${JSON.stringify(file)}: not an absolute path`);
}

function program(p: PgPrograms, name: 'pg_dump' | 'psql'): string[] {
  const exe = p.binDir ? path.join(p.binDir, name) : name;
  return p.osUser ? ['runuser', '-u', p.osUser, '--', exe] : [exe];
}

const connectionArgs = (c: PgConnection) => ['-h', c.host, '-p', String(c.port), '-U', c.user];

export interface DumpCommandOptions extends PgConnection, PgPrograms {
  /** --exclude-table-data patterns, as given (see patterns.ts). */
  excludeTableData: readonly string[];
  /** Where pg_dump writes (--file). */
  file: string;
  /** pg_dump gives up if it waits this long for a table lock (default: waits for ever). */
  lockWaitTimeoutMs?: number;
}

/**
 * `pg_dump --data-only …`: the rows (COPY blocks) and sequence values of every table but the
 * excluded ones, plain SQL, without owners or grants (data-only carries none anyway), with
 * ALTER TABLE … DISABLE TRIGGER ALL around each table's data, and no large objects (not table
 * data; restoring them twice would fail on their OIDs). --no-password: never a prompt.
 */
export function dumpCommand(o: DumpCommandOptions): string[] {
  checkConnection(o);
  checkPrograms(o);
  checkFile(o.file);
  for (const p of o.excludeTableData) parseTablePattern(p);
  return [
    ...program(o, 'pg_dump'),
    '--data-only',
    '--no-owner',
    '--no-privileges',
    '--format=plain',
    '--disable-triggers',
    '--no-blobs',
    '--no-password',
    ...(o.lockWaitTimeoutMs !== undefined
      ? [`--lock-wait-timeout=${Math.max(1, Math.round(o.lockWaitTimeoutMs))}ms`]
      : []),
    ...connectionArgs(o),
    ...o.excludeTableData.map((p) => `--exclude-table-data=${p}`),
    `--file=${o.file}`,
    o.database,
  ];
}

const PSQL_COMMON = ['-X', '--no-password', '-v', 'ON_ERROR_STOP=1'];

/** psql printing LIST_TABLES_SQL's one line of JSON (see listing.ts). */
export function listTablesCommand(o: PgConnection & PgPrograms): string[] {
  checkConnection(o);
  checkPrograms(o);
  return [
    ...program(o, 'psql'),
    ...PSQL_COMMON,
    '-A',
    '-t',
    ...connectionArgs(o),
    '-d',
    o.database,
    '-c',
    LIST_TABLES_SQL,
  ];
}

/**
 * psql running a restore script in one transaction: the first error stops psql (exit 3) and
 * the transaction is rolled back, so the database keeps its data as it was.
 */
export function restoreCommand(o: PgConnection & PgPrograms & { file: string }): string[] {
  checkConnection(o);
  checkPrograms(o);
  checkFile(o.file);
  return [
    ...program(o, 'psql'),
    ...PSQL_COMMON,
    '-q',
    '--single-transaction',
    ...connectionArgs(o),
    '-d',
    o.database,
    '-f',
    o.file,
  ];
}

/** Environment of pg_dump and psql: no waiting for ever on a dead server, a name in pg_stat_activity. */
export function pgEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'pbx-ha' };
}
