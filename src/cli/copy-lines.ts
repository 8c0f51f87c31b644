// The copies in `pbx-ha status`: for each kind, the last copy this node sent and the last it
// received, so that both nodes say how fresh the slave's data is. A node that sends no copies
// now (the one that stands by) shows no next run: its schedule fires, but the job does not run.

import { COPY_KINDS } from '../domain/copies';
import type { JobState, StatusAnswer } from '../ports/status';

/** `iso (n s ago)`, or `never`. */
export function ago(iso: string | null, nowMs: number): string {
  if (!iso) return 'never';
  const s = (nowMs - Date.parse(iso)) / 1000;
  return `${iso} (${s < 10 ? s.toFixed(1) : Math.round(s)} s ago)`;
}

const at = (wallMs: number, nowMs: number) => ago(new Date(wallMs).toISOString(), nowMs);

function sentLine(j: JobState | undefined, s: StatusAnswer, nowMs: number): string {
  const last = j?.lastSuccess
    ? `last success ${at(j.lastSuccess.startedAtWallMs, nowMs)}, ${Math.round(j.lastSuccess.durationMs)} ms, ${j.lastSuccess.bytes} bytes`
    : 'none since the agent started';
  const next =
    s.sends === false
      ? `no run here: this node sends no copies while ${s.state}`
      : `next ${(j && s.nextRuns?.[j.kind]) ?? 'not scheduled'}`;
  const failing = j?.consecutiveFailures ? ` (${j.consecutiveFailures} failures in a row)` : '';
  const error = j?.lastError ? `; last error ${at(j.lastError.atWallMs, nowMs)}: ${j.lastError.message}` : '';
  return `${j?.running ? 'RUNNING; ' : ''}${last}; ${next}${failing}${error}`;
}

/** The `copy KIND sent/received` lines, and the spool watcher's line when it is configured. */
export function copyLines(s: StatusAnswer, nowMs: number): string[] {
  if (s.jobs === undefined) return [];
  const lines: string[] = [];
  for (const kind of COPY_KINDS) {
    const j = s.jobs.find((x) => x.kind === kind);
    const r = s.received?.find((x) => x.kind === kind);
    lines.push(`copy ${kind.padEnd(6)} sent     ${sentLine(j, s, nowMs)}`);
    if (s.received === undefined) continue; // an agent from before received copies were kept
    const received = r
      ? `last ${at(r.atWallMs, nowMs)} from ${r.from}: ${r.ok ? 'installed' : `NOT installed (${r.detail})`}` +
        (!r.ok && r.lastInstalledAtWallMs !== null
          ? `; last installed ${at(r.lastInstalledAtWallMs, nowMs)}`
          : '')
      : 'none since the agent started';
    lines.push(`copy ${kind.padEnd(6)} received ${received}`);
  }
  const w = s.spool;
  if (w && w.roots.length > 0)
    lines.push(
      `spool       ${w.watching ? 'copied on change' : 'NOT watched (scheduled copy only)'}: ${w.roots.join(', ')}` +
        (w.restarts ? `; watcher restarted ${w.restarts} times, last: ${w.lastProblem}` : ''),
    );
  return lines;
}
