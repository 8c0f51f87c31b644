// [failover]: optional; every key has a default.
//
//   FAILOVER_KEYS
//   readFailover(reader): FailoverConfig | null      null when a value was refused (recorded)
//
// failback = auto (keepalived's preempt: a healthy master takes the VIPs back) or manual (the slave
// keeps serving until `pbx-ha failback`); failback_delay holds an automatic failback back until the
// master has been healthy that long, so that a flapping master does not bounce the phones. A delay
// with failback = manual would never apply: it is refused rather than silently ignored.

import { CONFIG_DEFAULTS, CONFIG_LIMITS as L } from './defaults';
import type { SectionReader } from './read-values';
import { closestName } from './suggest';
import type { FailoverConfig } from './types';

const D = CONFIG_DEFAULTS.failover;

export const FAILOVER_KEYS: readonly string[] = ['failback', 'failback_delay'];

const MODES = ['auto', 'manual'] as const;
const MODES_EXPECTED =
  'auto (the master takes the VIPs back once it is healthy again) or manual (the slave keeps them until `pbx-ha failback`)';

export function readFailover(r: SectionReader): FailoverConfig | null {
  const text = r.text('failback', D.failback, MODES_EXPECTED, (t) => {
    if ((MODES as readonly string[]).includes(t.toLowerCase())) return null;
    const guess = closestName(t, MODES);
    return guess === null ? 'unknown failback mode' : `unknown failback mode (did you mean "${guess}"?)`;
  });
  const failback = text === null ? null : (text.toLowerCase() as FailoverConfig['failback']);
  const failbackDelayMs = r.duration('failback_delay', {
    defaultMs: D.failbackDelayMs,
    minMs: L.failbackDelayMs.min,
    maxMs: L.failbackDelayMs.max,
  });
  const delayEntry = r.entry('failback_delay');
  if (failback === 'manual' && failbackDelayMs !== null && failbackDelayMs > 0 && delayEntry !== undefined) {
    r.report(
      delayEntry,
      '0, or no failback_delay: with failback = manual the VIPs go back only on `pbx-ha failback`, at once',
      'failback_delay applies only to failback = auto',
    );
  }
  if (failback === null || failbackDelayMs === null) return null;
  return { failback, failbackDelayMs };
}
