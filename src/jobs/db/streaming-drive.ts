// Drives one goal of streaming replication to its end: observe both servers, ask the planner
// (src/domain/pg-streaming.ts) for the next step, run it, and again, until the goal is reached,
// refused (`blocked`), or two primaries are found (`split`, where nothing is touched). A step that
// fails ends the drive with its error, except a failed pg_rewind, which the planner turns into a
// new clone (the old data directory kept aside).

import {
  formatLsn,
  nextPgStep,
  type Divergence,
  type PgFacts,
  type PgGoal,
  type PgObservation,
  type PgStep,
} from '../../domain/pg-streaming';
import type { ReplicationSource } from './streaming-commands';

/** What the drive needs of a server: PgStreamingNode locally; the peer's through the peer link. */
export interface PgNodeControl {
  observe(): Promise<PgObservation>;
  countCommits(timeline: number, fromLsn: bigint): Promise<number>;
  start(): Promise<void>;
  stop(): Promise<void>;
  promote(): Promise<void>;
  follow(source: ReplicationSource, applicationName: string): Promise<void>;
  rewind(source: ReplicationSource, applicationName: string): Promise<void>;
  clone(source: ReplicationSource, applicationName: string): Promise<string | null>;
  ensureSlot(slot: string): Promise<void>;
}

export interface DriveOptions {
  /** How the local server reaches the peer's as a replication source. */
  source: ReplicationSource;
  /** This node's name in the peer's pg_stat_replication. */
  applicationName: string;
  /** The slot the peer streams from once this node is primary (made right after a promotion). */
  peerSlot: string;
  /** The drive gives up (`blocked`) after this long. */
  timeoutMs: number;
  /** Pause after a `wait` step. */
  pollMs: number;
  /** One line per step taken (what the status and the log show). */
  onStep?: (step: PgStep) => void;
  sleep?: (ms: number) => Promise<void>;
  nowMs?: () => number;
}

export interface DriveResult {
  /** The last step: done, blocked or split. */
  end: Extract<PgStep, { kind: 'done' | 'blocked' | 'split' }>;
  steps: PgStep[];
}

export async function drivePg(
  goal: PgGoal,
  local: PgNodeControl,
  peer: PgNodeControl,
  o: DriveOptions,
): Promise<DriveResult> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = o.nowMs ?? (() => performance.now());
  const deadline = now() + o.timeoutMs;
  const steps: PgStep[] = [];
  let divergence: Divergence | undefined;
  let rewindFailed = false;
  for (;;) {
    const facts: PgFacts = {
      local: await local.observe(),
      peer: await peer.observe(),
      ...(divergence === undefined ? {} : { divergence }),
      ...(rewindFailed ? { rewindFailed } : {}),
    };
    const step = nextPgStep(goal, facts);
    steps.push(step);
    o.onStep?.(step);
    if (step.kind === 'done' || step.kind === 'blocked' || step.kind === 'split') return { end: step, steps };
    if (now() > deadline) {
      const end = {
        kind: 'blocked' as const,
        reason: `not reached in ${o.timeoutMs} ms; last step: ${step.kind}`,
      };
      steps.push(end);
      return { end, steps };
    }
    switch (step.kind) {
      case 'start':
        await local.start();
        break;
      case 'stop':
        await local.stop();
        break;
      case 'promote':
        await local.promote();
        // Slots are not copied by a clone nor kept across roles: the new primary makes the peer's.
        await local.ensureSlot(o.peerSlot);
        break;
      case 'follow':
        await local.follow(o.source, o.applicationName);
        break;
      case 'rewind':
        try {
          await local.rewind(o.source, o.applicationName);
        } catch (e) {
          rewindFailed = true;
          o.onStep?.({ kind: 'wait', reason: `pg_rewind failed: ${(e as Error).message}`, lagBytes: null });
        }
        break;
      case 'clone':
        await local.clone(o.source, o.applicationName);
        // A new data directory: what was learnt of the old one no longer applies.
        rewindFailed = false;
        divergence = undefined;
        break;
      case 'count-commits':
        divergence = {
          timeline: step.timeline,
          fromLsn: step.fromLsn,
          commits: await local.countCommits(step.timeline, step.fromLsn),
        };
        break;
      case 'stop-peer':
        await peer.stop();
        break;
      case 'start-peer':
        await peer.start();
        // Back to where the switchover began; it is not retried blindly: the caller decides.
        return {
          end: { kind: 'blocked', reason: `${step.reason}; the peer's PostgreSQL was started again` },
          steps,
        };
      case 'wait':
        await sleep(o.pollMs);
        break;
    }
  }
}

/** One line for a step, as the log and status show it. */
export function describeStep(step: PgStep): string {
  switch (step.kind) {
    case 'count-commits':
      return `count-commits: timeline ${step.timeline} from ${formatLsn(step.fromLsn)}`;
    case 'rewind':
      return `rewind: ${step.reason} (fork at ${formatLsn(step.forkLsn)})`;
    case 'done':
      return `done: ${step.summary}`;
    case 'split':
      return `split: ${step.reason}; to resolve: ${step.resolve}`;
    case 'wait':
      return `wait: ${step.reason}${step.lagBytes === null ? '' : ` (${step.lagBytes} bytes behind)`}`;
    case 'promote':
      return `promote: ${step.reason}${step.behindBytes === null ? '' : ` (${step.behindBytes} bytes not received)`}`;
    default:
      return `${step.kind}: ${step.reason}`;
  }
}
