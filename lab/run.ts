/**
 * Child processes and waiting, for everything that drives the lab: every command runs with an
 * argv array (never through a shell) and a timeout; errors name the command, its exit code or
 * signal, and the tail of its stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the command (SIGKILL) and throw after this long. Default 30 s. */
  timeoutMs?: number;
  /** Return a non-zero exit code instead of throwing. */
  allowFail?: boolean;
  /** Written to the command's stdin (stdin is closed otherwise). */
  input?: string;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
}

export class LabCommandError extends Error {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'LabCommandError';
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The last `lines` lines of a text (for error messages). */
export function tail(text: string, lines = 15): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** argv as a reader would type it (for messages only: nothing ever runs this string). */
export function quote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs argv[0] with argv[1..] (no shell), collecting output; throws on failure unless allowFail. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // the command may exit without reading its input
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new LabCommandError(`${quote(argv)}: ${e.message}`, argv, null, null, '', ''));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (timedOut) {
        const message = `${quote(argv)}: timed out after ${timeoutMs} ms\nstderr: ${tail(stderr)}`;
        reject(new LabCommandError(message, argv, code, signal, stdout, stderr));
      } else if (code === 0 || (opts.allowFail && code !== null)) {
        resolve({ code: code ?? -1, stdout, stderr });
      } else {
        const how = code !== null ? `exit code ${code}` : `signal ${signal}`;
        const message = `${quote(argv)}: ${how}\nstderr: ${tail(stderr)}`;
        reject(new LabCommandError(message, argv, code, signal, stdout, stderr));
      }
    });
  });
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Polls fn every pollMs until it returns a truthy value other than an empty array (so that
 * `pollUntil('a holder', () => lab.holders(vip), ...)` waits for someone), and returns it. An
 * error thrown by fn counts as "not yet". On timeout throws an error naming desc and the last
 * value (or the last error fn threw).
 */
export async function pollUntil<T>(
  desc: string,
  fn: () => Promise<T> | T,
  timeoutMs: number,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      lastError = undefined;
      if (last && !(Array.isArray(last) && last.length === 0)) return last as T;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
  const lastText =
    lastError !== undefined
      ? `last error: ${lastError instanceof Error ? lastError.message.split('\n')[0] : String(lastError)}`
      : `last value: ${safeJson(last)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${desc} (${lastText})`);
}

/** Is the process running (not gone, not a zombie that a non-reaping parent left)? */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
