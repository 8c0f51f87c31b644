// One PostgreSQL cluster, driven with PostgreSQL's own tools for streaming replication: what it is
// (observe), and each step the planner can ask for. Every child runs through runCommand (argv,
// timeout, failure reported). The replication role's secret is only ever in the passfile (mode
// 0600, owned by the cluster's user) and in one psql session's environment; an error of that
// session is reported without psql's text, which could quote it.

import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CommandError, runCommand } from '../../adapters/exec';
import { formatLsn, type PgObservation } from '../../domain/pg-streaming';
import {
  basebackupCommand,
  checkLayout,
  commitsAfterCommand,
  controlCommand,
  controldataCommand,
  localQueryCommand,
  rewindCommand,
  sourceConninfo,
  toolEnvironment,
  type PgClusterLayout,
  type ReplicationSource,
} from './streaming-commands';
import { passfileLine, serverSettings, standbySettings, withReplicationHba } from './streaming-files';
import {
  countCommits,
  isEndOfWal,
  parseControlData,
  parseServerState,
  SERVER_STATE_SQL,
} from './streaming-state';

export interface PgNodeOptions {
  /** For each command (a pg_basebackup of a large cluster needs long). */
  timeoutMs: number;
  /** Replaced data directories kept beside the cluster's (each a whole cluster): the newest N. */
  keepReplaced?: number;
  now?: () => Date;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export class PgStreamingNode {
  constructor(
    readonly layout: PgClusterLayout,
    private readonly options: PgNodeOptions,
  ) {
    checkLayout(layout);
  }

  private run(argv: string[], input?: string, env?: NodeJS.ProcessEnv) {
    return runCommand(argv, { timeoutMs: this.options.timeoutMs, input, env: env ?? toolEnvironment() });
  }

  private async owner(): Promise<{ uid: number; gid: number }> {
    const uid = Number((await this.run(['id', '-u', this.layout.osUser])).stdout.trim());
    const gid = Number((await this.run(['id', '-g', this.layout.osUser])).stdout.trim());
    return { uid, gid };
  }

  /** Writes `file` as the cluster's user, mode 0600, through a temporary name (never half written). */
  private async writeOwned(file: string, text: string): Promise<void> {
    const { uid, gid } = await this.owner();
    const tmp = `${file}.pbx-ha-${randomBytes(4).toString('hex')}`;
    await fs.writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    try {
      await fs.chown(tmp, uid, gid);
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  /** Whether the server runs (pg_ctl status: 0 running, 3 not running; anything else fails). */
  async isRunning(): Promise<boolean> {
    const c = this.layout;
    const argv =
      c.control.kind === 'pg_ctlcluster'
        ? ['pg_ctlcluster', c.control.version, c.control.name, 'status']
        : ['runuser', '-u', c.osUser, '--', path.join(c.binDir, 'pg_ctl'), '-D', c.configDir, 'status'];
    try {
      await this.run(argv);
      return true;
    } catch (e) {
      if (e instanceof CommandError && e.exitCode === 3) return false;
      throw e;
    }
  }

  /** What the server is: asked when it runs, read from pg_control when it does not. */
  async observe(): Promise<PgObservation> {
    try {
      if (await this.isRunning()) {
        const r = await this.run(localQueryCommand(this.layout, SERVER_STATE_SQL));
        return parseServerState(r.stdout);
      }
      const r = await this.run(controldataCommand(this.layout));
      return parseControlData(r.stdout, existsSync(path.join(this.layout.dataDir, 'standby.signal')));
    } catch (e) {
      return { kind: 'unknown', reason: (e as Error).message };
    }
  }

  /** Transactions committed on `timeline` from `fromLsn` to the end of the local WAL (pg_waldump). */
  async countCommits(timeline: number, fromLsn: bigint): Promise<number> {
    const argv = commitsAfterCommand(this.layout, timeline, formatLsn(fromLsn));
    try {
      return countCommits((await this.run(argv)).stdout);
    } catch (e) {
      // The end of the valid WAL ends pg_waldump with an error: what it printed before counts.
      if (e instanceof CommandError && e.exitCode === 1 && isEndOfWal(e.stderr))
        return countCommits(e.stdout);
      throw e;
    }
  }

  async start(): Promise<void> {
    await this.run(controlCommand(this.layout, 'start'));
  }

  async stop(): Promise<void> {
    await this.run(controlCommand(this.layout, 'stop'));
  }

  /** pg_ctl promote (waits until the server accepts writes). */
  async promote(): Promise<void> {
    await this.run(controlCommand(this.layout, 'promote'));
  }

  /** Stand by for `source`: the standby settings, standby.signal, and a start. The server must be stopped. */
  async follow(source: ReplicationSource, applicationName: string): Promise<void> {
    const confDir = path.join(this.layout.configDir, 'conf.d');
    await fs.mkdir(confDir, { recursive: true });
    await this.writeOwned(
      path.join(confDir, 'pbx-ha-standby.conf'),
      standbySettings(sourceConninfo(source, applicationName), source.slot),
    );
    await this.writeOwned(path.join(this.layout.dataDir, 'standby.signal'), '');
    await this.start();
  }

  /** pg_rewind from `source` (the server stopped cleanly), then stand by for it. */
  async rewind(source: ReplicationSource, applicationName: string): Promise<void> {
    await this.run(rewindCommand(this.layout, source));
    await this.follow(source, applicationName);
  }

  /**
   * A new clone of `source`: the current data directory is kept aside under a dated name (the
   * newest `keepReplaced` of them stay), a fresh one is made by pg_basebackup, then stands by.
   */
  async clone(source: ReplicationSource, applicationName: string): Promise<string | null> {
    const data = this.layout.dataDir;
    const stamp = (this.options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
    let keptAt: string | null = null;
    if (existsSync(data)) {
      keptAt = `${data}.replaced-${stamp}`;
      await fs.rename(data, keptAt);
    }
    const { uid, gid } = await this.owner();
    await fs.mkdir(data, { mode: 0o700 });
    await fs.chown(data, uid, gid);
    try {
      await this.run(basebackupCommand(this.layout, source, data));
    } catch (e) {
      // Back as it was: the failed clone is removed, the kept directory returns.
      await fs.rm(data, { recursive: true, force: true });
      if (keptAt !== null) await fs.rename(keptAt, data);
      throw e;
    }
    await this.pruneReplaced();
    await this.follow(source, applicationName);
    return keptAt;
  }

  private async pruneReplaced(): Promise<void> {
    const keep = this.options.keepReplaced ?? 2;
    const dir = path.dirname(this.layout.dataDir);
    const prefix = `${path.basename(this.layout.dataDir)}.replaced-`;
    const kept = (await fs.readdir(dir)).filter((n) => n.startsWith(prefix)).sort();
    for (const old of kept.slice(0, Math.max(0, kept.length - keep)))
      await fs.rm(path.join(dir, old), { recursive: true, force: true });
  }

  /** A fixed query's one-line answer, on the local socket as the cluster's user. */
  async query(sql: string): Promise<string> {
    return (await this.run(localQueryCommand(this.layout, sql))).stdout.trim();
  }

  /**
   * The replication role, created or its secret set: LOGIN REPLICATION, and the four functions
   * pg_rewind reads the peer's files with. The secret goes through the environment into psql's
   * \getenv, never on a command line; statement logging is off for the session.
   */
  async ensureReplicationRole(role: string, secret: string): Promise<void> {
    if (!IDENT.test(role)) throw new Error(`role ${JSON.stringify(role)}: lower-case letters, digits, _`);
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(secret))
      throw new Error('replication secret: 16 to 128 base64url characters');
    const script = [
      "SET log_statement = 'none';",
      "SET log_min_error_statement = 'panic';",
      '\\getenv pbx_ha_secret PBX_HA_REPLICATION_SECRET',
      `SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') AS missing \\gset`,
      `\\if :missing`,
      `CREATE ROLE ${role} WITH LOGIN REPLICATION;`,
      '\\endif',
      `ALTER ROLE ${role} WITH LOGIN REPLICATION PASSWORD :'pbx_ha_secret';`,
      `GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO ${role};`,
      `GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO ${role};`,
      `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO ${role};`,
      `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO ${role};`,
      '',
    ].join('\n');
    const c = this.layout;
    const argv = [
      'runuser',
      '-u',
      c.osUser,
      '--',
      path.join(c.binDir, 'psql'),
      '-X',
      '--no-password',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      c.socketDir,
      '-p',
      String(c.port),
      '-U',
      c.osUser,
      '-d',
      'postgres',
    ];
    try {
      await this.run(argv, script, { ...toolEnvironment(), PBX_HA_REPLICATION_SECRET: secret });
    } catch (e) {
      const how =
        e instanceof CommandError ? (e.timedOut ? 'timed out' : `exited with code ${e.exitCode}`) : 'failed';
      // psql's own message may quote the statement, secret included: not passed on.
      throw new Error(
        `setting the replication role ${role} ${how} (psql's message withheld: it may quote the secret)`,
      );
    }
  }

  /** The passfile for the role on the peer: the cluster's user only (root reads it as root). */
  async writePassfile(
    file: string,
    source: Omit<ReplicationSource, 'passfile' | 'slot'>,
    secret: string,
  ): Promise<void> {
    await this.writeOwned(file, passfileLine(source.host, source.port, source.role, secret));
  }

  /** The physical replication slot the peer streams from, when it is not there yet. */
  async ensureSlot(slot: string): Promise<void> {
    if (!IDENT.test(slot)) throw new Error(`slot ${JSON.stringify(slot)}: lower-case letters, digits, _`);
    await this.query(
      `SELECT count(pg_create_physical_replication_slot('${slot}')) FROM (SELECT 1) x ` +
        `WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}')`,
    );
  }

  /**
   * pbx-ha's pg_hba.conf block for `role` from `peerAddress` only; the file it replaced kept once as
   * pg_hba.conf.before-pbx-ha; the configuration reloaded when the server runs.
   */
  async installHba(role: string, peerAddress: string): Promise<void> {
    const file = path.join(this.layout.configDir, 'pg_hba.conf');
    const before = await fs.readFile(file, 'utf8');
    const after = withReplicationHba(before, role, peerAddress);
    if (after === before) return;
    const kept = `${file}.before-pbx-ha`;
    if (!existsSync(kept)) await fs.copyFile(file, kept, fs.constants.COPYFILE_EXCL);
    await this.writeOwned(file, after);
    if (await this.isRunning()) await this.query('SELECT pg_reload_conf()');
  }

  /**
   * conf.d/pbx-ha-replication.conf (takes effect at the next start). postgresql.conf must include
   * conf.d, as Debian's does: otherwise pbx-ha's settings would be written and silently unused.
   */
  async installServerSettings(maxSlotWalKeepMb: number): Promise<void> {
    const main = path.join(this.layout.configDir, 'postgresql.conf');
    if (!includesConfD(await fs.readFile(main, 'utf8')))
      throw new Error(`${main} does not include conf.d (include_dir = 'conf.d', as Debian ships it)`);
    const confDir = path.join(this.layout.configDir, 'conf.d');
    await fs.mkdir(confDir, { recursive: true });
    await this.writeOwned(path.join(confDir, 'pbx-ha-replication.conf'), serverSettings(maxSlotWalKeepMb));
  }
}

/** Whether postgresql.conf's text has an active `include_dir = 'conf.d'` line. */
export function includesConfD(text: string): boolean {
  return text.split('\n').some((l) => /^\s*include_dir\s*=?\s*'conf\.d'\s*(#.*)?$/.test(l));
}
