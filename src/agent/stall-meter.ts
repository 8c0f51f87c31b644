// How long this agent could not run. A timer that fires late says that the process was not
// running from the timer's due time until now (CPU starvation, a task blocking the event loop,
// a paused VM): it sent no probes and read no answers meanwhile, so that time must not be taken
// for the peer's silence (see allowBlind in domain/detector.ts).
//
// Every timer that matters reports here when it fires: the probe round (every interval, so a
// stall is seen at most one interval after it began), the detection deadline, probe timeouts.
// Overdue timers fire in the order they were due, so the earliest one reports the longest span;
// the spans reported are merged, so one stall is never counted twice.

/** How late a timer may fire before it counts as a stall: ordinary scheduling noise is a few ms. */
export function stallMarginMs(intervalMs: number): number {
  return Math.max(STALL_MARGIN_MIN_MS, intervalMs / 4);
}

const STALL_MARGIN_MIN_MS = 25;

export class StallMeter {
  /** The end of the last span reported: time before it is already accounted for. */
  private reportedUntilMs = -Infinity;

  constructor(readonly marginMs: number) {}

  /**
   * A timer due at `dueMs` fires at `nowMs`. Returns the time this agent was newly found not to
   * run (ms), or 0 when the timer was on time, within the margin, or the span already reported.
   */
  fired(dueMs: number, nowMs: number): number {
    if (nowMs - dueMs <= this.marginMs) return 0;
    const blindMs = nowMs - Math.max(dueMs, this.reportedUntilMs);
    if (blindMs <= 0) return 0;
    this.reportedUntilMs = nowMs;
    return blindMs;
  }
}
