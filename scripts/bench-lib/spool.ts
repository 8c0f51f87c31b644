/**
 * The spool-file loss window at failover: a writer creates a voicemail-like file every 100 ms
 * under the master's spool directory (written to a temporary name, then renamed, as Asterisk's
 * voicemail does); the master's cables are pulled at a random moment; once the slave holds the
 * VIPs, the newest file it has is compared with the last one written before the cut. The loss
 * window is the time between the two writes: the seconds of voicemail a failover loses.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab } from '../../lab/lab';
import { PBX_HA, PBX_NODES } from '../../lab/layout';
import { holdsAll } from '../../lab/pair';
import { pollUntil, sleep } from '../../lab/run';
import type { BenchContext } from './scenarios';
import { median } from './stats';
import { TIMINGS, detectionMs, type SpoolRun } from './types';

/** The spool directory the benchmark's configuration watches, and the writer's directory under it. */
export const SPOOL_DIR = '/var/spool/asterisk/voicemail';
const WRITER_DIR = `${SPOOL_DIR}/bench/INBOX`;
const WRITE_EVERY_MS = 100;

/** Highest sequence number among `msg-N` files in a node's writer directory (0 when none). */
function newest(lab: Lab, node: 'pbx1' | 'pbx2', prefix: string): number {
  const dir = lab.hostPath(node, WRITER_DIR);
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const name of readdirSync(dir)) {
    const m = new RegExp(`^${prefix}-(\\d+)\\.txt$`).exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

async function spoolWatched(lab: Lab): Promise<boolean> {
  const r = await lab.exec('pbx1', [PBX_HA, 'status', '--json'], { timeoutMs: 10_000, allowFail: true });
  try {
    return (JSON.parse(r.stdout) as { spool?: { watching?: boolean } }).spool?.watching === true;
  } catch {
    return false;
  }
}

export async function spoolRun(
  ctx: BenchContext,
  round: number,
  start: (ctx: BenchContext) => Promise<void>,
  finish: (ctx: BenchContext) => Promise<void>,
): Promise<SpoolRun> {
  const { lab } = ctx;
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  const at = new Date().toISOString();
  const prefix = `r${round}`;
  const writtenAt: number[] = [];
  let timer: NodeJS.Timeout | null = null;
  try {
    // The spool tree exists before the master serves (a PBX has its voicemail directory).
    for (const node of PBX_NODES) {
      rmSync(lab.hostPath(node, path.dirname(WRITER_DIR)), { recursive: true, force: true });
      mkdirSync(lab.hostPath(node, WRITER_DIR), { recursive: true });
    }
    await start(ctx);
    await pollUntil("pbx1's spool watcher in place", () => spoolWatched(lab), 30_000, 200);
    const dir = lab.hostPath('pbx1', WRITER_DIR);
    let n = 0;
    timer = setInterval(() => {
      n++;
      const tmp = path.join(dir, `.${prefix}-${n}.tmp`);
      writeFileSync(tmp, `message ${n}\n`);
      renameSync(tmp, path.join(dir, `${prefix}-${n}.txt`));
      writtenAt[n] = Date.now();
    }, WRITE_EVERY_MS);
    await sleep(5000 + Math.random() * 10_000);
    await lab.cut('pbx1');
    clearInterval(timer);
    timer = null;
    const lastWritten = n;
    await pollUntil(
      'pbx2 holding the VIPs after the cut',
      () => holdsAll(lab, 'pbx2'),
      30_000 + 10 * detectionMs(timing),
      100,
    );
    const onSlave = newest(lab, 'pbx2', prefix);
    if (onSlave === 0) throw new Error('no file of the writer had reached the slave');
    const lossS = Math.round((writtenAt[lastWritten] - writtenAt[onSlave]) / 10) / 100;
    return { round, at, lossS, lastWritten, lastOnSlave: onSlave, everyMs: WRITE_EVERY_MS };
  } catch (e) {
    return { round, at, lossS: null, error: (e as Error).message };
  } finally {
    if (timer) clearInterval(timer);
    await finish(ctx);
  }
}

/** The report's paragraph on the spool loss window (empty when the part did not run). */
export function spoolReportLines(runs: readonly SpoolRun[] | undefined): string[] {
  if (!runs?.length) return [];
  const loss = runs.filter((r) => r.lossS !== null).map((r) => r.lossS!);
  const failed = runs.filter((r) => r.error);
  return [
    `**Spool-file loss window** (a writer creating a file every ${WRITE_EVERY_MS} ms under the master's ` +
      `\`${SPOOL_DIR}\`, \`[sync.files] spool\` watched with inotifywait, the scheduled files copy off; ` +
      `master cut at a random moment; the time between the last file written before the cut and the newest file ` +
      `the slave had once it served): median ${loss.length ? median(loss)!.toFixed(2) : '–'} s, ` +
      `worst ${loss.length ? Math.max(...loss).toFixed(2) : '–'} s (${loss.length} runs, timing 1s)` +
      (failed.length ? `; ${failed.length} run(s) failed: ${failed.map((r) => r.error).join('; ')}` : '') +
      '.',
    '',
  ];
}

/** The report's target line for the spool loss window. */
export function spoolTarget(runs: readonly SpoolRun[] | undefined): {
  target: string;
  measured: string;
  ok: boolean | null;
} {
  const loss = (runs ?? []).filter((r) => r.lossS !== null).map((r) => r.lossS!);
  const m = median(loss);
  return {
    target: 'spool-file loss window ≤ 10 s',
    measured:
      m !== null
        ? `median ${m.toFixed(2)} s, worst ${Math.max(...loss).toFixed(2)} s (${loss.length} runs)`
        : 'no data',
    ok: m !== null ? Math.max(...loss) <= 10 : null,
  };
}
