// [garp]: optional; the gratuitous ARP bursts after a claim and while active.
//
//   GARP_KEYS
//   readGarp(reader): GarpConfig | null     null when a value was refused (recorded)

import { CONFIG_DEFAULTS as D, CONFIG_LIMITS as L } from './defaults';
import type { SectionReader } from './read-values';
import type { GarpConfig } from './types';

export const GARP_KEYS: readonly string[] = ['count', 'interval', 'repeat_after', 'refresh'];

export function readGarp(garp: SectionReader): GarpConfig | null {
  const garpCount = garp.integer('count', {
    default: D.garp.count,
    min: L.garpCount.min,
    max: L.garpCount.max,
  });
  const garpIntervalMs = garp.duration('interval', {
    defaultMs: D.garp.intervalMs,
    minMs: L.garpIntervalMs.min,
    maxMs: L.garpIntervalMs.max,
    zeroAllowed: true,
  });
  const repeatAfterMs = garp.duration('repeat_after', {
    defaultMs: D.garp.repeatAfterMs,
    minMs: L.garpRepeatAfterMs.min,
    maxMs: L.garpRepeatAfterMs.max,
    zeroAllowed: true,
  });
  const refreshMs = garp.duration('refresh', {
    defaultMs: D.garp.refreshMs,
    minMs: L.garpRefreshMs.min,
    maxMs: L.garpRefreshMs.max,
    zeroAllowed: true,
  });
  if (garpCount === null || garpIntervalMs === null || repeatAfterMs === null || refreshMs === null)
    return null;
  return { count: garpCount, intervalMs: garpIntervalMs, repeatAfterMs, refreshMs };
}
