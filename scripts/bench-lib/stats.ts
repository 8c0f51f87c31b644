/** Small statistics for the report: median and worst of a set of runs. */

export function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function worst(values: readonly number[]): number | null {
  return values.length ? Math.max(...values) : null;
}

export function best(values: readonly number[]): number | null {
  return values.length ? Math.min(...values) : null;
}

/** "1234 ms", "1.23 s" — milliseconds below 10 s are shown as such, to the millisecond. */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (Math.abs(ms) >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}
