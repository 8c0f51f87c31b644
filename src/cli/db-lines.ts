// The database's replication in `pbx-ha status`: the mode, and in streaming mode what the local
// PostgreSQL is, its standby's lag (bytes of WAL not replayed, and seconds), the last step taken,
// and a timeline split with the commands that resolve it.

import type { StatusAnswer } from '../ports/status';

export function dbLines(s: StatusAnswer, nowMs: number): string[] {
  const db = s.db;
  if (db === undefined) return [];
  if (db.mode === 'dump') return ['database    mode dump (pg_dump of the data, on schedule)'];
  const lag =
    db.lagBytes === null
      ? 'lag unknown (no standby streaming)'
      : `lag ${db.lagBytes} bytes, ${db.lagSeconds === null ? 'seconds unknown' : `${db.lagSeconds} s`}`;
  const lines = [`database    mode streaming; PostgreSQL here: ${db.local ?? 'not looked at yet'}; ${lag}`];
  if (db.lastStep)
    lines.push(
      `database    last step ${new Date(db.lastStep.atWallMs).toISOString()} (${Math.round((nowMs - db.lastStep.atWallMs) / 1000)} s ago): ${db.lastStep.summary}`,
    );
  if (db.split)
    lines.push(
      `database    ! TIMELINE SPLIT: streaming stopped, both sides kept: ${db.split.reason}`,
      `database    ! to resolve, ${db.split.resolve}`,
    );
  return lines;
}
