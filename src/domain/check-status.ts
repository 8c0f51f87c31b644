// The result of a tracked check (a command such as `asterisk -rx "core show uptime"`), with
// rise/fall hysteresis counted in consecutive results: keepalived's track_script semantics,
// and like keepalived the state flips (and is logged) only when a threshold is crossed.

export type CheckStatus = 'unknown' | 'up' | 'down';

export interface CheckState {
  status: CheckStatus;
  okInRow: number;
  failedInRow: number;
  /** Output or error of the last failure, for `status` and the fault reason. */
  lastProblem: string | null;
}

export const NEW_CHECK: CheckState = { status: 'unknown', okInRow: 0, failedInRow: 0, lastProblem: null };

export function recordCheck(
  s: CheckState,
  ok: boolean,
  rise: number,
  fall: number,
  problem: string | null,
): CheckState {
  if (ok) {
    const okInRow = s.okInRow + 1;
    return {
      status: s.status === 'up' || okInRow >= rise ? 'up' : s.status,
      okInRow,
      failedInRow: 0,
      lastProblem: s.lastProblem,
    };
  }
  const failedInRow = s.failedInRow + 1;
  return { status: failedInRow >= fall ? 'down' : s.status, okInRow: 0, failedInRow, lastProblem: problem };
}
