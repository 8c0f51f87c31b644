// One long-running `ip -json -force -batch -` fed over a pipe, so that an address or a route
// change on the failover path starts no process: writing a line costs microseconds, starting
// `ip` means forking the whole agent (a few milliseconds, more on a loaded machine).
//
// Why this and not netlink from the native ARP helper: iproute2 is Debian's own tool for the
// job, already how the agent reads and changes the network (its error texts, its `replace`
// semantics, its JSON); a persistent process leaves only the pipe to cross, and the helper stays
// a small program that sends and listens for ARP. Measured on a 2-core machine shared with other
// work, the same request from a Node.js process of agent size (200 requests each, read-only
// commands): median 0.2 ms through the open pipe against 13.7 ms with a new `ip` process each
// time at a load average of about 24; 0.17 ms against 4.9 ms at a lighter load. Real address
// changes (replace, then delete, 600 each) in a network namespace: median 0.16 ms, p90 1.5 ms
// through the pipe; median 5.1 ms, p90 13.6 ms, worst 103 ms with a process each. What is left is two pipe crossings and the scheduler; netlink from C
// would save a part of that 0.2 ms at the price of a netlink client of our own to keep correct
// (it was not built to be measured).
//
// How the agent knows that a change was applied, and whether it failed: with `-force`, iproute2
// goes on after a failed command and prints the kernel's answer, then `Command failed -:N` (N:
// the line number since the process started) on its unbuffered standard error. After each
// request's lines we send one line that always fails without touching the kernel (an unknown
// object, `SENTINEL`): when its `Command failed` arrives, every line before it has run, and the
// `Command failed` lines between are exactly the lines of this request that failed. Standard
// output (the JSON of reads, one document a line) is flushed after each command, so it is in
// the pipe before the sentinel runs; a request also waits for the documents it expects.
//
// A process that dies or stops answering: the request in flight fails, saying that its changes
// may or may not have been applied (the caller's next read shows which); the process is killed
// and a new one started; requests still queued go to the new one. Nothing is assumed applied.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** Always fails in userspace, with a line number: marks the end of a request. */
export const SENTINEL = 'pbx-ha-end-of-request';

/** How long after a death before a new process is started unasked (one is started at the next request anyway). */
const RESTART_DELAY_MS = 1000;

export interface BatchAnswer {
  /** Standard output lines of the request (one JSON document per successful read command). */
  stdout: string[];
  /** The request's lines that failed: index into the lines sent, and iproute2's message. */
  failures: { index: number; message: string }[];
}

export interface IpBatchOptions {
  /** The program and its arguments; `ip -json -force -batch -` in the agent, a fake in tests. */
  argv: readonly string[];
  /** How many stdout lines a line of a request is expected to print when it succeeds. */
  stdoutLinesOf?: (line: string) => number;
  /** Called with a line that explains a restart (for the log). */
  onRestart?: (why: string) => void;
}

interface Pending {
  lines: string[];
  timeoutMs: number;
  resolve: (a: BatchAnswer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** Set once sent: the line number of the request's first line and of its sentinel. */
  firstLine?: number;
  sentinelLine?: number;
  sentinelSeen?: boolean;
  failures: { index: number; message: string }[];
  stdout: string[];
}

/** A line that iproute2's batch parser would split, join or read as a comment, or that would end the batch. */
export function unsafeBatchLine(line: string): string | null {
  if (line.trim() === '') return 'an empty line';
  if (/[\n\r\0\\#"']/.test(line)) return 'a newline, NUL, backslash, # or quote';
  if (/^\s*(help|-)/.test(line)) return 'a word that iproute2 takes as help or an option';
  return null;
}

export class IpBatch {
  private child: ChildProcessWithoutNullStreams | null = null;
  /** Lines written to the current process (iproute2 numbers them from 1). */
  private linesSent = 0;
  private queue: Pending[] = [];
  private inFlight: Pending | null = null;
  private stderrBuf = '';
  private stdoutBuf = '';
  /** Error text printed since the last `Command failed` line. */
  private message: string[] = [];
  private closed = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  /** Processes started so far (for tests and the log). */
  starts = 0;

  constructor(private options: IpBatchOptions) {}

  /** Starts the process now, so that the first change does not pay for it. */
  start(): void {
    if (!this.child && !this.closed) this.spawnChild();
  }

  /**
   * Runs `lines` in order; resolves once all ran, with the failed ones. Rejects (nothing of it
   * run) for an unsafe line or once closed, and (some of it may have run) when the process dies
   * or the request takes more than `timeoutMs` from the call.
   */
  run(lines: string[], timeoutMs: number): Promise<BatchAnswer> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('ip -batch is closed: not run'));
      for (const line of lines) {
        const why = unsafeBatchLine(line);
        if (why) return reject(new Error(`"ip ${line}" not run: it contains ${why}`));
      }
      const p: Pending = {
        lines,
        timeoutMs,
        resolve,
        reject,
        failures: [],
        stdout: [],
        timer: setTimeout(() => this.timedOut(p), timeoutMs),
      };
      this.queue.push(p);
      this.pump();
    });
  }

  /** Ends the process (its standard input closes; it exits) and fails whatever is queued. */
  close(): void {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const all = [...(this.inFlight ? [this.inFlight] : []), ...this.queue];
    this.inFlight = null;
    this.queue = [];
    for (const p of all) this.settle(p, new Error('ip -batch closed before the request was answered'));
    const child = this.child;
    this.child = null;
    if (child) {
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 1000).unref();
    }
  }

  private spawnChild(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const [cmd, ...args] = this.options.argv;
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.starts++;
    this.startedAt = performance.now();
    this.child = child;
    this.linesSent = 0;
    this.stderrBuf = '';
    this.stdoutBuf = '';
    this.message = [];
    child.stdin.on('error', () => undefined); // EPIPE: the 'close' below reports the death
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (this.child === child) this.onStdout(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (this.child === child) this.onStderr(d);
    });
    let gone = false;
    const died = (why: string) => {
      if (gone) return;
      gone = true;
      if (this.child === child) this.lost(why);
    };
    child.on('error', (e) => died(`could not be started: ${e.message}`));
    child.on('close', (code, signal) => died(`exited (code ${code}, signal ${signal})`));
  }

  /** The process is gone: the request in flight fails, the queue waits for a new process. */
  private lost(why: string): void {
    const child = this.child;
    this.child = null;
    child?.kill('SIGKILL');
    const p = this.inFlight;
    this.inFlight = null;
    if (p) {
      this.settle(
        p,
        new Error(
          `ip -batch ${why} during the request; it may or may not have been applied: ${p.lines.map((l) => `"ip ${l}"`).join(', ')}`,
        ),
      );
    }
    if (this.closed) return;
    this.options.onRestart?.(`ip -batch ${why}; starting a new one`);
    if (this.queue.length) this.pump();
    // Started again unasked only after a process that had lived a while: one that cannot start
    // or dies at once is tried again at the next request, not in a loop.
    else if (performance.now() - this.startedAt >= RESTART_DELAY_MS)
      this.restartTimer = setTimeout(() => this.start(), RESTART_DELAY_MS);
  }

  private timedOut(p: Pending): void {
    const queued = this.queue.indexOf(p);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(
        p,
        new Error(`ip -batch: not run within ${p.timeoutMs} ms (the requests before it took that long)`),
      );
      return;
    }
    if (this.inFlight !== p) return;
    // Its state is unknown: a new process, so that a late answer is never taken for the next one's.
    this.lost(`did not answer within ${p.timeoutMs} ms and was killed`);
  }

  private settle(p: Pending, result: BatchAnswer | Error): void {
    clearTimeout(p.timer);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private pump(): void {
    if (this.inFlight || this.closed || this.queue.length === 0) return;
    if (!this.child) this.spawnChild();
    const p = this.queue.shift()!;
    this.inFlight = p;
    p.firstLine = this.linesSent + 1;
    p.sentinelLine = this.linesSent + p.lines.length + 1;
    this.linesSent = p.sentinelLine;
    this.child!.stdin.write([...p.lines, SENTINEL].join('\n') + '\n');
  }

  private onStderr(d: string): void {
    this.stderrBuf += d;
    const lines = this.stderrBuf.split('\n');
    this.stderrBuf = lines.pop() ?? '';
    for (const raw of lines) {
      const m = /^Command failed -:(\d+)$/.exec(raw.trim());
      if (!m) {
        if (raw.trim()) this.message.push(raw.trim());
        continue;
      }
      const n = Number(m[1]);
      const message = this.message.join(' ');
      this.message = [];
      const p = this.inFlight;
      if (!p || p.firstLine === undefined) continue;
      if (n === p.sentinelLine) {
        p.sentinelSeen = true;
        this.maybeDone();
      } else if (n >= p.firstLine && n < p.sentinelLine!) {
        p.failures.push({ index: n - p.firstLine, message });
      }
    }
  }

  private onStdout(d: string): void {
    this.stdoutBuf += d;
    const lines = this.stdoutBuf.split('\n');
    this.stdoutBuf = lines.pop() ?? '';
    const p = this.inFlight;
    for (const line of lines) if (line.trim() !== '') p?.stdout.push(line);
    if (!p && lines.some((l) => l.trim() !== '')) {
      this.lost('printed output outside any request');
      return;
    }
    this.maybeDone();
  }

  /** Done: the sentinel ran and every successful line's output has arrived. */
  private maybeDone(): void {
    const p = this.inFlight;
    if (!p?.sentinelSeen) return;
    const linesOf = this.options.stdoutLinesOf ?? (() => 0);
    const failed = new Set(p.failures.map((f) => f.index));
    const expected = p.lines.reduce((n, l, i) => n + (failed.has(i) ? 0 : linesOf(l)), 0);
    if (p.stdout.length < expected) return; // flushed before the sentinel ran: on its way
    if (p.stdout.length > expected) {
      this.lost(`printed ${p.stdout.length} output lines where ${expected} were expected`);
      return;
    }
    this.inFlight = null;
    this.settle(p, { stdout: p.stdout, failures: p.failures });
    this.pump();
  }
}
