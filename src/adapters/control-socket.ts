// The agent's control socket: a Unix stream socket, root only (directory 0700, socket
// 0600), one JSON request per line and one JSON answer per line. `pbx-ha status` and the
// ifupdown hook talk to the running agent through it.

import { mkdirSync, chmodSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../ports/log';

export type ControlRequest = { request: string; [key: string]: unknown };
export type ControlAnswer = { ok: true; [key: string]: unknown } | { ok: false; error: string };
export type ControlHandler = (req: ControlRequest) => Promise<ControlAnswer>;

/** Requests larger than this are refused: the protocol only carries short commands. */
const MAX_REQUEST_BYTES = 64 * 1024;

export class ControlServer {
  private server: net.Server | null = null;

  constructor(
    private socketPath: string,
    private handler: ControlHandler,
    private log: Logger,
  ) {}

  async start(): Promise<void> {
    const dir = path.dirname(this.socketPath);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    // A socket left by a killed agent would make listen() fail with EADDRINUSE; only one
    // agent runs per node (systemd), so a leftover is stale by construction.
    if (existsSync(this.socketPath)) rmSync(this.socketPath);
    const server = net.createServer((conn) => this.serve(conn));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    server.on('error', (e) => this.log.log('error', `control socket: ${e.message}`));
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
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
