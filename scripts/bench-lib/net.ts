/**
 * Cheap observations of the lab while an event is under way: who holds a VIP (one `ip -n`
 * call, no mount namespace, no shell), and a pinger whose replies can be watched live.
 */
import type { ChildProcess } from 'node:child_process';
import { type Lab, type PbxNode, type PingerResult, parsePing, run } from '../../test/lab/harness';

export const VOIP_VIP = '192.0.2.10';
export const DATA_VIP = '198.51.100.10';
export const VIPS = [
  { address: VOIP_VIP, prefix: 24, iface: 'eth0' },
  { address: DATA_VIP, prefix: 24, iface: 'eth1' },
] as const;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The VIPs (of VIPS) a node holds now. */
export async function vipsHeld(lab: Lab, node: PbxNode): Promise<string[]> {
  const r = await run(['ip', '-n', lab.namespace(node), '-4', '-o', 'addr', 'show'], { timeoutMs: 10_000 });
  return VIPS.filter((v) => new RegExp(`\\sinet ${v.address.replace(/\./g, '\\.')}/`).test(r.stdout)).map((v) => v.address);
}

/** Is `node` the only holder of both VIPs? */
export async function soleHolder(lab: Lab, node: PbxNode): Promise<boolean> {
  const other: PbxNode = node === 'pbx1' ? 'pbx2' : 'pbx1';
  const [mine, theirs] = await Promise.all([vipsHeld(lab, node), vipsHeld(lab, other)]);
  return mine.length === VIPS.length && theirs.length === 0;
}

/** Does `node` hold both VIPs (whatever the other node holds: a dead host keeps its addresses)? */
export async function holdsAll(lab: Lab, node: PbxNode): Promise<boolean> {
  return (await vipsHeld(lab, node)).length === VIPS.length;
}

/** Polls cond every pollMs until true; throws naming desc after timeoutMs. */
export async function until(desc: string, cond: () => Promise<boolean> | boolean, timeoutMs: number, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      if (await cond()) return;
      lastError = '';
    } catch (e) {
      lastError = ` (last error: ${(e as Error).message.split('\n')[0]})`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${desc}${lastError}`);
    await sleep(pollMs);
  }
}

/**
 * Removes what a node left behind (a killed daemon keeps its VIPs): the VIP addresses, and
 * the routes that used them as source (the kernel drops most with the address).
 */
export async function removeVips(lab: Lab, node: PbxNode): Promise<void> {
  const ns = lab.namespace(node);
  for (const v of VIPS) {
    await run(['ip', '-n', ns, 'addr', 'del', `${v.address}/${v.prefix}`, 'dev', v.iface], { allowFail: true });
  }
  const routes = JSON.parse((await run(['ip', '-n', ns, '-j', 'route'])).stdout || '[]') as { dst: string; prefsrc?: string }[];
  for (const r of routes) {
    if (r.prefsrc && VIPS.some((v) => v.address === r.prefsrc)) {
      await run(['ip', '-n', ns, 'route', 'del', r.dst], { allowFail: true });
    }
  }
}

/**
 * The `ping -i` value that really sends every targetMs: iputils' pacing is not linear (here
 * `-i 0.01` sent every ~16 ms, `-i 0.009` every ~9.7 ms). Tries values from targetMs down in
 * 0.5 ms steps, pinging the phone's own loopback, and takes the first whose period is within
 * 5 % of the target (or the closest).
 */
export async function calibratePing(lab: Lab, targetMs: number): Promise<{ argMs: number; periodMs: number }> {
  const count = 60;
  let closest = { argMs: targetMs, periodMs: Infinity };
  for (let argMs = targetMs; argMs >= targetMs / 2; argMs -= 0.5) {
    const r = await lab.exec('phone', ['ping', '-n', '-q', '-i', (argMs / 1000).toFixed(4), '-c', String(count), '127.0.0.1'], { timeoutMs: 30_000 });
    const m = /(\d+) packets transmitted, .* time (\d+)ms/.exec(r.stdout);
    if (!m) continue;
    const periodMs = Number(m[2]) / (Number(m[1]) - 1);
    if (Math.abs(periodMs - targetMs) < Math.abs(closest.periodMs - targetMs)) closest = { argMs, periodMs };
    if (periodMs <= targetMs * 1.05) return { argMs, periodMs: Math.round(periodMs * 100) / 100 };
  }
  return { argMs: closest.argMs, periodMs: Math.round(closest.periodMs * 100) / 100 };
}

export interface LivePinger {
  /** Reply times so far (ms since the epoch). */
  replyTimes(): number[];
  /** Waits until a reply arrives at or after `sinceMs`. */
  waitReplyAfter(sinceMs: number, timeoutMs: number): Promise<void>;
  stop(): Promise<PingerResult>;
}

/**
 * Pings ip from the phone every intervalMs (`ping -D -O`), reading replies as they come, and
 * waits for the first reply (so the baseline is a working VIP).
 */
export async function startLivePinger(lab: Lab, ip: string, intervalMs: number): Promise<LivePinger> {
  const argv = ['ping', '-n', '-D', '-O', '-i', (intervalMs / 1000).toFixed(4), '-W', '1', ip];
  const child: ChildProcess = lab.spawnIn('phone', argv);
  const startedAt = Date.now();
  let stdout = '';
  let partial = '';
  let stderr = '';
  const replies: number[] = [];
  child.stdout!.on('data', (b: Buffer) => {
    const text = b.toString();
    stdout += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^\[(\d+\.\d+)\].*bytes from.*icmp_seq=/.exec(line);
      if (m && !line.includes('(DUP!)')) replies.push(Number(m[1]) * 1000);
    }
  });
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<PingerResult> => {
    const stoppedAt = Date.now();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(killer);
    return parsePing(stdout, startedAt, stoppedAt);
  };
  const waitReplyAfter = async (sinceMs: number, timeoutMs: number) => {
    await until(`a reply of the VIP ${ip} to the phone`, () => {
      if (child.exitCode !== null) throw new Error(`ping exited (code ${child.exitCode}): ${stderr.trim()}`);
      return replies.length > 0 && replies[replies.length - 1] >= sinceMs;
    }, timeoutMs, 10);
  };
  try {
    await waitReplyAfter(0, 5000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { replyTimes: () => [...replies], waitReplyAfter, stop };
}

/**
 * The outage around an event: the longest gap between two replies that ends after the event
 * (gaps of the baseline before it are noise, not outage), or the trailing silence if the VIP
 * still does not answer at the end.
 */
export function outageAround(p: PingerResult, eventAtMs: number): number {
  const t = p.replyTimes;
  let longest = 0;
  for (let i = 1; i < t.length; i++) {
    if (t[i] >= eventAtMs) longest = Math.max(longest, t[i] - t[i - 1]);
  }
  return Math.round(Math.max(longest, p.trailingGapMs) * 10) / 10;
}
