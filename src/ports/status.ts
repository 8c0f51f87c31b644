// What a node says about itself: the answer to `pbx-ha status` over the control socket, and
// what the metrics endpoint reads. Built in one place (agent/daemon.ts, from agent/status.ts
// and the job runner); shown by cli/status.ts and adapters/metrics.ts.

import type { Role } from '../config/types';
import type { CopyKind } from '../domain/copies';
import type { Reachability } from '../domain/detector';
import type { NodeState } from '../domain/states';

export interface TransitionRecord {
  at: string;
  from: NodeState;
  to: NodeState;
  reason: string;
}

export interface AgentStatus {
  node: string;
  role: Role;
  state: NodeState;
  since: string;
  reason: string;
  pid: number;
  configFile: string;
  peer: {
    name: string;
    address: string;
    reachability: Reachability;
    lastAnswer: string | null;
    rttMs: number | null;
  };
  vips: { name: string; address: string; interface: string; held: boolean }[];
  tracks: { address: string; reachability: Reachability }[];
  /** Tracked checks: up/down/unknown, and the last failure's message. */
  checks?: { name: string; status: string; lastProblem: string | null }[];
  /** Slave only: the master handed over and this node serves until it is asked to release. */
  handedOver?: boolean;
  links: Record<string, boolean>;
  transitions: TransitionRecord[];
}

/** `forced`: by hand with --now, copied even when nothing changed since the last copy. */
export type JobTrigger = 'schedule' | 'manual' | 'forced' | 'change' | 'retry';

export interface JobRecord {
  kind: CopyKind;
  trigger: JobTrigger;
  startedAtWallMs: number;
  durationMs: number;
  ok: boolean;
  bytes: number;
  detail: string;
  error: string | null;
}

export interface JobState {
  kind: CopyKind;
  running: boolean;
  lastSuccess: JobRecord | null;
  lastError: { atWallMs: number; message: string } | null;
  consecutiveFailures: number;
  nextRetryWallMs: number | null;
}

/** A copy the peer sent to this node: the last one (installed or refused), and the last installed. */
export interface ReceivedCopy {
  kind: CopyKind;
  from: string;
  atWallMs: number;
  ok: boolean;
  detail: string;
  lastInstalledAtWallMs: number | null;
}

/** The change-driven spool copy (jobs/spool-watch.ts) on this node. */
export interface SpoolWatchStatus {
  roots: string[];
  watching: boolean;
  restarts: number;
  lastProblem: string | null;
}

/**
 * The agent's status with the copies' states and next scheduled runs. `sends`: whether this node
 * sends copies now (the jobs run here; otherwise no next run is shown); `received`: the copies it
 * received from its peer since it started.
 */
export type StatusAnswer = AgentStatus & {
  jobs?: JobState[];
  nextRuns?: Record<string, string | null>;
  sends?: boolean;
  received?: ReceivedCopy[];
  spool?: SpoolWatchStatus;
  db?: DbReplicationStatus;
};

/** The database's replication as `status`, `history` and the metrics show it. */
export interface DbReplicationStatus {
  mode: 'dump' | 'streaming';
  /** What the local PostgreSQL was last seen to be (streaming mode): primary, standby, stopped, unknown. */
  local: string | null;
  /**
   * WAL the standby has not replayed yet, in bytes, and pg_stat_replication's replay lag in
   * seconds (null when not measured: no standby streams, or the primary has no sample yet).
   */
  lagBytes: number | null;
  lagSeconds: number | null;
  /** The last step taken (promote, rewind, clone, switchover…), with when (ms since the epoch). */
  lastStep: { atWallMs: number; summary: string; ok: boolean } | null;
  /** Two primaries (a timeline split): copying stopped until it is resolved; what resolves it. */
  split: { reason: string; resolve: string } | null;
}
