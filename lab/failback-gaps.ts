/**
 * The time the VIPs had no holder at each failback, read from the two agents' logs (the lab
 * writes them with an ISO timestamp on each line, one clock for both nodes): from the slave's
 * release ("active -> standby (…): -…", logged once its addresses are gone) to the master's
 * claim ("… -> active: +…", logged once its addresses are added). Each release is paired with the
 * master's first claim after it, within `withinMs`; a release with no claim after it (the
 * master cut again, say) is not a failback and is left out. Also reports, for each failback,
 * whether the slave's services were stopped by a quiesce before the release (two-phase
 * handback) and what the master did between the release and the claim (a fetch in the gap).
 */

export interface FailbackGap {
  /** When the slave's release was logged (ms since the epoch). */
  releasedAtMs: number;
  /** The master's claim after it, minus the release: the VIPs without a holder. */
  gapMs: number;
  /** The slave's reason for the release, as logged. */
  reason: string;
  /** A "failback data" line of the master's between the release and the claim: a fetch in the gap. */
  fetchedInGap: boolean;
}

interface Stamped {
  atMs: number;
  text: string;
}

function stamped(log: string): Stamped[] {
  const out: Stamped[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \S+\s+(.*)$/.exec(line);
    if (m) out.push({ atMs: Date.parse(m[1]), text: m[2] });
  }
  return out;
}

/** The failbacks in a pair of logs, in order (see the module's comment). */
export function failbackGaps(masterLog: string, slaveLog: string, withinMs = 10_000): FailbackGap[] {
  const master = stamped(masterLog);
  const releases = stamped(slaveLog)
    .map((l) => ({ l, m: /^active -> standby \((.*)\): -/.exec(l.text) }))
    .filter((r) => r.m !== null);
  const claims = master.filter((l) => /^\w+ -> active: \+/.test(l.text));
  const gaps: FailbackGap[] = [];
  for (const { l, m } of releases) {
    const claim = claims.find((c) => c.atMs >= l.atMs);
    if (!claim || claim.atMs - l.atMs > withinMs) continue;
    const fetchedInGap = master.some(
      (x) => x.atMs >= l.atMs && x.atMs <= claim.atMs && /^failback data/.test(x.text),
    );
    gaps.push({ releasedAtMs: l.atMs, gapMs: claim.atMs - l.atMs, reason: m![1], fetchedInGap });
  }
  return gaps;
}

/** One line for a report: count, the gaps in order, how many had a fetch in the gap. */
export function describeGaps(gaps: FailbackGap[]): string {
  if (gaps.length === 0) return 'no failback in the logs';
  const inGap = gaps.filter((g) => g.fetchedInGap).length;
  return `${gaps.length} failbacks, VIPs without a holder: ${gaps.map((g) => `${g.gapMs} ms`).join(', ')} (worst ${Math.max(...gaps.map((g) => g.gapMs))} ms; a fetch in the gap: ${inGap})`;
}
