// A manual Clock: time moves only when a test calls `advance`. Timers run in time order
// (ties in the order they were scheduled, as Node does), `every` timers repeatedly.
//
// The agent chains promises between timers (a probe result is enqueued, the queue awaits
// the executor, the executor awaits the fake network...). `advance` therefore drains every
// pending promise before it runs the next timer and before it returns. The fakes answer
// through this clock and promises only — never through real timers or I/O — so one turn
// of the event loop (`setImmediate`) drains everything and the tests are deterministic.

import type { Clock, Timer } from '../../src/ports/clock';

interface Scheduled {
  seq: number;
  dueMs: number;
  periodMs: number | null;
  fn: () => void;
  cancelled: boolean;
}

/** Lets every promise chain that is ready run to completion (microtasks drain before setImmediate). */
export async function flushPromises(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private now: number;
  private seq = 0;
  private timers: Scheduled[] = [];
  private readonly startMs: number;

  /** `startMs`: the monotonic origin; `wallStartMs`: the wall-clock time at that instant. */
  constructor(
    startMs = 0,
    private readonly wallStartMs = Date.UTC(2024, 0, 1, 12, 0, 0),
  ) {
    this.now = startMs;
    this.startMs = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  wallMs(): number {
    return this.wallStartMs + (this.now - this.startMs);
  }

  after(delayMs: number, fn: () => void): Timer {
    return this.schedule(Math.max(0, delayMs), null, fn);
  }

  every(periodMs: number, fn: () => void): Timer {
    if (!(periodMs > 0)) throw new Error(`FakeClock.every: period must be positive, not ${periodMs}`);
    return this.schedule(periodMs, periodMs, fn);
  }

  /** Timers still scheduled (for tests that check that everything was cancelled). */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new Error('FakeClock.advance: time does not go back');
    await this.advanceTo(this.now + ms);
  }

  /** Moves time forward to `targetMs`, running due timers in order and draining promises after each. */
  async advanceTo(targetMs: number): Promise<void> {
    if (targetMs < this.now) throw new Error(`FakeClock.advanceTo(${targetMs}): it is already ${this.now}`);
    await flushPromises();
    for (;;) {
      const next = this.nextDue(targetMs);
      if (!next) break;
      // An overdue timer (after `stall`) runs late, at the current time, as in Node.
      this.now = Math.max(this.now, next.dueMs);
      if (next.periodMs === null) {
        this.timers = this.timers.filter((t) => t !== next);
      } else {
        // Node's setInterval does not catch up missed periods: the next one is a period from now.
        next.dueMs = this.now + next.periodMs;
        next.seq = this.seq++;
      }
      next.fn();
      await flushPromises();
    }
    this.now = targetMs;
    await flushPromises();
  }

  /**
   * The process does not run for `ms` (CPU starvation, a blocking task): time jumps, then every
   * timer that fell due meanwhile fires, late, at the new time.
   */
  async stall(ms: number): Promise<void> {
    if (ms < 0) throw new Error('FakeClock.stall: time does not go back');
    this.now += ms;
    await this.advanceTo(this.now);
  }

  /**
   * Advances in steps of `stepMs` until `done()` holds, calling `check` after every step;
   * fails after `limitMs`. Returns the time at which `done()` first held.
   */
  async advanceUntil(done: () => boolean, limitMs: number, stepMs = 1, check?: () => void): Promise<number> {
    const end = this.now + limitMs;
    while (!done()) {
      if (this.now >= end)
        throw new Error(`FakeClock.advanceUntil: condition not met within ${limitMs} ms (now ${this.now})`);
      await this.advance(Math.min(stepMs, end - this.now));
      check?.();
    }
    return this.now;
  }

  private schedule(delayMs: number, periodMs: number | null, fn: () => void): Timer {
    const t: Scheduled = { seq: this.seq++, dueMs: this.now + delayMs, periodMs, fn, cancelled: false };
    this.timers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
        this.timers = this.timers.filter((x) => x !== t);
      },
    };
  }

  private nextDue(limitMs: number): Scheduled | null {
    let best: Scheduled | null = null;
    for (const t of this.timers) {
      if (t.cancelled || t.dueMs > limitMs) continue;
      if (!best || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
