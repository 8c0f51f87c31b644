// Durations as administrators write them in pbx-ha.conf, and back.
//
//   parseDurationMs(text: string): number | null
//       `<number><unit>` with unit ms, s, m or h (`200ms`, `1s`, `1.5s`, `2m`), or a bare `0`.
//       Returns whole milliseconds, or null for anything else ("1 sec", "-1s", "1", "abc", "0.5ms").
//   formatDurationMs(ms: number): string
//       The shortest exact spelling that parseDurationMs reads back (`200ms`, `1.5s`, `2m`, `0`).
//
// Why so strict: a bare number is refused because `interval = 1` could mean 1 ms or 1 s, and the
// difference is a failover a thousand times too early or too late. Units are lower case only for the
// same reason (`1M` is not `1m`).

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

// A number with an optional fraction (no sign, no exponent, no leading dot) and a unit, no space.
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

export function parseDurationMs(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const match = DURATION.exec(trimmed);
  if (match === null) return null;
  const [, amount, unit] = match;
  const ms = Number(amount) * UNIT_MS[unit];
  // Round away float noise (1.1s * 1000 = 1100.0000000000002) but refuse a real fraction of a
  // millisecond: no timer here is finer than 1 ms, and silently rounding `0.5ms` would hide a typo.
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded) || Math.abs(ms - rounded) > 1e-6) return null;
  return rounded;
}

export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms}ms`;
  if (ms < 0) return `-${formatDurationMs(-ms)}`;
  if (ms === 0) return '0';
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  // 1500 reads better as 1.5s than 1500ms; below a second milliseconds are the natural unit.
  if (ms >= 1000 && Number.isInteger(ms)) return `${ms / 1000}s`;
  return `${ms}ms`;
}
