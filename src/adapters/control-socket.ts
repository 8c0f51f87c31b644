// The agent's control socket: a Unix stream socket, root only (directory 0700, socket
// 0600), one JSON request per line and one JSON answer per line. `pbx-ha status` and the
// ifupdown hook talk to the running agent through it.
//
// The socket's path is configured, so what lies there is checked before anything is changed:
// - its directory is pbx-ha's own: created here (0700), or found as a real directory owned by
//   this user and closed to group and others (as systemd's RuntimeDirectory makes /run/pbx-ha).
//   The mode of a directory pbx-ha did not create is never changed (`socket = /tmp/x.sock` once
//   made /tmp 0700 and dropped its sticky bit);
// - a socket nobody answers on is a stale one, left by a killed agent, and is removed; a socket
//   another agent answers on is left alone and this agent refuses to start (two agents on one
//   node would both move the VIPs); anything else at the path (a file, a link) is never removed.
// Each refusal is a ControlSocketError, which the agent reports as a configuration error.

import { chmodSync, lstatSync, mkdirSync, rmSync, type Stats } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../ports/log';

export type ControlRequest = { request: string; [key: string]: unknown };
export type ControlAnswer = { ok: true; [key: string]: unknown } | { ok: false; error: string };
export type ControlHandler = (req: ControlRequest) => Promise<ControlAnswer>;

/** Requests larger than this are refused: the protocol only carries short commands. */
const MAX_REQUEST_BYTES = 64 * 1024;

/** How long a socket found at the path has to accept a connection before it counts as stale. */
const PROBE_TIMEOUT_MS = 2000;

/** The socket cannot be set up without harming what is there; the message says what and why. */
export class ControlSocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlSocketError';
  }
}

const ownUid = (): number => process.geteuid?.() ?? 0;

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function describe(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'a device or special file';
}

/**
 * The socket's directory, made (0700) when missing, else checked: a real directory owned by this
 * user, with no access for group or others. Only the last component is made: its parent is the
 * system's (/run). Throws ControlSocketError otherwise; never changes a directory it finds.
 */
export function ensureSocketDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
    // Made here: the umask may have taken bits away, never added any; 0700 exactly.
    chmodSync(dir, 0o700);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      throw new ControlSocketError(
        `cannot create the control socket's directory ${dir}: ${(e as Error).message}`,
      );
    }
  }
  const st = lstatSync(dir);
  const mode = st.mode & 0o7777;
  const problem = !st.isDirectory()
    ? `is ${describe(st)}`
    : st.uid !== ownUid()
      ? `is owned by uid ${st.uid}`
      : (mode & 0o077) !== 0
        ? `has mode ${mode.toString(8).padStart(4, '0')}, open to group or others`
        : null;
  if (problem !== null) {
    throw new ControlSocketError(
      `the control socket's directory ${dir} ${problem}: it must be pbx-ha's own, a directory owned by uid ${ownUid()} with mode 0700 (or no directory: the agent creates it); pbx-ha does not change a directory it did not create`,
    );
  }
}

/** Whether something accepts connections on the Unix socket `socketPath` (within PROBE_TIMEOUT_MS). */
export function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.createConnection(socketPath);
    const done = (answers: boolean) => {
      clearTimeout(timer);
      conn.destroy();
      resolve(answers);
    };
    // A listener that does not accept within the limit is alive but stuck: not stale either.
    const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
    conn.on('connect', () => done(true));
    conn.on('error', (e: NodeJS.ErrnoException) => done(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'));
  });
}

export class ControlServer {
  private server: net.Server | null = null;

  constructor(
    private socketPath: string,
    private handler: ControlHandler,
    private log: Logger,
  ) {}

  /** The socket's inode once listening: stop() removes the path only while it is still ours. */
  private listening: { dev: number; ino: number } | null = null;

  /**
   * Listens on the socket path after the checks above. Rejects with ControlSocketError when the
   * directory is not pbx-ha's own, when another agent answers on the socket, or when something
   * other than a socket is at the path.
   */
  async start(): Promise<void> {
    ensureSocketDir(path.dirname(this.socketPath));
    const found = lstatOrNull(this.socketPath);
    if (found !== null) {
      if (!found.isSocket()) {
        throw new ControlSocketError(
          `${this.socketPath} is ${describe(found)}, not a socket: pbx-ha removes only a stale socket of its own; move it away, or set another [agent] socket`,
        );
      }
      if (await socketAnswers(this.socketPath)) {
        throw new ControlSocketError(
          `another agent answers on the control socket ${this.socketPath}: only one pbx-ha agent runs per node (stop the other one, or give this one another [agent] socket)`,
        );
      }
      // Nobody answers: left by an agent that was killed before it could remove it.
      this.log.log('info', `removing the stale control socket ${this.socketPath}`);
      rmSync(this.socketPath);
    }
    const server = net.createServer((conn) => this.serve(conn));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'EADDRINUSE'
            ? new ControlSocketError(
                `another agent took the control socket ${this.socketPath} while this one started`,
              )
            : e,
        ),
      );
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    const st = lstatSync(this.socketPath);
    this.listening = { dev: st.dev, ino: st.ino };
    server.on('error', (e) => this.log.log('error', `control socket: ${e.message}`));
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Node removes the socket file on close; if it did not, remove it only while it is ours.
    const st = lstatOrNull(this.socketPath);
    if (
      st !== null &&
      st.isSocket() &&
      this.listening &&
      st.ino === this.listening.ino &&
      st.dev === this.listening.dev
    )
      rmSync(this.socketPath, { force: true });
    this.listening = null;
  }

  private serve(conn: net.Socket): void {
    let buffered = '';
    let answering = false;
    conn.setEncoding('utf8');
    conn.setTimeout(10_000, () => conn.destroy());
    conn.on('error', () => undefined);
    conn.on('data', (chunk: string) => {
      // One request per connection: what follows the first line is not read, let alone run.
      if (answering) return;
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        conn.end(JSON.stringify({ ok: false, error: 'request too large' }) + '\n');
        return;
      }
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      const line = buffered.slice(0, newline);
      buffered = '';
      answering = true;
      // The idle timeout is for a client that never finishes its request; the answer itself may
      // take long (a sync of a large database, a failback), and the client waits for it.
      conn.setTimeout(0);
      void this.answer(line).then((answer) => conn.end(JSON.stringify(answer) + '\n'));
    });
  }

  private async answer(line: string): Promise<ControlAnswer> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    if (typeof req !== 'object' || req === null || typeof (req as ControlRequest).request !== 'string') {
      return { ok: false, error: 'request must be an object with a "request" string' };
    }
    try {
      return await this.handler(req as ControlRequest);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }
}

/** No agent listens on the control socket (no socket file, or nobody accepting on it). */
export class AgentNotRunningError extends Error {
  constructor(readonly socketPath: string) {
    super(`the pbx-ha agent is not running (no socket at ${socketPath})`);
    this.name = 'AgentNotRunningError';
  }
}

/**
 * Sends one request to a running agent and returns its answer. Rejects with an
 * AgentNotRunningError when no agent listens, an Error saying why otherwise.
 */
export function controlRequest(
  socketPath: string,
  req: ControlRequest,
  timeoutMs = 5000,
): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socketPath);
    let buffered = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no answer from the agent on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(req) + '\n'));
    conn.on('data', (d: string) => (buffered += d));
    conn.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
        return reject(new AgentNotRunningError(socketPath));
      reject(new Error(e.code === 'EACCES' ? `permission denied on ${socketPath}: run as root` : e.message));
    });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buffered) as ControlAnswer);
      } catch {
        reject(new Error(`the agent sent an answer that is not JSON: ${buffered.slice(0, 200)}`));
      }
    });
  });
}
