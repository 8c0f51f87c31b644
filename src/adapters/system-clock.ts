// The real clock: performance.now() is monotonic, Date.now() is the wall clock.

import type { Clock, Timer } from '../ports/clock';

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
  after(delayMs: number, fn: () => void): Timer {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  },
  every(periodMs: number, fn: () => void): Timer {
    const t = setInterval(fn, periodMs);
    return { cancel: () => clearInterval(t) };
  },
};
