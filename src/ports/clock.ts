// Time, injected so that tests can drive it. Monotonic time for every timer and detector;
// wall-clock time only for logs and records (ARCHITECTURE.md, habit 3).

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds (never jumps with NTP or an administrator's `date`). */
  nowMs(): number;
  /** Wall-clock milliseconds since the epoch, for display only. */
  wallMs(): number;
  /** Calls `fn` once after `delayMs`. */
  after(delayMs: number, fn: () => void): Timer;
  /** Calls `fn` every `periodMs`. */
  every(periodMs: number, fn: () => void): Timer;
}

/** Converts a monotonic instant to wall-clock time, for display. */
export function wallOf(clock: Clock, monotonicMs: number): number {
  return clock.wallMs() - (clock.nowMs() - monotonicMs);
}
