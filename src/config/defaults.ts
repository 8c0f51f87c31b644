// Default values and accepted ranges of pbx-ha.conf, in milliseconds where a duration.
// etc/pbx-ha.conf documents each of them for administrators; keep the two in step.
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
} as const;
