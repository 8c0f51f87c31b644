// Default values and accepted ranges of pbx-ha.conf, in milliseconds where a duration.
// etc/pbx-ha.conf documents each of them for administrators; keep the two in step.
// CONFIG_DEFAULTS.track holds the defaults of each [track.NAME] section (there is no default check).
//
//   CONFIG_DEFAULTS, CONFIG_LIMITS, DEFAULT_CONFIG_FILE

export const DEFAULT_CONFIG_FILE = '/etc/pbx-ha/pbx-ha.conf';

export const CONFIG_DEFAULTS = {
  health: {
    // One probe a second and fall = 3: a failover about 3 s after the master's last answer, long
    // enough to ride out one or two lost ICMP packets, short enough that calls barely notice.
    intervalMs: 1000,
    fall: 3,
    rise: 3,
    // timeoutMs defaults to intervalMs: a reply later than the next probe is useless anyway.
  },
  // Each [track.NAME] section (a tracked check, such as `asterisk -rx "core show uptime"`). There
  // is no default check: a file without [track.*] sections tracks no command, so that pbx-ha also
  // runs where Asterisk is not installed.
  track: {
    // `asterisk -rx` costs a process and a console connection: every 5 s is cheap, and with fall = 3
    // a dead Asterisk is noticed within about 15 s.
    intervalMs: 5000,
    // A console that does not answer within 3 s is as good as dead; shorter than the interval so
    // that one run ends before the next one is due.
    timeoutMs: 3000,
    // Two successes in a row before a failed check counts as recovered, so that one lucky answer
    // from a restarting Asterisk does not bring the VIPs back.
    rise: 2,
    // Three failures in a row: a reload or a busy console can miss one answer, rarely three.
    fall: 3,
  },
  failover: {
    // keepalived's default (preempt): the master is the preferred node and takes the VIPs back.
    failback: 'auto',
    // No extra wait by default: the peer's rise count already proves the master is back.
    failbackDelayMs: 0,
  },
  metrics: {
    // Off by default: a new listening port is the administrator's decision.
    enabled: false,
    // Loopback only: the endpoint tells anyone who reaches it the pair's state (roles, checks,
    // failovers); a Prometheus on another host needs an explicit address.
    host: '127.0.0.1',
    port: 9549,
  },
  garp: {
    // keepalived's defaults: five requests 200 ms apart survive a switch dropping the first one.
    count: 5,
    intervalMs: 200,
    // A second burst a few seconds later catches switches and phones whose port was still
    // learning (spanning tree) during the first one.
    repeatAfterMs: 5000,
    refreshMs: 0,
  },
  services: {
    // Starting XiVO/Wazo services can take tens of seconds (PostgreSQL, Asterisk modules).
    timeoutMs: 60_000,
  },
  notify: {
    // A notification script must not hold up a failover for long.
    timeoutMs: 10_000,
  },
  agent: {
    reconcileIntervalMs: 5000,
    socketPath: '/run/pbx-ha/pbx-ha.sock',
    stateDir: '/var/lib/pbx-ha',
    releaseOnStop: true,
  },
  replication: {
    enabled: true,
    // `pbx-ha pair` installs pbx-ha's key in root's authorized_keys, restricted to
    // `pbx-ha peer-command` (docs/replication.md), as xivo-sync used root.
    user: 'root',
    port: 22,
    // pbx-ha's own key and known_hosts, never root's personal ones.
    keyPath: '/etc/pbx-ha/ssh/id_ed25519',
    knownHostsPath: '/etc/pbx-ha/ssh/known_hosts',
    // Long enough for a loaded peer, short enough that a dead one does not hold a job for long.
    connectTimeoutMs: 10_000,
    // 30 s, 1 m, 2 m, ... 10 m: a peer down for an hour is not hammered, one that comes back is
    // served again within 10 minutes.
    retryMinMs: 30_000,
    retryMaxMs: 600_000,
    // One failure is often a passing network problem; three in a row is worth a mail.
    alertAfter: 3,
    exchangeDir: '/var/lib/pbx-ha/exchange',
    backupDir: '/var/lib/pbx-ha/backup',
    keepBackups: 5,
    files: {
      schedule: '0 * * * *',
      timeoutMs: 1_800_000,
      // What xivo-sync copied: Asterisk and XiVO configuration, sounds, music on hold, AGI scripts
      // and voicemail. Not /var/lib/asterisk as a whole: astdb.sqlite3 is copied by [sync.astdb].
      paths: [
        '/etc/asterisk',
        '/etc/xivo',
        '/var/lib/asterisk/sounds',
        '/var/lib/asterisk/moh',
        '/var/lib/asterisk/agi-bin',
        '/var/spool/asterisk/voicemail',
        '/var/spool/asterisk/monitor',
      ],
      // Voicemail and call recordings (Asterisk's Monitor/MixMonitor directory, which XiVO and
      // Wazo keep): what a caller leaves must reach the slave in seconds, not at the next hour.
      spool: ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor'],
    },
    db: {
      // Ten minutes after the files, so that the two big copies do not load the link together.
      schedule: '10 * * * *',
      timeoutMs: 1_800_000,
      database: 'asterisk',
      host: '/run/postgresql',
      port: 5432,
      user: 'postgres',
      // Call logs and statistics are large, grow all day and are not needed to take over calls;
      // XiVO's replication left them out too.
      excludeTables: ['cel', 'queue_log', 'call_log', 'stat_*'],
      mode: 'dump',
      // Debian's PostgreSQL 15 (bookworm) cluster `main`, as XiVO and Wazo install it.
      streaming: {
        dataDir: '/var/lib/postgresql/15/main',
        configDir: '/etc/postgresql/15/main',
        binDir: '/usr/lib/postgresql/15/bin',
        control: { kind: 'pg_ctlcluster', version: '15', name: 'main' },
        role: 'pbx_ha_replica',
        maxSlotWalKeepMb: 1024,
        promoteTimeoutMs: 60_000,
        rejoinTimeoutMs: 900_000,
      },
    },
    astdb: {
      // astdb holds call forwards, DND and device states, changed by phones all day: copied often.
      schedule: '*/2 * * * *',
      timeoutMs: 120_000,
      path: '/var/lib/asterisk/astdb.sqlite3',
      // One copy after a burst of changes (a user setting several keys), not one per change.
      debounceMs: 2000,
    },
  },
} as const;

export const CONFIG_LIMITS = {
  healthIntervalMs: { min: 10, max: 60_000 },
  fallRise: { min: 1, max: 100 },
  garpCount: { min: 1, max: 100 },
  // A burst must end long before the next event; 0 sends the requests back to back.
  garpIntervalMs: { min: 0, max: 10_000 },
  garpRepeatAfterMs: { min: 0, max: 3_600_000 },
  // Refreshing more than once a second would be an ARP storm, not a refresh.
  garpRefreshMs: { min: 1000, max: 86_400_000 },
  commandTimeoutMs: { min: 1000, max: 3_600_000 },
  reconcileIntervalMs: { min: 100, max: 600_000 },
  // sun_path of a Unix socket holds 108 bytes including the final NUL.
  socketPathBytes: 107,
  tcpPort: { min: 1, max: 65_535 },
  connectTimeoutMs: { min: 1000, max: 300_000 },
  retryMinMs: { min: 1000, max: 3_600_000 },
  retryMaxMs: { min: 1000, max: 86_400_000 },
  alertAfter: { min: 1, max: 1000 },
  keepBackups: { min: 1, max: 1000 },
  syncTimeoutMs: { min: 1000, max: 86_400_000 },
  // Below 100 ms every keystroke of a burst would trigger a copy; above a minute the schedule
  // (every 2 minutes by default) is as quick.
  astdbDebounceMs: { min: 100, max: 60_000 },
  // A check more often than every 100 ms would be a load, not a check; one every 10 minutes or
  // more would leave a dead PBX holding the VIPs too long.
  trackIntervalMs: { min: 100, max: 600_000 },
  // And the timeout must be shorter than the interval (checked separately).
  trackTimeoutMs: { min: 10, max: 600_000 },
  // Beyond an hour the phones would be better served by `failback = manual`.
  failbackDelayMs: { min: 0, max: 3_600_000 },
} as const;
