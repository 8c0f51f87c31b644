/**
 * CPU and memory of a daemon and its descendants, from /proc: CPU time of every thread
 * (/proc/PID/task/TID/schedstat, nanoseconds) plus cutime + cstime from /proc/PID/stat
 * (children that ran and were reaped in between, counted through their parent; clock ticks),
 * over a window; resident memory (VmRSS) sampled every second.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { sleep } from '../../lab/run';
import type { ResourceUse } from './types';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
  /** cutime + cstime (reaped children), in clock ticks. */
  childTicks: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  // Fields after "(comm) ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const f = text.slice(close + 2).split(' ');
  const at = (n: number) => Number(f[n - 3]);
  return { pid, ppid: at(4), comm, ticks: at(14) + at(15) + at(16) + at(17), childTicks: at(16) + at(17) };
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** The process and its descendants, now. */
export function processTree(rootPid: number): Stat[] {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return [];
  const out: Stat[] = [];
  const queue = [root];
  while (queue.length) {
    const s = queue.shift()!;
    out.push(s);
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/** Kilobytes of resident memory of a process (0 if gone). */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time of a process's own threads, in nanoseconds (0 if gone). */
function ownNs(pid: number): number {
  let total = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread gone
      }
    }
  } catch {
    return 0;
  }
  return total;
}

/** CPU ticks of one process (user + system, reaped children included). */
export function cpuTicks(pid: number): number {
  return readStat(pid)?.ticks ?? 0;
}

export function ticksToSeconds(ticks: number): number {
  return ticks / CLK_TCK;
}

/** Measures the tree under rootPid for `seconds`. */
export async function measureTree(rootPid: number, seconds: number): Promise<ResourceUse> {
  const seen = new Map<number, string>();
  const sum = () => {
    const tree = processTree(rootPid);
    if (!tree.length) throw new Error(`process ${rootPid} is gone`);
    for (const s of tree) seen.set(s.pid, s.comm);
    return {
      ns: tree.reduce((a, s) => a + ownNs(s.pid) + (s.childTicks * 1e9) / CLK_TCK, 0),
      rss: tree.reduce((a, s) => a + rssKb(s.pid), 0),
    };
  };
  const t0 = performance.now();
  const first = sum();
  const rss: number[] = [first.rss];
  let last = first;
  while (performance.now() - t0 < seconds * 1000) {
    await sleep(Math.min(1000, seconds * 1000 - (performance.now() - t0)));
    last = sum();
    rss.push(last.rss);
  }
  const windowS = (performance.now() - t0) / 1000;
  return {
    processes: [...seen].map(([pid, comm]) => `${pid} ${comm}`),
    cpuPercent: Math.round(((last.ns - first.ns) / 1e9 / windowS) * 100 * 1000) / 1000,
    rssKbMean: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length),
    rssKbMax: Math.max(...rss),
    windowS: Math.round(windowS * 10) / 10,
  };
}
