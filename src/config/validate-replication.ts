// [replication], [sync.files], [sync.db] and [sync.astdb]: all optional, every key has a default.
//
//   REPLICATION_KEYS                          the known keys of each of these sections
//   readReplication(reader, agent): ReplicationConfig | null
//       `reader(name)` gives the SectionReader of a section (an empty one when absent); `agent`
//       is [agent]'s reader and state_dir, which the synced paths must stay clear of.
//       null when a value was refused (every refusal is recorded in the readers' problems).
//
// Beyond each value, the checks that keep a copy from doing harm: the synced paths stay clear of
// /proc, /sys, /dev and /run, of pbx-ha's own directories (copying the staging area into itself),
// of PostgreSQL's data directory and of astdb (both copied safely by their own jobs), and of
// pbx-ha's SSH key and known_hosts (which differ on each node); the staging area and the backups
// are apart; retry_max is not shorter than retry_min.

import { CONFIG_DEFAULTS, CONFIG_LIMITS as L } from './defaults';
import { formatDurationMs } from './duration';
import { isHostName } from './host-name';
import type { IniEntry } from './ini-scan';
import { checkOwnDir, OWN_DIR_RULE } from './own-dirs';
import { checkPath, isInside, type PathCheck } from './paths';
import type { SectionReader } from './read-values';
import type { DbStreamingConfig, ReplicationConfig } from './types';

const D = CONFIG_DEFAULTS.replication;

export type ReplicationSection = 'replication' | 'sync.files' | 'sync.db' | 'sync.astdb';

export const REPLICATION_KEYS: Readonly<Record<ReplicationSection, readonly string[]>> = {
  replication: [
    'enabled',
    'user',
    'port',
    'key',
    'known_hosts',
    'connect_timeout',
    'retry_min',
    'retry_max',
    'alert_after',
    'exchange_dir',
    'backup_dir',
    'keep_backups',
  ],
  'sync.files': ['schedule', 'timeout', 'paths', 'spool'],
  'sync.db': [
    'schedule',
    'timeout',
    'database',
    'host',
    'port',
    'user',
    'exclude_tables',
    'mode',
    'cluster',
    'data_directory',
    'config_directory',
    'bin_directory',
    'control',
    'server_log',
    'replication_role',
    'max_slot_wal_keep',
    'promote_timeout',
    'rejoin_timeout',
  ],
  'sync.astdb': ['schedule', 'timeout', 'path', 'debounce'],
};

/** A login name as useradd takes it; never starting with "-" (it would read as an ssh option). */
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** An unquoted PostgreSQL identifier (NAMEDATALEN - 1 = 63 bytes). */
const PG_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** A pg_dump table pattern: `table`, `stat_*`, `schema.table`. */
const TABLE_PATTERN = /^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z0-9_*]{1,63}$/;

/**
 * What the files copy never touches, nor a directory around it (`/etc` holds /etc/ssh): root's and
 * the users' homes (.ssh), the programs, the logins (PAM, sudo, passwd), the scheduled jobs, the
 * services and pbx-ha's own configuration and key.
 */
export const LOGIN_AND_CODE: readonly string[] = [
  '/bin',
  '/boot',
  '/etc/apt',
  '/etc/cron.d',
  '/etc/cron.daily',
  '/etc/cron.hourly',
  '/etc/cron.monthly',
  '/etc/cron.weekly',
  '/etc/crontab',
  '/etc/environment',
  '/etc/group',
  '/etc/gshadow',
  '/etc/init.d',
  '/etc/ld.so.conf.d',
  '/etc/ld.so.preload',
  '/etc/pam.d',
  '/etc/passwd',
  '/etc/pbx-ha',
  '/etc/profile',
  '/etc/profile.d',
  '/etc/security',
  '/etc/shadow',
  '/etc/ssh',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/systemd',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/root',
  '/sbin',
  // Not /usr as a whole: Debian's Asterisk keeps its sounds in /usr/share/asterisk/sounds.
  '/usr/bin',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/libx32',
  '/usr/local/bin',
  '/usr/local/lib',
  '/usr/local/sbin',
  '/usr/sbin',
  '/var/spool/cron',
];

const ok = (valid: boolean): string | null => (valid ? null : '');

/**
 * The key and known_hosts reach OpenSSH inside rsync's `-e` string, which rsync splits at blanks
 * and reads quotes and backslashes in, and OpenSSH expands `%` and `~` in: a path with any of
 * them named another file, or none (`key = /etc/pbx-ha/ssh/id ed25519` failed every copy).
 */
const SSH_PATH = /^[A-Za-z0-9/._+@,:=-]+$/;
const SSH_PATH_CHARS = 'letters, digits and / . _ + @ , : = -';

function checkSshFilePath(text: string): PathCheck {
  const checked = checkPath(text);
  if (!checked.ok) return checked;
  if (!SSH_PATH.test(checked.path)) {
    const bad = [...checked.path].find((c) => !SSH_PATH.test(c)) ?? '';
    return {
      ok: false,
      problem: `${bad.trim() === '' ? 'a blank' : JSON.stringify(bad)} in the path (rsync's ssh command splits or expands it)`,
    };
  }
  return checked;
}

export function readReplication(
  reader: (section: ReplicationSection) => SectionReader,
  agent: { reader: SectionReader; stateDir: string | null },
): ReplicationConfig | null {
  // [replication]
  const r = reader('replication');
  const enabled = r.boolean('enabled', D.enabled);
  const user = r.text(
    'user',
    D.user,
    'a user name on the peer: letters, digits, "_", "." and "-", not starting with "-", "." or a digit, at most 32 characters, such as root',
    (t) => ok(USER_NAME.test(t)),
  );
  const port = r.integer('port', { default: D.port, min: L.tcpPort.min, max: L.tcpPort.max });
  const keyPath = r.path(
    'key',
    D.keyPath,
    `an absolute path to pbx-ha's private key made of ${SSH_PATH_CHARS}, such as ${D.keyPath}`,
    checkSshFilePath,
  );
  const knownHostsPath = r.path(
    'known_hosts',
    D.knownHostsPath,
    `an absolute path to pbx-ha's known_hosts file made of ${SSH_PATH_CHARS}, such as ${D.knownHostsPath}`,
    checkSshFilePath,
  );
  const connectTimeoutMs = r.duration('connect_timeout', {
    defaultMs: D.connectTimeoutMs,
    minMs: L.connectTimeoutMs.min,
    maxMs: L.connectTimeoutMs.max,
  });
  const retryMinMs = r.duration('retry_min', {
    defaultMs: D.retryMinMs,
    minMs: L.retryMinMs.min,
    maxMs: L.retryMinMs.max,
  });
  const retryMaxMs = r.duration('retry_max', {
    defaultMs: D.retryMaxMs,
    minMs: L.retryMaxMs.min,
    maxMs: L.retryMaxMs.max,
  });
  if (retryMinMs !== null && retryMaxMs !== null && retryMaxMs < retryMinMs) {
    const maxEntry = r.entry('retry_max');
    if (maxEntry !== undefined) {
      r.report(
        maxEntry,
        `a duration at least retry_min (${formatDurationMs(retryMinMs)})`,
        'retry_max shorter than retry_min',
      );
    } else {
      // Only retry_min was written, beyond retry_max's default: that is the line to fix.
      r.report(
        r.entry('retry_min')!,
        `a duration at most retry_max (${formatDurationMs(retryMaxMs)}, its default), or a longer retry_max`,
        'retry_min longer than retry_max',
      );
    }
  }
  const alertAfter = r.integer('alert_after', {
    default: D.alertAfter,
    min: L.alertAfter.min,
    max: L.alertAfter.max,
  });
  // Entries with a problem already: a cross-check does not add a second message to the same line.
  const alreadyReported = new Set<IniEntry>();
  // The peer writes into the staging area and pbx-ha rotates the backups: both must be pbx-ha's own.
  const exchangeDir = r.path(
    'exchange_dir',
    D.exchangeDir,
    `${OWN_DIR_RULE}, such as ${D.exchangeDir}`,
    checkOwnDir,
  );
  const backupDir = r.path('backup_dir', D.backupDir, `${OWN_DIR_RULE}, such as ${D.backupDir}`, checkOwnDir);
  if (exchangeDir !== null && backupDir !== null) {
    // The peer writes into the staging area: backups there could be overwritten or read by it, and
    // a staging area among the backups could be rotated away.
    const relation =
      backupDir === exchangeDir
        ? 'same directory as exchange_dir'
        : isInside(backupDir, exchangeDir)
          ? `inside exchange_dir ${exchangeDir}`
          : isInside(exchangeDir, backupDir)
            ? `contains exchange_dir ${exchangeDir}`
            : null;
    const entry = r.entry('backup_dir') ?? r.entry('exchange_dir');
    if (relation !== null && entry !== undefined) {
      alreadyReported.add(entry);
      r.report(
        entry,
        'a directory apart from the staging area (exchange_dir), neither inside nor around it',
        relation,
      );
    }
  }
  const keepBackups = r.integer('keep_backups', {
    default: D.keepBackups,
    min: L.keepBackups.min,
    max: L.keepBackups.max,
  });

  const syncTimeout = (job: SectionReader, defaultMs: number): number | null =>
    job.duration('timeout', { defaultMs, minMs: L.syncTimeoutMs.min, maxMs: L.syncTimeoutMs.max });

  // [sync.files]
  const f = reader('sync.files');
  const filesSchedule = f.cron('schedule', D.files.schedule);
  const filesTimeoutMs = syncTimeout(f, D.files.timeoutMs);
  const paths = f.pathList(
    'paths',
    D.files.paths,
    'comma-separated absolute paths such as /etc/asterisk, /var/spool/asterisk/voicemail',
  );
  const spool = readSpool(f, paths);

  // [sync.db]
  const d = reader('sync.db');
  const dbSchedule = d.cron('schedule', D.db.schedule);
  const dbTimeoutMs = syncTimeout(d, D.db.timeoutMs);
  const database = d.text(
    'database',
    D.db.database,
    'a PostgreSQL database name: letters, digits and "_", not starting with a digit, at most 63 characters, such as asterisk',
    (t) => ok(PG_NAME.test(t)),
  );
  const host = d.text(
    'host',
    D.db.host,
    'a socket directory such as /run/postgresql, or a host name or IPv4 address such as 192.0.2.20 (as PGHOST)',
    (t) => {
      if (!t.startsWith('/')) return ok(isHostName(t));
      const checked = checkPath(t);
      return checked.ok ? null : checked.problem;
    },
  );
  const dbPort = d.integer('port', { default: D.db.port, min: L.tcpPort.min, max: L.tcpPort.max });
  const dbUser = d.text(
    'user',
    D.db.user,
    'a PostgreSQL role name: letters, digits and "_", not starting with a digit, at most 63 characters, such as postgres',
    (t) => ok(PG_NAME.test(t)),
  );
  const excludeTables = d.textList(
    'exclude_tables',
    D.db.excludeTables,
    'comma-separated table names or pg_dump patterns (letters, digits, "_", "*", an optional "schema." in front), such as cel, stat_*; not "*" alone',
    (t) => TABLE_PATTERN.test(t) && !/(^|\.)\*+$/.test(t),
  );

  // mode: `dump` (pg_dump of the data, hourly) or `streaming` (PostgreSQL's physical replication
  // of the whole cluster, src/agent/streaming-db.ts). The streaming keys are read in either mode,
  // so that a mistake is reported before the mode is switched.
  const dbModeText = d.text('mode', D.db.mode, 'dump or streaming', (t) =>
    ['dump', 'streaming'].includes(t.toLowerCase()) ? null : 'unknown database copy mode',
  );
  const dbMode = dbModeText === null ? null : (dbModeText.toLowerCase() as 'dump' | 'streaming');
  const streaming = readStreaming(d, dbPort, host);

  // [sync.astdb]
  const a = reader('sync.astdb');
  const astdbSchedule = a.cron('schedule', D.astdb.schedule);
  const astdbTimeoutMs = syncTimeout(a, D.astdb.timeoutMs);
  const astdbPath = a.path('path', D.astdb.path, `an absolute path such as ${D.astdb.path}`);
  const debounceMs = a.duration('debounce', {
    defaultMs: D.astdb.debounceMs,
    minMs: L.astdbDebounceMs.min,
    maxMs: L.astdbDebounceMs.max,
    zeroAllowed: true,
  });

  // What the files job must leave alone: a listed path may not lie `inside` an area (a directory),
  // nor contain it (`around`: a listed /var/lib would copy /var/lib/pbx-ha too).
  interface Area {
    dir: string;
    inside: boolean;
    around: boolean;
    what: string;
    expected: string;
    /** The key that sets `dir`, when one does. */
    owner?: { reader: SectionReader; key: string };
  }
  const SYSTEM =
    'paths of ordinary files, outside /proc, /sys, /dev and /run (kernel and runtime file systems, different on each node)';
  const PBX_HA =
    "paths apart from pbx-ha's own directories (state, staging area, backups): a copy would copy the copies";
  const PBX_DATA =
    "paths of the PBX's data (configuration, sounds, voicemail), apart from the system's logins, programs and scheduled jobs";
  const SSH = "paths that leave out pbx-ha's SSH key and known_hosts, which differ on each node";
  const areas: Area[] = [
    // /var/run is a link to /run on Debian; links are not resolved, so it is named too.
    ...['/proc', '/sys', '/dev', '/run', '/var/run'].map((dir) => ({
      dir,
      inside: true,
      around: false,
      what: 'not ordinary files',
      expected: SYSTEM,
    })),
    {
      dir: CONFIG_DEFAULTS.agent.stateDir,
      inside: true,
      around: true,
      what: "pbx-ha's state directory",
      expected: PBX_HA,
    },
  ];
  const add = (dir: string | null, area: Omit<Area, 'dir'>): void => {
    if (dir !== null) areas.push({ dir, ...area });
  };
  // [agent] state_dir is read as written (absolutePath); compare its normalised form.
  const stateDir = agent.stateDir === null ? null : checkPath(agent.stateDir);
  add(stateDir?.ok === true ? stateDir.path : null, {
    inside: true,
    around: true,
    what: '[agent] state_dir',
    expected: PBX_HA,
    owner: { reader: agent.reader, key: 'state_dir' },
  });
  add(exchangeDir, {
    inside: true,
    around: true,
    what: '[replication] exchange_dir',
    expected: PBX_HA,
    owner: { reader: r, key: 'exchange_dir' },
  });
  add(backupDir, {
    inside: true,
    around: true,
    what: '[replication] backup_dir',
    expected: PBX_HA,
    owner: { reader: r, key: 'backup_dir' },
  });
  add('/var/lib/postgresql', {
    inside: true,
    around: true,
    what: "PostgreSQL's data directory",
    expected:
      'paths apart from /var/lib/postgresql: a running database cannot be copied as files; [sync.db] copies its data',
  });
  add(astdbPath, {
    inside: false,
    around: true,
    what: '[sync.astdb] path',
    owner: { reader: a, key: 'path' },
    expected:
      'paths that leave out astdb, which [sync.astdb] copies safely while Asterisk writes it (list subdirectories such as /var/lib/asterisk/sounds, not /var/lib/asterisk)',
  });
  add(keyPath, {
    inside: false,
    around: true,
    what: '[replication] key',
    expected: SSH,
    owner: { reader: r, key: 'key' },
  });
  add(knownHostsPath, {
    inside: false,
    around: true,
    what: '[replication] known_hosts',
    expected: SSH,
    owner: { reader: r, key: 'known_hosts' },
  });

  // The slave installs the copy as root: a listed path that holds logins, programs or scheduled
  // jobs would let whoever stages a copy (the holder of pbx-ha's key) log in or run code there.
  // Last, so that a more precise reason above (pbx-ha's key in /etc/pbx-ha) is the one given.
  for (const dir of LOGIN_AND_CODE)
    areas.push({
      dir,
      inside: true,
      around: true,
      what: 'logins, programs or scheduled jobs',
      expected: PBX_DATA,
    });

  /** How `path` (a listed one) stands to `area`, when that is refused: 'is', 'inside' or 'contains'. */
  const relation = (path: string, area: Area): 'is' | 'inside' | 'contains' | null => {
    if (path === area.dir) return 'is';
    if (area.inside && isInside(path, area.dir)) return 'inside';
    if (area.around && isInside(area.dir, path)) return 'contains';
    return null;
  };
  const pathsEntry = f.entry('paths');
  for (const path of paths) {
    if (pathsEntry !== undefined) {
      // The listed path is the one to fix; its first clash is enough.
      const area = areas.find((x) => relation(path, x) !== null);
      if (area !== undefined)
        f.report(pathsEntry, area.expected, `${relation(path, area)} ${area.dir} (${area.what})`, path);
      continue;
    }
    // The default paths are fine with the default values: the key that moved is the one to fix.
    for (const area of areas) {
      const how = relation(path, area);
      const entry = area.owner?.reader.entry(area.owner.key);
      if (how === null || entry === undefined || alreadyReported.has(entry)) continue;
      alreadyReported.add(entry);
      const reverse = how === 'inside' ? 'contains' : how === 'contains' ? 'inside' : 'is';
      area.owner!.reader.report(
        entry,
        `a path apart from the [sync.files] paths (by default ${D.files.paths.join(', ')})`,
        `${reverse} ${path}, which [sync.files] copies`,
      );
    }
  }

  if (
    enabled === null ||
    user === null ||
    port === null ||
    keyPath === null ||
    knownHostsPath === null ||
    connectTimeoutMs === null ||
    retryMinMs === null ||
    retryMaxMs === null ||
    alertAfter === null ||
    exchangeDir === null ||
    backupDir === null ||
    keepBackups === null ||
    filesSchedule === null ||
    filesTimeoutMs === null ||
    spool === null ||
    dbSchedule === null ||
    dbTimeoutMs === null ||
    dbMode === null ||
    streaming === null ||
    database === null ||
    host === null ||
    dbPort === null ||
    dbUser === null ||
    astdbSchedule === null ||
    astdbTimeoutMs === null ||
    astdbPath === null ||
    debounceMs === null
  ) {
    return null;
  }
  return {
    enabled,
    user,
    port,
    keyPath,
    knownHostsPath,
    connectTimeoutMs,
    retryMinMs,
    retryMaxMs,
    alertAfter,
    exchangeDir,
    backupDir,
    keepBackups,
    files: { schedule: filesSchedule, timeoutMs: filesTimeoutMs, paths, spool },
    db: {
      schedule: dbSchedule,
      timeoutMs: dbTimeoutMs,
      database,
      host,
      port: dbPort,
      user: dbUser,
      excludeTables,
      mode: dbMode,
      streaming,
    },
    astdb: { schedule: astdbSchedule, timeoutMs: astdbTimeoutMs, path: astdbPath, debounceMs },
  };
}

/**
 * [sync.files] spool: the directories copied as soon as they change. Each must be one of the
 * `paths` or inside one, so that the scheduled copy is their safety net and the slave installs
 * them under the same rules. Empty (`spool =`) turns the change-driven copy off. null when refused.
 */
function readSpool(f: SectionReader, paths: string[]): string[] | null {
  const entry = f.entry('spool');
  if (entry !== undefined && entry.value.trim() === '') return [];
  const before = entry === undefined ? 0 : 1;
  const expected =
    'comma-separated absolute paths, each one of the [sync.files] paths or inside one, such as /var/spool/asterisk/voicemail; empty for none';
  const spool = f.pathList('spool', D.files.spool, expected);
  let refused = false;
  for (const dir of spool) {
    if (paths.some((p) => p === dir || isInside(dir, p))) continue;
    refused = true;
    // The default spool with paths that leave it out: the change-driven copy of what is not
    // copied at all is dropped, not refused (a node with no voicemail lists no voicemail).
    if (entry !== undefined) f.report(entry, expected, 'not under any of the [sync.files] paths', dir);
  }
  if (entry === undefined) return spool.filter((dir) => paths.some((p) => p === dir || isInside(dir, p)));
  return refused || (before === 1 && spool.length === 0) ? null : spool;
}

/** Debian's cluster name as pg_ctlcluster takes it: `15/main`. */
const PG_CLUSTER = /^(\d{1,3}(?:\.\d{1,3})?)\/([A-Za-z0-9_][A-Za-z0-9_-]{0,62})$/;
/** The replication role: lower-case, since PostgreSQL folds an unquoted name to lower case. */
const PG_ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * [sync.db]'s streaming keys: the cluster (Debian's `version/name`, from which the directories
 * and pg_ctlcluster follow) or its directories one by one with `control = pg_ctl`. Paths must
 * be plain (no space or quote: they go into PostgreSQL's connection strings). null when refused.
 */
function readStreaming(d: SectionReader, port: number | null, host: string | null): DbStreamingConfig | null {
  const D = CONFIG_DEFAULTS.replication.db.streaming;
  const cluster = d.text('cluster', '15/main', 'a Debian PostgreSQL cluster such as 15/main', (t) =>
    PG_CLUSTER.test(t) ? null : 'not version/name',
  );
  const m = cluster === null ? null : PG_CLUSTER.exec(cluster);
  const [version, name] = m === null ? ['15', 'main'] : [m[1], m[2]];
  const plain = (t: string): PathCheck => {
    const c = checkPath(t);
    return c.ok && /[\s'"\\]/.test(c.path) ? { ok: false, problem: 'a space, quote or backslash in it' } : c;
  };
  const dataDir = d.path(
    'data_directory',
    `/var/lib/postgresql/${version}/${name}`,
    'an absolute path such as /var/lib/postgresql/15/main',
    plain,
  );
  const configDir = d.path(
    'config_directory',
    `/etc/postgresql/${version}/${name}`,
    'an absolute path such as /etc/postgresql/15/main',
    plain,
  );
  const binDir = d.path(
    'bin_directory',
    `/usr/lib/postgresql/${version}/bin`,
    'an absolute path such as /usr/lib/postgresql/15/bin',
    plain,
  );
  const controlKind = d.text('control', 'pg_ctlcluster', 'pg_ctlcluster or pg_ctl', (t) =>
    t === 'pg_ctlcluster' || t === 'pg_ctl' ? null : 'unknown',
  );
  const serverLog = d.path(
    'server_log',
    `/var/log/postgresql/postgresql-${version}-${name}.log`,
    'an absolute path such as /var/log/postgresql/postgresql-15-main.log (with control = pg_ctl)',
    plain,
  );
  const role = d.text(
    'replication_role',
    D.role,
    'a PostgreSQL role name in lower case: letters, digits and "_", such as pbx_ha_replica',
    (t) => (PG_ROLE.test(t) ? null : ''),
  );
  const keepMb = d.integer('max_slot_wal_keep', { default: D.maxSlotWalKeepMb, min: 64, max: 1_048_576 });
  const promoteTimeoutMs = d.duration('promote_timeout', {
    defaultMs: D.promoteTimeoutMs,
    minMs: 5_000,
    maxMs: 600_000,
  });
  const rejoinTimeoutMs = d.duration('rejoin_timeout', {
    defaultMs: D.rejoinTimeoutMs,
    minMs: 30_000,
    maxMs: 86_400_000,
  });
  if (host !== null && !host.startsWith('/') && d.entry('mode')?.value.trim().toLowerCase() === 'streaming') {
    // pbx-ha runs the local server's tools over its socket as its owner.
    d.report(
      d.entry('host')!,
      'a socket directory such as /run/postgresql in streaming mode',
      'not a socket directory',
    );
    return null;
  }
  if (
    cluster === null ||
    dataDir === null ||
    configDir === null ||
    binDir === null ||
    controlKind === null ||
    serverLog === null ||
    role === null ||
    keepMb === null ||
    promoteTimeoutMs === null ||
    rejoinTimeoutMs === null ||
    port === null
  )
    return null;
  return {
    dataDir,
    configDir,
    binDir,
    control:
      controlKind === 'pg_ctl'
        ? { kind: 'pg_ctl', logFile: serverLog }
        : { kind: 'pg_ctlcluster', version, name },
    role,
    maxSlotWalKeepMb: keepMb,
    promoteTimeoutMs,
    rejoinTimeoutMs,
  };
}
