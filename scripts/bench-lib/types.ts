/**
 * What the benchmark measures and how its results are stored (bench/results/<date>.json).
 * The report and the chart are computed from this file alone, so `--report FILE` can redraw
 * them without running anything.
 */

export type AgentName = 'pbx-ha' | 'keepalived';
export const AGENTS: readonly AgentName[] = ['pbx-ha', 'keepalived'];

export type TimingName = '1s' | '100ms';

/** One timing of both agents: pbx-ha [health] interval/fall/rise; keepalived advert_int. */
export interface Timing {
  name: TimingName;
  intervalMs: number;
  fall: number;
  rise: number;
  /** pbx-ha's [health] interval as written in its configuration. */
  pbxHaInterval: string;
  /** keepalived's advert_int (seconds) and VRRP version (sub-second adverts need VRRPv3). */
  advertInt: string;
  vrrpVersion: 2 | 3;
}

export const TIMINGS: readonly Timing[] = [
  { name: '1s', intervalMs: 1000, fall: 3, rise: 3, pbxHaInterval: '1s', advertInt: '1', vrrpVersion: 2 },
  {
    name: '100ms',
    intervalMs: 100,
    fall: 3,
    rise: 3,
    pbxHaInterval: '100ms',
    advertInt: '0.1',
    vrrpVersion: 3,
  },
];

/** Detection time as configured: fall × interval. */
export function detectionMs(t: Timing): number {
  return t.fall * t.intervalMs;
}

export type OutageScenario = 'cut-link' | 'dead-host' | 'planned' | 'failback';
export const OUTAGE_SCENARIOS: readonly OutageScenario[] = ['cut-link', 'dead-host', 'planned', 'failback'];

export const SCENARIO_TITLES: Record<OutageScenario, string> = {
  'cut-link': "master's link cut",
  'dead-host': "master's host dies",
  planned: 'planned handover',
  failback: 'failback (master returns)',
};

/** Everything `--only` accepts. */
export type Part = OutageScenario | 'takeover' | 'astdb' | 'spool' | 'db' | 'failback-data' | 'soak' | 'idle';
export const PARTS: readonly Part[] = [
  ...OUTAGE_SCENARIOS,
  'takeover',
  'astdb',
  'spool',
  'db',
  'failback-data',
  'soak',
  'idle',
];

/** `[sync.db] mode`: the database loss window is measured in each (`--db-mode`). */
export type DbMode = 'dump' | 'streaming';
export const DB_MODES: readonly DbMode[] = ['dump', 'streaming'];

/** What the slave writes while it serves, before a failback-data run (`none`: nothing). */
export type FailbackKind = 'none' | 'astdb' | 'spool' | 'db';
export const FAILBACK_KINDS: readonly FailbackKind[] = ['none', 'astdb', 'spool', 'db'];

/** One measured event (an outage seen by the phone). */
export interface OutageRun {
  scenario: OutageScenario;
  timing: TimingName;
  agent: AgentName;
  /** 1-based round: in each round every scenario × timing runs once per agent, pbx-ha first. */
  round: number;
  /** When the event was made (ISO). */
  at: string;
  /** Longest time the phone went without a reply around the event; null if not measured. */
  outageMs: number | null;
  /** Set when this agent cannot do the scenario (no figure is made up). */
  unavailable?: string;
  /** Set when the run failed; the run counts for nothing. */
  error?: string;
  /**
   * Failback runs: the longest stretch during which both nodes held one VIP, as the lab's holder
   * sampler saw it (`ip -n` on both nodes, a round every 20 ms or so); 0 when never.
   */
  twoHoldersMs?: number | null;
  /** pbx-ha only: from the decision line in the log to the first gratuitous ARP on the wire. */
  takeoverLatencyMs?: number | null;
  /** Replies and requests of the phone's pinger during the run. */
  replies?: number;
  sent?: number;
  /** Median spacing of the phone's replies in this run (the pinger's real period). */
  pingPeriodMs?: number | null;
}

export interface AstdbRun {
  round: number;
  at: string;
  /** Seconds of astdb writes the slave lacked when it started serving. */
  lossS: number | null;
  /** Keys the master had written at the cut, and the last one the slave had. */
  masterKey?: number;
  slaveKey?: number;
  /** The writer's measured period (ms per key). */
  periodMs?: number;
  /** The failback after it, with replication active: outage seen by the phone. */
  failbackOutageMs?: number | null;
  error?: string;
}

/** One spool-file loss window run (bench-lib/spool.ts). */
export interface SpoolRun {
  round: number;
  at: string;
  /** Seconds between the last file written before the cut and the newest one the slave had. */
  lossS: number | null;
  /** Sequence numbers of the last file written and the newest on the slave. */
  lastWritten?: number;
  lastOnSlave?: number;
  everyMs?: number;
  error?: string;
}

/** One database loss window run (bench-lib/db-loss.ts). */
export interface DbRun {
  mode: DbMode;
  round: number;
  at: string;
  /** Seconds between the last row the master committed before the cut and the newest on the slave. */
  lossS: number | null;
  /** Stamps (ISO) of those two rows. */
  lastOnMaster?: string;
  lastOnSlave?: string;
  /** Rows the master had committed before the cut, and the writer's measured period (ms per row). */
  rowsOnMaster?: number;
  /** Of those rows, how many the slave did not have once it held the VIPs (rows are a prefix). */
  rowsMissing?: number;
  everyMs?: number;
  /** Dump mode: the `[sync.db] schedule` used. */
  dumpSchedule?: string;
  error?: string;
}

/** One failback with one kind of data to bring back (bench-lib/failback-data.ts). */
export interface FailbackDataRun {
  kind: FailbackKind;
  round: number;
  at: string;
  /** From the master's cables plugged back to its `-> active` line in its log. */
  returnToClaimMs: number | null;
  /** The phone's longest time without an answer from the VIP around the failback (no holder). */
  noHolderMs: number | null;
  /** Whether the item the slave wrote is on the master after the failback (null for `none`). */
  broughtBack: boolean | null;
  /** The master's `failback data…` log lines of this failback (what it fetched, how long it took). */
  fetchLines?: string[];
  error?: string;
}

export interface ResourceUse {
  /** Processes counted (the daemon and its descendants), as "pid comm". */
  processes: string[];
  /** CPU time over the window, in % of one core (user + system, children included). */
  cpuPercent: number;
  rssKbMean: number;
  rssKbMax: number;
  windowS: number;
}

export interface IdleResult {
  timing: TimingName;
  /** agent -> node -> use. */
  use: Partial<Record<AgentName, Partial<Record<'pbx1' | 'pbx2', ResourceUse>>>>;
  error?: string;
}

export interface SoakResult {
  minutes: number;
  timing: TimingName;
  /** Transitions to active of the slave during the soak (false failovers). */
  takeovers: number;
  /** Times the master went to fault (e.g. its tracked gateway seemed silent). */
  masterFaults: number;
  /** Every transition line either agent logged during the soak. */
  transitions: string[];
  /** Copies done and failed during the soak, per kind. */
  copies: Record<string, { done: number; failed: number }>;
  /** Longest gap between replies of the phone pinging the VIP every 100 ms. */
  longestGapMs: number | null;
  /** /proc/loadavg at the end of the soak. */
  loadavg: string;
  /** CPU used by the hog processes (% of one core each, average), to show the master was busy. */
  hogCpuPercent: number[];
  error?: string;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  finishedAt: string | null;
  durationS: number | null;
  command: string;
  options: {
    runs: number;
    soakMinutes: number;
    idleSeconds: number;
    only: Part[];
    timings: TimingName[];
    /** Absent in results files from before the database part existed. */
    dbModes?: DbMode[];
  };
  machine: {
    cpus: number;
    cpuModel: string;
    kernel: string;
    node: string;
    keepalived: string;
    commit: string;
    loadavgStart?: string;
    loadavgEnd?: string;
  };
  /** Configuration of each agent, as used (pbx-ha.conf for 1s, keepalived.conf of pbx1 for 1s ...). */
  configs: Record<string, string>;
  /** Whether `pbx-ha failover` existed in the build that ran. */
  pbxHaFailover: boolean;
  /** Milliseconds between the phone's pings (the aim). */
  pingIntervalMs: number;
  /** The `ping -i` value used (ms) and the period it gave at calibration (ms). */
  pingArgMs?: number;
  pingCalibratedMs?: number;
  outages: OutageRun[];
  astdb: AstdbRun[];
  /** Absent in results files from before the spool part existed. */
  spool?: SpoolRun[];
  /** Absent in results files from before these parts existed. */
  db?: DbRun[];
  failbackData?: FailbackDataRun[];
  idle: IdleResult[];
  soak: SoakResult | null;
  /** Anything that went wrong outside a run (set-up, a phase). */
  errors: string[];
  /**
   * Said of the run after it ended, by whoever read it (a defect of the benchmark found in its
   * data, say); printed in the report as they are. Never changes a figure.
   */
  notes?: string[];
}
