/**
 * The phone's ping pacing, measured: iputils does not send exactly every `-i`.
 */
import type { Lab } from '../../lab/lab';

/**
 * The `ping -i` value that really sends every targetMs: iputils' pacing is not linear (here
 * `-i 0.01` sent every ~16 ms, `-i 0.009` every ~9.7 ms). Tries values from targetMs down in
 * 0.5 ms steps, pinging the phone's own loopback, and takes the first whose period is within
 * 5 % of the target (or the closest).
 */
export async function calibratePing(
  lab: Lab,
  targetMs: number,
): Promise<{ argMs: number; periodMs: number }> {
  const count = 60;
  let closest = { argMs: targetMs, periodMs: Infinity };
  for (let argMs = targetMs; argMs >= targetMs / 2; argMs -= 0.5) {
    const r = await lab.exec(
      'phone',
      ['ping', '-n', '-q', '-i', (argMs / 1000).toFixed(4), '-c', String(count), '127.0.0.1'],
      { timeoutMs: 30_000 },
    );
    const m = /(\d+) packets transmitted, .* time (\d+)ms/.exec(r.stdout);
    if (!m) continue;
    const periodMs = Number(m[2]) / (Number(m[1]) - 1);
    if (Math.abs(periodMs - targetMs) < Math.abs(closest.periodMs - targetMs)) closest = { argMs, periodMs };
    if (periodMs <= targetMs * 1.05) return { argMs, periodMs: Math.round(periodMs * 100) / 100 };
  }
  return { argMs: closest.argMs, periodMs: Math.round(closest.periodMs * 100) / 100 };
}
