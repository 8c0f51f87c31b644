// The one way pbx-ha runs a child process: an argv array (never a shell string), a timeout,
// an optional AbortSignal, and one error type that says what ran and how it ended.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface RunOptions {
  timeoutMs: number;
  /** Written to the child's standard input, then closed. */
  input?: string;
  /** Piped to the child's standard input instead of `input` (a large input, never held whole). */
  inputStream?: Readable;
  /** Open files the child inherits as its fds 3, 4, … (a directory opened without following links). */
  extraFds?: number[];
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Keeps the end of a long output, where the reason for a failure usually is. */
function tail(text: string, max = 2000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly timedOut: boolean,
    readonly stderr: string,
    readonly stdout: string,
    readonly cause?: Error,
    readonly aborted = false,
  ) {
    const how = cause
      ? `could not be started (${cause.message})`
      : timedOut
        ? 'timed out and was killed'
        : aborted
          ? 'was cancelled and killed'
          : signal
            ? `was killed by ${signal}`
            : `exited with code ${exitCode}`;
    const err = stderr.trim() ? `: ${tail(stderr.trim(), 500)}` : '';
    super(`${argv.join(' ')} ${how}${err}`);
    this.name = 'CommandError';
  }
}

/** After the kill, how long the pipes may stay open (held by a stray grandchild) before we stop waiting. */
const PIPE_GRACE_MS = 200;

export function runCommand(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (argv.length === 0) {
      reject(new Error('runCommand: empty argv'));
      return;
    }
    if (options.signal?.aborted) {
      reject(new CommandError(argv, null, null, false, '', '', undefined, true));
      return;
    }
    // Its own process group, so that a timeout kills the command and whatever it started
    // (a services script's hung `systemctl`), not the direct child alone.
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe', ...(options.extraFds ?? [])],
      env: options.env ?? process.env,
      detached: true,
    }) as ChildProcessWithoutNullStreams; // the first three are pipes whatever follows
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let streamError: Error | null = null;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = tail(stderr + d, 8000)));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.inputStream?.destroy();
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve({ stdout, stderr, durationMs: performance.now() - started });
    };
    child.on('error', (e) => finish(new CommandError(argv, null, null, false, stderr, stdout, e)));
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (streamError) finish(streamError);
      else if (code === 0 && !timedOut && !aborted) finish(null);
      else finish(new CommandError(argv, code, signal, timedOut, stderr, stdout, undefined, aborted));
    };
    child.on('close', done);
    // A killed command whose pipes a stray descendant still holds: do not wait for them.
    child.on('exit', (code, signal) => {
      if (!timedOut && !aborted) return;
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        done(code, signal);
      }, PIPE_GRACE_MS).unref();
    });
    // A child that exits before reading its input must not crash the agent with EPIPE.
    child.stdin.on('error', () => undefined);
    if (options.inputStream) {
      // A stream that fails (a file that does not read as expected) kills the command: its
      // input is incomplete, so whatever it did must not count.
      options.inputStream.once('error', (e) => {
        streamError = e;
        killGroup();
      });
      options.inputStream.pipe(child.stdin);
    } else {
      child.stdin.end(options.input ?? '');
    }
  });
}

export interface PassThroughOptions {
  timeoutMs: number;
  /** Written to the child's standard input; otherwise the child shares ours. */
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a child that talks to our own standard streams (rsync's protocol under sshd, ssh asking
 * for a password on the terminal). Same rules: argv, timeout, failure as a CommandError.
 */
export function runPassThrough(argv: readonly string[], options: PassThroughOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: [options.input === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
      env: options.env ?? process.env,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, null, false, '', '', e));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) resolve();
      else reject(new CommandError(argv, code, signal, timedOut, '', ''));
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
