// Retry delays after failed copies: doubling from `minMs` up to `maxMs`, so a peer that is
// down for an hour is not hammered, and one that comes back is served again soon.

export function retryDelayMs(consecutiveFailures: number, minMs: number, maxMs: number): number {
  if (consecutiveFailures <= 0) return 0;
  const exponent = Math.min(consecutiveFailures - 1, 30);
  return Math.min(maxMs, minMs * 2 ** exponent);
}
