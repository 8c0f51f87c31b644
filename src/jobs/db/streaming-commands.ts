// The command lines of streaming replication, with PostgreSQL's own tools: pure argv builders (no
// shell ever sees them), every setting checked so that none can turn into an option, a path
// outside the cluster or SQL. The secret of the replication role is never on a command line: the
// tools read it from a passfile (pgpass format) readable by postgres and root only.
//
// A cluster is either Debian's (postgresql-common: configuration in /etc/postgresql/<ver>/<name>,
// data in /var/lib/postgresql/<ver>/<name>, started and stopped with pg_ctlcluster, so that
// systemd's postgresql@<ver>-<name> unit stays the one that owns it) or a bare data directory
// driven by pg_ctl (the tests' throwaway clusters).

import * as path from 'node:path';
import { DbSettingError } from './commands';

export interface PgClusterLayout {
  /** Where the server's files are (PGDATA). */
  dataDir: string;
  /** Where postgresql.conf, pg_hba.conf and conf.d are: /etc/postgresql/<ver>/<name> on Debian. */
  configDir: string;
  /** PostgreSQL's programs: /usr/lib/postgresql/<ver>/bin on Debian. */
  binDir: string;
  /** Unix socket directory the local server listens on (/run/postgresql). */
  socketDir: string;
  port: number;
  /** System user that owns the data directory and runs every tool (postgres). */
  osUser: string;
  /** pg_ctlcluster <version> <name> (Debian), or pg_ctl -D dataDir. */
  control: { kind: 'pg_ctlcluster'; version: string; name: string } | { kind: 'pg_ctl'; logFile: string };
}

/** The peer as a replication source: its address, port, the replication role and its passfile. */
export interface ReplicationSource {
  /** IPv4 address or host name of the peer's PostgreSQL. */
  host: string;
  port: number;
  /** The replication role (LOGIN REPLICATION, no other right). */
  role: string;
  /** pgpass file holding the role's secret, owned by osUser, mode 0600. */
  passfile: string;
  /** The physical replication slot on the peer this node streams from. */
  slot: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

function checkAbsolute(what: string, p: string): void {
  if (!path.isAbsolute(p) || p.includes('\0') || p !== path.normalize(p) || /[\s'"\\]/.test(p))
    throw new DbSettingError(`${what} ${JSON.stringify(p)}: not a plain absolute path`);
}

export function checkLayout(c: PgClusterLayout): void {
  checkAbsolute('dataDir', c.dataDir);
  checkAbsolute('configDir', c.configDir);
  checkAbsolute('binDir', c.binDir);
  checkAbsolute('socketDir', c.socketDir);
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)
    throw new DbSettingError(`port ${c.port}: not a TCP port`);
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(c.osUser))
    throw new DbSettingError(`osUser ${JSON.stringify(c.osUser)}: not a system user name`);
  if (c.control.kind === 'pg_ctlcluster') {
    if (
      !/^\d{1,3}(\.\d{1,3})?$/.test(c.control.version) ||
      !/^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/.test(c.control.name)
    )
      throw new DbSettingError(`cluster ${c.control.version}/${c.control.name}: not a Debian cluster name`);
  } else checkAbsolute('logFile', c.control.logFile);
}

export function checkSource(s: ReplicationSource): void {
  if (!HOST.test(s.host))
    throw new DbSettingError(`peer host ${JSON.stringify(s.host)}: not a host name or address`);
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)
    throw new DbSettingError(`port ${s.port}: not a TCP port`);
  if (!IDENT.test(s.role))
    throw new DbSettingError(`role ${JSON.stringify(s.role)}: lower-case letters, digits, _`);
  if (!IDENT.test(s.slot))
    throw new DbSettingError(`slot ${JSON.stringify(s.slot)}: lower-case letters, digits, _`);
  checkAbsolute('passfile', s.passfile);
}

/** Runs `program` of the cluster's binDir as its osUser. */
function tool(c: PgClusterLayout, program: string, ...args: string[]): string[] {
  return ['runuser', '-u', c.osUser, '--', path.join(c.binDir, program), ...args];
}

/**
 * A libpq connection string to the peer for replication. Values are checked above (no quote, no
 * space), so none can add a keyword; the secret stays in the passfile.
 */
export function sourceConninfo(s: ReplicationSource, applicationName: string): string {
  checkSource(s);
  if (!IDENT.test(applicationName))
    throw new DbSettingError(`application name ${JSON.stringify(applicationName)}`);
  return `host=${s.host} port=${s.port} user=${s.role} passfile=${s.passfile} application_name=${applicationName} connect_timeout=10 sslmode=prefer`;
}

/** Start, stop (fast: clean, and the WAL senders send every record first) or promote the server. */
export function controlCommand(c: PgClusterLayout, action: 'start' | 'stop' | 'promote'): string[] {
  checkLayout(c);
  if (c.control.kind === 'pg_ctlcluster') {
    // pg_ctlcluster runs as root and drops to the cluster's owner itself.
    const extra = action === 'stop' ? ['--mode', 'fast'] : [];
    return ['pg_ctlcluster', ...extra, c.control.version, c.control.name, action];
  }
  // -D the configuration directory, as Debian's layout has it: pg_ctl finds data_directory there.
  const common = ['-D', c.configDir, '-w', '-t', '120'];
  if (action === 'start') return tool(c, 'pg_ctl', ...common, '-l', c.control.logFile, 'start');
  if (action === 'stop') return tool(c, 'pg_ctl', ...common, '-m', 'fast', 'stop');
  return tool(c, 'pg_ctl', ...common, 'promote');
}

/**
 * pg_basebackup of the peer into `target` (an empty directory), WAL streamed alongside, checkpoint
 * fast (the peer does not wait for its next scheduled one), from the slot this node will stream from.
 */
export function basebackupCommand(c: PgClusterLayout, s: ReplicationSource, target: string): string[] {
  checkLayout(c);
  checkAbsolute('target', target);
  return tool(
    c,
    'pg_basebackup',
    '--pgdata',
    target,
    '--dbname',
    sourceConninfo(s, 'pbx_ha_clone'),
    '--wal-method=stream',
    '--checkpoint=fast',
    `--slot=${s.slot}`,
    '--no-password',
    '--progress',
  );
}

/**
 * pg_rewind of the stopped local data directory to the peer's timeline. It needs a normal
 * connection (it reads the peer's files with pg_read_binary_file): as the replication role, which
 * setup grants those four functions and nothing else, with the same passfile.
 */
export function rewindCommand(c: PgClusterLayout, s: ReplicationSource): string[] {
  checkLayout(c);
  checkSource(s);
  const conninfo = `host=${s.host} port=${s.port} user=${s.role} passfile=${s.passfile} dbname=postgres connect_timeout=10`;
  // --no-ensure-shutdown: a server stopped uncleanly is refused rather than recovered behind
  // the planner's back (the planner starts it first, then stops it cleanly).
  return tool(
    c,
    'pg_rewind',
    '--target-pgdata',
    c.dataDir,
    '--source-server',
    conninfo,
    '--no-ensure-shutdown',
    '--progress',
  );
}

/** pg_controldata of the local data directory (read with LC_ALL=C, see controlEnvironment). */
export function controldataCommand(c: PgClusterLayout): string[] {
  checkLayout(c);
  return tool(c, 'pg_controldata', '--pgdata', c.dataDir);
}

/** pg_waldump stops after this many transaction records: the count is "at least" beyond it. */
export const COMMIT_COUNT_LIMIT = 1000;

/** pg_waldump of the transaction records on `timeline` from `fromLsn` to the end of the local WAL. */
export function commitsAfterCommand(c: PgClusterLayout, timeline: number, fromLsn: string): string[] {
  checkLayout(c);
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff)
    throw new DbSettingError(`timeline ${timeline}`);
  if (!/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/.test(fromLsn))
    throw new DbSettingError(`LSN ${JSON.stringify(fromLsn)}`);
  return tool(
    c,
    'pg_waldump',
    `--path=${path.join(c.dataDir, 'pg_wal')}`,
    `--timeline=${timeline}`,
    `--start=${fromLsn}`,
    '--rmgr=Transaction',
    // One is enough to refuse a rewind; a bound keeps the output small after a long split.
    `--limit=${COMMIT_COUNT_LIMIT}`,
  );
}

/** psql on the local socket as the cluster's owner, printing one line of a fixed query. */
export function localQueryCommand(c: PgClusterLayout, sql: string): string[] {
  checkLayout(c);
  return tool(
    c,
    'psql',
    '-X',
    '--no-password',
    '-v',
    'ON_ERROR_STOP=1',
    '-A',
    '-t',
    '-h',
    c.socketDir,
    '-p',
    String(c.port),
    '-U',
    c.osUser,
    '-d',
    'postgres',
    '-c',
    sql,
  );
}

/** Environment of the tools: messages in English (parsed), no wait for ever, a name in pg_stat_activity. */
export function toolEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, LC_ALL: 'C', LANG: 'C', PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'pbx-ha' };
}
