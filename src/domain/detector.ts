// Reachability of one probed address (the peer, a tracked gateway, a VIP), with rise/fall
// hysteresis. Pure: every function takes the current monotonic time as an argument, so
// tests drive it with a fake clock.
//
// Detection uses the time since the last answer, not a count of timed-out probes
// (BEHAVIOR.md, "Timing"): an address is down `fall × interval` after its last answer,
// whatever the probe timeout is. It is up again after `rise` answers in a row.

export type Reachability = 'unknown' | 'up' | 'down';

export interface Detector {
  /** Monotonic ms of the last answer, or of the baseline when none came since. */
  lastAnswerMs: number;
  /** Answers in a row since the last miss. */
  answersInRow: number;
  /** Probes sent before this instant are ignored (see `resetBaseline`). */
  baselineMs: number;
  status: Reachability;
  /** Round-trip time of the last answer, for `status`. */
  lastRttMs: number | null;
  /** Whether anything answered since the start (for `status`). */
  everAnswered: boolean;
  /**
   * Time since the last answer during which this agent itself could not run (see
   * `allowBlind`): it is not counted as silence.
   */
  blindMs: number;
}

export interface DetectorTiming {
  /** `fall × interval`: silence after which the address is declared down. */
  downAfterMs: number;
  rise: number;
}

export function newDetector(nowMs: number, initial: Reachability = 'unknown'): Detector {
  return {
    lastAnswerMs: nowMs,
    answersInRow: 0,
    baselineMs: nowMs,
    status: initial,
    lastRttMs: null,
    everAnswered: false,
    blindMs: 0,
  };
}

/**
 * Forget what was learnt before `nowMs`: the silence counts from now and replies to probes
 * sent earlier are ignored. Used when this node's own link comes back, so that the silence
 * it heard while cut off is not taken for the peer's death (a false takeover).
 */
export function resetBaseline(d: Detector, nowMs: number): Detector {
  return { ...d, lastAnswerMs: nowMs, baselineMs: nowMs, answersInRow: 0, status: 'unknown', blindMs: 0 };
}

/**
 * This agent did not run for `blindMs` (its timers fired that late: CPU starvation, a blocking
 * task, a paused VM): it sent no probes and read no answers meanwhile, so that time is not the
 * address's silence. Without this, a master busy for 300 ms with 100 ms probes would declare
 * its gateway dead and hand over. Only the time the agent was listening counts: an agent that
 * is often late still detects a dead address, later by the time it did not run.
 */
export function allowBlind(d: Detector, blindMs: number): Detector {
  if (d.status === 'down' || blindMs <= 0) return d;
  return { ...d, blindMs: d.blindMs + blindMs };
}

/** A probe sent at `sentAtMs` was answered at `nowMs`. */
export function recordAnswer(d: Detector, t: DetectorTiming, sentAtMs: number, nowMs: number): Detector {
  if (sentAtMs < d.baselineMs) return d;
  const answersInRow = d.answersInRow + 1;
  const status: Reachability = d.status === 'up' || answersInRow >= t.rise ? 'up' : d.status;
  return {
    ...d,
    lastAnswerMs: nowMs,
    answersInRow,
    status,
    lastRttMs: nowMs - sentAtMs,
    everAnswered: true,
    blindMs: 0,
  };
}

/**
 * The address proved at `nowMs`, by something other than a probe answer, that it is up and
 * reachable (the peer's authenticated request over the trusted link): `up` at once, without
 * waiting for `rise` answers, and silent again only `fall × interval` after `nowMs` if nothing
 * answers meanwhile. Probes still in flight keep their meaning: a later miss restarts the count
 * of answers in a row but declares nothing down before that deadline.
 */
export function recordProofOfLife(d: Detector, nowMs: number): Detector {
  if (nowMs < d.lastAnswerMs) return d.status === 'up' ? d : { ...d, status: 'up' };
  return { ...d, lastAnswerMs: nowMs, status: 'up', blindMs: 0 };
}

/** A probe sent at `sentAtMs` got no answer before its timeout. */
export function recordMiss(d: Detector, t: DetectorTiming, sentAtMs: number, nowMs: number): Detector {
  if (sentAtMs < d.baselineMs) return d;
  return evaluate({ ...d, answersInRow: 0 }, t, nowMs);
}

/** Re-evaluate with the passage of time alone (called at the deadline). */
export function evaluate(d: Detector, t: DetectorTiming, nowMs: number): Detector {
  if (d.status !== 'down' && nowMs - d.lastAnswerMs - d.blindMs >= t.downAfterMs) {
    return { ...d, status: 'down', answersInRow: 0, blindMs: 0 };
  }
  return d;
}

/** When the address will be declared down if nothing answers (null once it is down). */
export function downDeadlineMs(d: Detector, t: DetectorTiming): number | null {
  return d.status === 'down' ? null : d.lastAnswerMs + d.blindMs + t.downAfterMs;
}
