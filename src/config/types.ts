// The validated configuration, as the rest of pbx-ha sees it. Every duration is in
// milliseconds and its name says so; the INI file writes durations with units
// (`200ms`, `1s`, `2m`). Nothing here is optional unless the product works without it.

export type Role = 'master' | 'slave';

export interface NodeConfig {
  /** Section name after `node.`: the node's hostname (or its `--node` name). */
  name: string;
  /** IPv4 address the peer probes with ICMP (no prefix). */
  address: string;
}

export interface RouteConfig {
  /** `default` or an IPv4 CIDR, normalised (`203.0.113.0/24`). */
  destination: string;
  /** Gateway address, or null for an on-link route. */
  via: string | null;
  /** The text as written, for messages. */
  text: string;
}

export interface VipConfig {
  /** Section name after `vip.` (`voip`, `data`). */
  name: string;
  /** IPv4 address without prefix. */
  address: string;
  prefixLength: number;
  /** Network interface the VIP lives on, same name on both nodes. */
  interface: string;
  /** Routes installed with `src <address>` while the VIP is held. */
  routes: RouteConfig[];
}

export interface HealthConfig {
  /** How often the peer (and each tracked target) is probed. */
  intervalMs: number;
  /** The peer is declared down when it has not answered for fall × interval. */
  fall: number;
  /** The peer is declared up after this many answers in a row. */
  rise: number;
  /** Time an ICMP probe waits for its echo reply. */
  timeoutMs: number;
  /** Addresses (usually the gateway) this node must reach to be healthy. */
  track: string[];
}

/**
 * One [track.NAME] section: a command whose exit status says whether this node can serve (such as
 * `asterisk -rx "core show uptime"`), with keepalived's track_script rise/fall counting.
 */
export interface TrackCheckConfig {
  /** Section name after `track.` (`asterisk`): in messages, `pbx-ha status` and metrics. */
  name: string;
  /** argv, never a shell string; argv[0] is an absolute path. Exit status 0 = success. */
  command: string[];
  /** How often the command is run. */
  intervalMs: number;
  /** A run still going after this long is killed and counts as a failure; shorter than intervalMs. */
  timeoutMs: number;
  /** A failed check is up again after this many successes in a row. */
  rise: number;
  /** The check is down after this many failures in a row. */
  fall: number;
}

/** [failover]: what happens once the master is healthy again after the slave took over. */
export interface FailoverConfig {
  /** auto: the master takes the VIPs back by itself; manual: only on `pbx-ha failback`. */
  failback: 'auto' | 'manual';
  /** With auto, how long the master must have been healthy before it takes the VIPs back (0 = at once). */
  failbackDelayMs: number;
}

/** [metrics]: the Prometheus endpoint. */
export interface MetricsConfig {
  /** false: no port is opened. */
  enabled: boolean;
  /** Address to listen on, as `server.listen` takes it: IPv4, or IPv6 without brackets (`::1`). */
  host: string;
  port: number;
}

export interface GarpConfig {
  /** Gratuitous ARP requests per burst. */
  count: number;
  /** Gap between two requests of a burst. */
  intervalMs: number;
  /** A second burst this long after the first (0 = none). */
  repeatAfterMs: number;
  /** While active, a burst every refreshMs (0 = never). */
  refreshMs: number;
}

export interface CommandConfig {
  /** argv, never a shell string; argv[0] is an absolute path. */
  argv: string[];
  /** The command is killed and reported as failed after this long. */
  timeoutMs: number;
}

export interface ServicesConfig {
  /** Starts the PBX services; null when not configured (nothing is started). */
  start: CommandConfig | null;
  /** Stops the PBX services; null when not configured. */
  stop: CommandConfig | null;
}

export interface NotifyConfig {
  /** Called as `script EVENT NODE STATE ROLE`; null when not configured. */
  script: CommandConfig | null;
}

export interface AgentConfig {
  /** How often wanted and actual addresses/routes are compared and repaired. */
  reconcileIntervalMs: number;
  /** Control socket of the running agent (root only). */
  socketPath: string;
  /** Directory for state and history (`/var/lib/pbx-ha`). */
  stateDir: string;
  /** On SIGTERM: release the VIPs (true), or keep them (false, for package upgrades). */
  releaseOnStop: boolean;
}

/** When and how long one replication job runs; the master runs it, never the slave. */
export interface SyncJobConfig {
  /** node-cron expression (local time), as written: `0 * * * *` = every hour at minute 0. */
  schedule: string;
  /** A run still going after this long is stopped and counted as a failure. */
  timeoutMs: number;
}

/** [sync.files]: configuration trees and media copied with rsync. */
export interface FilesSyncConfig extends SyncJobConfig {
  /** Absolute, normalised paths (no `.`/`..`, no trailing `/`), none inside another. */
  paths: string[];
  /**
   * Spool directories copied as soon as they change (jobs/spool-watch.ts): each is one of
   * `paths` or inside one, none inside another; empty = the schedule alone.
   */
  spool: string[];
}

/** [sync.db]: the PostgreSQL data copied with pg_dump --data-only / psql. */
export interface DbSyncConfig extends SyncJobConfig {
  /** Database name (letters, digits, `_`). */
  database: string;
  /** As libpq's PGHOST: a socket directory (absolute path) or a host name / IPv4 address. */
  host: string;
  /** TCP port, or the number in the socket's file name (`.s.PGSQL.5432`). */
  port: number;
  /** Role pg_dump and psql connect as. */
  user: string;
  /** pg_dump table patterns (`stat_*`, `public.cel`) whose data is not copied. */
  excludeTables: string[];
  /**
   * `dump`: the hourly pg_dump --data-only copy above. `streaming`: PostgreSQL's own physical
   * replication of the whole cluster (the slave's server is a hot standby of the master's).
   */
  mode: 'dump' | 'streaming';
  /** The local PostgreSQL cluster as streaming replication drives it (read in `streaming` mode only). */
  streaming: DbStreamingConfig;
}

/** [sync.db] keys of the streaming mode: where the cluster is and how it is run. */
export interface DbStreamingConfig {
  /** PGDATA, absolute: /var/lib/postgresql/<version>/<name> on Debian. */
  dataDir: string;
  /** Where postgresql.conf, pg_hba.conf and conf.d are: /etc/postgresql/<version>/<name> on Debian. */
  configDir: string;
  /** PostgreSQL's programs: /usr/lib/postgresql/<version>/bin on Debian. */
  binDir: string;
  /** Debian's cluster (pg_ctlcluster <version> <name>), or pg_ctl with `serverLog`. */
  control: { kind: 'pg_ctlcluster'; version: string; name: string } | { kind: 'pg_ctl'; logFile: string };
  /** The replication role (LOGIN REPLICATION, nothing else): lower-case letters, digits, `_`. */
  role: string;
  /** WAL a slot may hold for an absent standby, in MB (max_slot_wal_keep_size). */
  maxSlotWalKeepMb: number;
  /** How long a promotion before the services start may take. */
  promoteTimeoutMs: number;
  /** How long a rejoin (rewind or a new clone) may take. */
  rejoinTimeoutMs: number;
}

/** [sync.astdb]: Asterisk's internal database (SQLite), copied with the online backup API. */
export interface AstdbSyncConfig extends SyncJobConfig {
  /** Absolute path of astdb.sqlite3. */
  path: string;
  /** A copy this long after the last change seen; 0 = on schedule only. */
  debounceMs: number;
}

/** [replication] and the [sync.*] jobs: how the master keeps the slave ready to take over. */
export interface ReplicationConfig {
  /** false: no job runs and no SSH connection is made (the failover itself is unaffected). */
  enabled: boolean;
  /** SSH user on the peer (its authorized_keys holds pbx-ha's restricted key). */
  user: string;
  /** SSH port on the peer. */
  port: number;
  /** pbx-ha's own private key, absolute path. */
  keyPath: string;
  /** pbx-ha's own known_hosts (the peer's recorded host key), absolute path. */
  knownHostsPath: string;
  /** An SSH connection not established after this long fails. */
  connectTimeoutMs: number;
  /** Delay before retrying a job after its first failure; doubled after each further failure. */
  retryMinMs: number;
  /** The retry delay never grows beyond this; at least retryMinMs. */
  retryMaxMs: number;
  /** Consecutive failures of one job before an alert. */
  alertAfter: number;
  /** Staging area: `incoming/<kind>/` and `outgoing/<kind>/`; absolute, normalised. */
  exchangeDir: string;
  /** Where installed copies' replaced versions are kept: `<kind>/`; absolute, normalised. */
  backupDir: string;
  /** Replaced versions kept per kind; older ones are deleted. */
  keepBackups: number;
  files: FilesSyncConfig;
  db: DbSyncConfig;
  astdb: AstdbSyncConfig;
}

export interface PbxHaConfig {
  /** The file the configuration was read from, for messages. */
  file: string;
  master: string;
  slave: string;
  nodes: NodeConfig[];
  vips: VipConfig[];
  health: HealthConfig;
  /** The [track.NAME] sections in file order; empty when there is none (no check is implied). */
  checks: TrackCheckConfig[];
  failover: FailoverConfig;
  garp: GarpConfig;
  services: ServicesConfig;
  notify: NotifyConfig;
  agent: AgentConfig;
  replication: ReplicationConfig;
  metrics: MetricsConfig;
}

/** One problem found in a configuration file; every problem is reported at once. */
export interface ConfigProblem {
  file: string;
  section: string | null;
  key: string | null;
  value: string | null;
  /** What was expected, in words an administrator understands. */
  expected: string;
  /** 1-based line in the file, when the problem is tied to one (added by the config layer). */
  line?: number;
  /** What is wrong, when "expected ..." alone would not say it: `unknown key (did you mean "interval"?)`. */
  problem?: string;
}
