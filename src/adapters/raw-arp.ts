// ARP through the project's native helper (native/pbx-ha-arp.c, built by scripts/build-native
// into dist/native/pbx-ha-arp): gratuitous ARP within a fraction of a millisecond of the
// decision, bursts with sub-second spacing, duplicate address detection with sub-second
// timeouts — none of which iputils arping can do (whole seconds for -i/-w, one process each).
//
// The helper is started once, on the first request, and kept. Requests are lines on its stdin,
// each with an id that its answer repeats, so several can be in flight (a probe takes its whole
// timeout; sends and MAC look-ups are answered in the meantime):
//
//   send ID IFNAME HEXFRAME         -> ok ID [reopened]
//   garp ID IFNAME IPV4             -> ok ID MAC [reopened]
//   probe ID IFNAME IPV4 TIMEOUT_MS -> free ID | taken ID MAC[,MAC...]
//   mac ID IFNAME                   -> mac ID MAC
//   (any)                           -> err ID MESSAGE
//
// A gratuitous ARP is one `garp` line: the helper reads the interface's MAC and sends the frame
// as soon as it reads the line. With `mac`, then `send`, the frame waited for the agent to read
// the MAC's answer, and a takeover's agent is busy right then (routes, the services start and
// the notify script each fork it): the first frame left 10 to 20 ms after the decision. The line
// is written in the same turn of the event loop as announce() is called when the helper runs.
//
// Every request has a deadline; a helper that misses one is killed, since it is stuck. When the
// helper dies, the requests in flight fail with its exit status and the end of its stderr, and
// the next request starts it again (at most once per `restartDelayMs`).

import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { isIPv4 } from 'node:net';
import * as path from 'node:path';
import type { Logger } from '../ports/log';
import type { ArpPort } from '../ports/network';

/** dist/native/pbx-ha-arp, seen from dist/src/adapters/. */
export const DEFAULT_HELPER_PATH = path.resolve(__dirname, '../../native/pbx-ha-arp');

/** The helper's own limit on a probe's timeout. */
export const MAX_PROBE_TIMEOUT_MS = 60_000;

export interface RawArpOptions {
  /**
   * The argv that starts the helper (spawned directly, never through a shell). Default
   * `[DEFAULT_HELPER_PATH]`. A prefix runs it elsewhere, e.g.
   * `['ip', 'netns', 'exec', 'ns1', DEFAULT_HELPER_PATH]`.
   */
  command?: readonly string[];
  log?: Logger;
  /** Deadline of a `send` or `mac` answer, and the slack given to a probe beyond its own timeout. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** Least time between two starts of the helper. Default 1000 ms. */
  restartDelayMs?: number;
  /** Waits between the frames of a burst. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

type AnswerKind = 'ok' | 'mac' | 'free' | 'taken';

interface Answer {
  kind: AnswerKind;
  /** The words after the id. */
  rest: string[];
}

interface Pending {
  /** What was asked, for error messages: `send on eth0`. */
  what: string;
  expect: readonly AnswerKind[];
  resolve(answer: Answer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface Helper {
  child: ChildProcessWithoutNullStreams;
  pending: Map<string, Pending>;
  stdout: string;
  stderr: string;
  alive: boolean;
  /** Why we killed it, if we did. */
  killedBecause: string | null;
}

const NO_LOG: Logger = { log: () => undefined };
const MAX_STDERR = 4000;
const MAX_ANSWER_LINE = 64 * 1024;

/** Keeps the end of a long text, where the reason for a failure usually is. */
function tail(text: string, max: number): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/** Interface names as the kernel accepts them (< IFNAMSIZ); anything with blanks would break the line protocol. */
function checkIfname(ifname: string): void {
  if (!/^[^\s/]{1,15}$/.test(ifname)) throw new Error(`not an interface name: ${JSON.stringify(ifname)}`);
}

function checkIpv4(address: string): void {
  if (!isIPv4(address)) throw new Error(`not an IPv4 address: ${JSON.stringify(address)}`);
}

export class RawArp implements ArpPort {
  private readonly command: readonly string[];
  private readonly log: Logger;
  private readonly requestTimeoutMs: number;
  private readonly restartDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  private helper: Helper | null = null;
  private starting: Promise<Helper> | null = null;
  private lastStartMs = -Infinity;
  private nextId = 0;
  private closed = false;

  constructor(options: RawArpOptions = {}) {
    this.command = options.command ?? [DEFAULT_HELPER_PATH];
    if (this.command.length === 0) throw new Error('RawArp: empty command');
    this.log = options.log ?? NO_LOG;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000;
    this.restartDelayMs = options.restartDelayMs ?? 1000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Sends `count` gratuitous ARP requests for `address` on `ifname`: the first at once, then one
   * every `intervalMs`; resolves after the last. A frame that cannot be sent does not stop the
   * burst (the link may come back in time for the next one); the burst then fails at its end,
   * saying how many frames were lost and why the first was.
   *
   * Each frame carries the interface's MAC as it is when the frame is sent, read by the helper
   * (SIOCGIFHWADDR) for every frame, never cached: a bond failing over to another NIC, or a VM's
   * NIC replaced, changes it, and an announcement with the old one points the phones at a MAC
   * that no longer answers.
   */
  async announce(address: string, ifname: string, count: number, intervalMs: number): Promise<void> {
    checkIpv4(address);
    checkIfname(ifname);
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`announce: count must be a positive integer, not ${count}`);
    if (!(intervalMs >= 0) || !Number.isFinite(intervalMs))
      throw new Error(`announce: bad interval ${intervalMs}`);
    let failed = 0;
    let firstError: Error | null = null;
    for (let i = 0; i < count; i++) {
      if (i > 0) await this.sleep(intervalMs);
      if (this.closed) throw new Error('RawArp is closed');
      try {
        const answer = await this.request(
          'garp',
          [ifname, address],
          `gratuitous ARP on ${ifname}`,
          ['ok'],
          this.requestTimeoutMs,
        );
        if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(answer.rest[0] ?? ''))
          throw new Error(`pbx-ha-arp: bad answer to garp on ${ifname}: ${answer.rest.join(' ')}`);
      } catch (e) {
        failed++;
        firstError ??= e as Error;
      }
    }
    if (firstError) {
      throw new Error(
        `gratuitous ARP for ${address} on ${ifname}: ${failed} of ${count} frames not sent: ${firstError.message}`,
      );
    }
  }

  /**
   * Duplicate address detection (RFC 5227 ARP probe, sender IP 0.0.0.0): the MACs, other than
   * this interface's own, that answered for `address` or sent ARP as `address` within
   * `timeoutMs`. Always takes the whole `timeoutMs`, to hear every holder.
   */
  async whoHas(address: string, ifname: string, timeoutMs: number): Promise<string[]> {
    checkIpv4(address);
    checkIfname(ifname);
    const ms = Math.ceil(timeoutMs);
    if (!(ms >= 1 && ms <= MAX_PROBE_TIMEOUT_MS)) {
      throw new Error(`whoHas: timeout must be 1 to ${MAX_PROBE_TIMEOUT_MS} ms, not ${timeoutMs}`);
    }
    const answer = await this.request(
      'probe',
      [ifname, address, String(ms)],
      `probe of ${address} on ${ifname}`,
      ['free', 'taken'],
      ms + this.requestTimeoutMs,
    );
    return answer.kind === 'taken' ? (answer.rest[0] ?? '').split(',').filter((m) => m !== '') : [];
  }

  /** Starts the helper and checks that it can read each interface's MAC (an Ethernet interface). */
  async prepare(ifnames: string[]): Promise<void> {
    await Promise.all(ifnames.map((i) => this.macOf(i)));
  }

  /** The MAC address of `ifname` (`aa:bb:cc:dd:ee:ff`) as it is now, asked of the helper. */
  async macOf(ifname: string): Promise<string> {
    checkIfname(ifname);
    if (this.closed) throw new Error(`pbx-ha-arp mac of ${ifname}: RawArp is closed`);
    const a = await this.request('mac', [ifname], `mac of ${ifname}`, ['mac'], this.requestTimeoutMs);
    const text = a.rest[0] ?? '';
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(text))
      throw new Error(`pbx-ha-arp: bad answer to mac of ${ifname}: ${a.rest.join(' ')}`);
    return text;
  }

  /** Ends the helper's input and kills it; pending and later requests fail. Resolves once it has exited. */
  close(): Promise<void> {
    this.closed = true;
    const h = this.helper;
    this.helper = null;
    if (!h || !h.alive) return Promise.resolve();
    const exited = new Promise<void>((resolve) => h.child.once('close', () => resolve()));
    h.killedBecause = 'RawArp was closed';
    h.child.stdin.end();
    h.child.kill('SIGTERM');
    this.failAll(h, new Error('pbx-ha-arp: RawArp was closed'));
    return exited;
  }

  // --- the helper ------------------------------------------------------------------------

  private async request(
    cmd: string,
    args: string[],
    what: string,
    expect: readonly AnswerKind[],
    timeoutMs: number,
  ): Promise<Answer> {
    if (this.closed) throw new Error(`pbx-ha-arp ${what}: RawArp is closed`);
    // A running helper gets the line now, in this turn of the event loop (no await before it).
    const h = this.helper?.alive ? this.helper : await this.running();
    const id = String(++this.nextId);
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!h.pending.delete(id)) return;
        const error = new Error(`pbx-ha-arp: no answer to ${what} within ${timeoutMs} ms`);
        reject(error);
        // A single-threaded helper that misses a deadline is stuck: start afresh.
        if (h.alive) {
          this.log.log('warn', `${error.message}; killing the helper (pid ${h.child.pid})`);
          h.killedBecause = error.message;
          h.child.kill('SIGKILL');
        }
      }, timeoutMs);
      h.pending.set(id, { what, expect, resolve, reject, timer });
      h.child.stdin.write(`${[cmd, id, ...args].join(' ')}\n`);
    });
  }

  private running(): Promise<Helper> {
    if (this.helper?.alive) return Promise.resolve(this.helper);
    this.starting ??= this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  private async start(): Promise<Helper> {
    const wait = this.lastStartMs + this.restartDelayMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.closed) throw new Error('pbx-ha-arp: RawArp is closed');
    this.lastStartMs = performance.now();
    const child = spawn(this.command[0], this.command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const h: Helper = { child, pending: new Map(), stdout: '', stderr: '', alive: true, killedBecause: null };
    this.helper = h;
    this.log.log('debug', `started ${this.command.join(' ')} (pid ${child.pid ?? '?'})`);

    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      h.stdout += data;
      let nl: number;
      while ((nl = h.stdout.indexOf('\n')) >= 0) {
        const line = h.stdout.slice(0, nl);
        h.stdout = h.stdout.slice(nl + 1);
        this.onAnswer(h, line);
      }
      if (h.stdout.length > MAX_ANSWER_LINE) {
        this.log.log('warn', `pbx-ha-arp: dropping ${h.stdout.length} bytes of output without a newline`);
        h.stdout = '';
      }
    });
    child.stderr.setEncoding('utf8').on('data', (data: string) => {
      h.stderr = tail(h.stderr + data, MAX_STDERR);
    });
    // Writing to a helper that just died raises EPIPE here; its 'close' says what happened.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => this.onExit(h, `could not be started (${e.message})`));
    child.on('close', (code, signal) =>
      this.onExit(h, code !== null ? `exited with code ${code}` : `was killed by ${signal}`),
    );
    return h;
  }

  private onAnswer(h: Helper, line: string): void {
    const [kind, id, ...rest] = line.trim().split(/\s+/);
    const p = id === undefined ? undefined : h.pending.get(id);
    if (!p) {
      // A late answer to a request that timed out, or `err - ...` to a line we never send.
      this.log.log(id === '-' ? 'warn' : 'debug', `pbx-ha-arp: unmatched answer: ${line}`);
      return;
    }
    h.pending.delete(id);
    clearTimeout(p.timer);
    if (kind === 'err') p.reject(new Error(`pbx-ha-arp ${p.what}: ${rest.join(' ')}`));
    else if ((p.expect as readonly string[]).includes(kind)) p.resolve({ kind: kind as AnswerKind, rest });
    else p.reject(new Error(`pbx-ha-arp ${p.what}: unexpected answer: ${line}`));
  }

  private onExit(h: Helper, how: string): void {
    if (!h.alive) return;
    h.alive = false;
    if (this.helper === h) this.helper = null;
    const why = h.killedBecause ? ` (${h.killedBecause})` : '';
    const stderr = h.stderr.trim() ? `: ${tail(h.stderr.trim(), 500)}` : '';
    const error = new Error(`pbx-ha-arp (${this.command.join(' ')}) ${how}${why}${stderr}`);
    if (!this.closed) this.log.log('warn', error.message);
    this.failAll(h, error);
  }

  private failAll(h: Helper, error: Error): void {
    for (const p of h.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${p.what}: ${error.message}`));
    }
    h.pending.clear();
  }
}
