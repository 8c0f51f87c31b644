// The request lines of one trusted-link connection, as the forced command reads them from
// sshd: bounded in length, in number and in idle time, so that whoever holds pbx-ha's key
// cannot make the slave's `pbx-ha peer-command` buffer without limit (one endless line),
// keep it running forever (an idle connection), or keep its agent busy on one connection.
// Input is read only while a line is wanted: nothing is buffered beyond the line being read
// and one chunk of the stream.

import type { Readable } from 'node:stream';

/**
 * Longest request line, newline excluded, in bytes. The longest request this version sends
 * (a `peer-install` with its digest) is under 200 bytes; 64 KiB leaves room for the requests
 * of later versions while keeping what one connection can make the command hold small.
 */
export const MAX_REQUEST_LINE_BYTES = 64 * 1024;

/**
 * Requests on one connection. A copy uses two (hello, install), a failback's release and
 * fetch two, a planned handover's channel two: 1000 is far above any conversation of the
 * pair's agents (and above the bad-input test's one connection of some 150 lines), and
 * bounds the work one connection can ask of the agent.
 */
export const MAX_REQUESTS_PER_CONNECTION = 1000;

/**
 * How long the command waits for the next request line, in ms (time spent answering a request
 * does not count). The master keeps a failback's channel open 30 s for the astdb fetch that
 * may follow the release (peer/replication.ts, RELEASED_CHANNEL_KEEP_MS): 60 s lets that
 * channel outlive the master's wait, whatever the delays of the network.
 */
export const REQUEST_IDLE_TIMEOUT_MS = 60_000;

export interface RequestLineLimits {
  maxLineBytes: number;
  maxRequests: number;
  idleTimeoutMs: number;
}

export const REQUEST_LINE_LIMITS: RequestLineLimits = {
  maxLineBytes: MAX_REQUEST_LINE_BYTES,
  maxRequests: MAX_REQUESTS_PER_CONNECTION,
  idleTimeoutMs: REQUEST_IDLE_TIMEOUT_MS,
};

export type NextRequestLine =
  /** One request line (UTF-8, without its newline nor a carriage return before it). */
  | { kind: 'line'; line: string }
  /** The peer closed its side: no more requests. */
  | { kind: 'end' }
  /** A bound was passed: answer `error` and close the connection. */
  | { kind: 'refused'; error: string };

const NEWLINE = 0x0a;

/** Reads the request lines of `input` one at a time, within `limits`. */
export class RequestLines {
  /** Bytes read after the last line returned: less than one line plus one chunk. */
  private pending: Buffer = Buffer.alloc(0);
  private count = 0;
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(
    private input: Readable,
    private limits: RequestLineLimits = REQUEST_LINE_LIMITS,
  ) {
    const wake = () => this.wake?.();
    input.on('readable', wake);
    input.on('end', () => {
      this.ended = true;
      wake();
    });
    // A broken pipe or a reset connection ends the requests like a close.
    input.on('error', () => {
      this.ended = true;
      wake();
    });
  }

  /** The next request line, the end of the requests, or the bound that was passed. */
  async next(): Promise<NextRequestLine> {
    const { maxLineBytes, maxRequests, idleTimeoutMs } = this.limits;
    let idle = false;
    const timer = setTimeout(() => {
      idle = true;
      this.wake?.();
    }, idleTimeoutMs);
    try {
      for (;;) {
        const newline = this.pending.indexOf(NEWLINE);
        const lineBytes = newline >= 0 ? newline : this.pending.length;
        if (lineBytes > maxLineBytes)
          return {
            kind: 'refused',
            error: `request line longer than ${maxLineBytes} bytes: connection closed`,
          };
        if (newline >= 0) {
          if (this.count >= maxRequests)
            return {
              kind: 'refused',
              error: `more than ${maxRequests} requests on one connection: connection closed`,
            };
          this.count++;
          const line = this.pending.subarray(0, newline);
          this.pending = this.pending.subarray(newline + 1);
          const text = line.toString('utf8');
          return { kind: 'line', line: text.endsWith('\r') ? text.slice(0, -1) : text };
        }
        const chunk = this.input.read() as Buffer | string | null;
        if (chunk !== null) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          this.pending = this.pending.length ? Buffer.concat([this.pending, bytes]) : bytes;
          continue;
        }
        if (this.ended) {
          if (this.pending.length === 0) return { kind: 'end' };
          // A last line without its newline is still a request (as a line reader would give it).
          this.pending = Buffer.concat([this.pending, Buffer.from('\n')]);
          continue;
        }
        if (idle)
          return {
            kind: 'refused',
            error: `no request for ${idleTimeoutMs / 1000} s: connection closed`,
          };
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
