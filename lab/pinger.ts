/**
 * The phone's view of a VIP: `ping -D -O` output turned into reply times and gaps, a pinger whose
 * replies can be watched while an event is under way, and the outage around an event.
 */
import type { Lab } from './lab';
import { pollUntil } from './run';

export interface PingerResult {
  /** Longest time between two consecutive replies (0 if fewer than two replies). */
  longestGapMs: number;
  /** Time from the start of the pinger to the first reply (the whole run if none). */
  leadingGapMs: number;
  /** Time from the last reply to stop() (the whole run if none). Large = still no answer at the end. */
  trailingGapMs: number;
  replies: number;
  sent: number;
  /** Reply timestamps (ms since the epoch), in order. */
  replyTimes: number[];
  /** Raw ping output, for diagnostics. */
  output: string;
}

/** Parses `ping -D -O` output: "[1700000000.123456] 64 bytes from ...: icmp_seq=3 ttl=64 time=0.1 ms". */
export function parsePing(output: string, startedAt: number, stoppedAt: number): PingerResult {
  const replyTimes: number[] = [];
  const seqs = new Set<number>();
  let maxSeq = 0;
  for (const line of output.split('\n')) {
    const m = /^\[(\d+\.\d+)\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const seq = /icmp_seq=(\d+)/.exec(m[2]);
    if (seq) maxSeq = Math.max(maxSeq, Number(seq[1]));
    if (/bytes from/.test(m[2]) && !/\(DUP!\)/.test(m[2]) && seq) {
      replyTimes.push(Number(m[1]) * 1000);
      seqs.add(Number(seq[1]));
    }
  }
  replyTimes.sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < replyTimes.length; i++) {
    longestGapMs = Math.max(longestGapMs, replyTimes[i] - replyTimes[i - 1]);
  }
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(output);
  const sent = summary ? Number(summary[1]) : maxSeq;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    longestGapMs: round(longestGapMs),
    leadingGapMs: round(replyTimes.length ? Math.max(0, replyTimes[0] - startedAt) : stoppedAt - startedAt),
    trailingGapMs: round(
      replyTimes.length ? Math.max(0, stoppedAt - replyTimes[replyTimes.length - 1]) : stoppedAt - startedAt,
    ),
    replies: seqs.size,
    sent,
    replyTimes,
    output,
  };
}

export interface LivePinger {
  /** Reply times so far (ms since the epoch). */
  replyTimes(): number[];
  /** Waits until a reply arrives at or after `sinceMs`. */
  waitReplyAfter(sinceMs: number, timeoutMs: number): Promise<void>;
  stop(): Promise<PingerResult>;
}

const REPLY = /^\[(\d+\.\d+)\].*bytes from.*icmp_seq=/;

/**
 * Pings ip from the phone every intervalMs (`ping -D -O`), reading replies as they come, and
 * waits for the first reply (so the baseline is a working VIP).
 */
export async function startLivePinger(lab: Lab, ip: string, intervalMs: number): Promise<LivePinger> {
  const argv = ['ping', '-n', '-D', '-O', '-i', (intervalMs / 1000).toFixed(4), '-W', '1', ip];
  const startedAt = Date.now();
  const ping = await lab.watch('phone', argv, `a reply of the VIP ${ip} to the phone`, (out) =>
    out.split('\n').some((l) => REPLY.test(l)),
  );
  const replies: number[] = [];
  let partial = '';
  const take = (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = REPLY.exec(line);
      if (m && !line.includes('(DUP!)')) replies.push(Number(m[1]) * 1000);
    }
  };
  // What came before now, then what comes next (no output event can run in between).
  take(ping.stdout());
  ping.child.stdout!.on('data', (b: Buffer) => take(b.toString()));
  const stop = async (): Promise<PingerResult> => {
    const stoppedAt = Date.now();
    await ping.stop();
    return parsePing(ping.stdout(), startedAt, stoppedAt);
  };
  const waitReplyAfter = async (sinceMs: number, timeoutMs: number) => {
    const desc = `a reply of the VIP ${ip} to the phone`;
    await pollUntil(
      desc,
      () => {
        if (ping.child.exitCode !== null) throw new Error(`ping exited (code ${ping.child.exitCode})`);
        return replies.length > 0 && replies[replies.length - 1] >= sinceMs;
      },
      timeoutMs,
      10,
    );
  };
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
