// The control channel to the peer's agent: an SSH session (ssh2) authenticated with pbx-ha's
// own key, the host key checked against pbx-ha's known_hosts, running the forced
// `pbx-ha control` on the peer: one JSON request per line, one JSON answer per line.

import { readFileSync } from 'node:fs';
import { Client, utils, type ClientChannel } from 'ssh2';
import { verifyHostKey, type HostKeyVerdict } from '../link/known-hosts';
import type { SshTarget } from '../link/target';

export type { SshTarget };

/** The peer offered a host key other than the one recorded at pairing: never accepted. */
export class HostKeyChangedError extends Error {
  /** Alerted at once (see needsAdministrator in jobs/runner.ts). */
  readonly needsAdministrator = true;
  constructor(
    readonly host: string,
    readonly verdict: HostKeyVerdict,
  ) {
    super(
      verdict.kind === 'changed'
        ? `host key of ${host} CHANGED: recorded ${verdict.recorded.join(', ')}, offered ${verdict.offered}; ` +
            `replication stopped; if the peer was reinstalled, run "pbx-ha pair" again`
        : `no host key recorded for ${host}: run "pbx-ha pair" first`,
    );
    this.name = 'HostKeyChangedError';
  }
}

/** Answers are short JSON lines (copies go through rsync): a longer line is not an answer. */
const MAX_ANSWER_CHARS = 1024 * 1024;

export class SshControl {
  private client: Client | null = null;
  private channel: ClientChannel | null = null;
  private buffered = '';
  private waiting: {
    resolve(a: Record<string, unknown>): void;
    reject(e: Error): void;
    timer: NodeJS.Timeout;
  }[] = [];

  constructor(private target: SshTarget) {}

  async connect(): Promise<void> {
    const t = this.target;
    const knownHosts = readFileSync(t.knownHostsFile, 'utf8');
    const privateKey = readFileSync(t.keyFile);
    // Parsed here, not by connect(): ssh2's parse errors quote the start of the key's decoded bytes
    // ("Unsupported OpenSSH key magic: ..."), which would reach the logs and the history.
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) {
      const why = /encrypted/i.test(parsed.message)
        ? "it is encrypted (pbx-ha's own key has no passphrase)"
        : 'it is not a private key ssh2 can read';
      throw new Error(
        `cannot use pbx-ha's key ${t.keyFile}: ${why}; move it away and run "pbx-ha pair" again`,
      );
    }
    let refused: HostKeyChangedError | null = null;
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.on('ready', () => resolve());
      client.on('error', (e: Error & { level?: string }) => {
        // ssh2 says only "All configured authentication methods failed": say whose key, where, and what to do.
        const denied =
          e.level === 'client-authentication'
            ? Object.assign(
                new Error(
                  `${t.user}@${t.host} refused pbx-ha's key ${t.keyFile} (not, or no longer, in its authorized_keys); replication stopped; run "pbx-ha pair" again`,
                ),
                { needsAdministrator: true },
              )
            : null;
        reject(refused ?? denied ?? e);
      });
      client.connect({
        host: t.host,
        port: t.port,
        username: t.user,
        privateKey,
        readyTimeout: t.connectTimeoutMs,
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(knownHosts, t.host, t.port, key);
          if (verdict.kind === 'match') return true;
          refused = new HostKeyChangedError(t.host, verdict);
          return false;
        },
      });
    });
    this.client = client;
    this.channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.exec('pbx-ha control', (err, channel) => (err ? reject(err) : resolve(channel)));
    });
    let stderr = '';
    this.channel.setEncoding('utf8');
    this.channel.on('data', (d: string) => this.onData(d));
    this.channel.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-1000)));
    this.channel.on('close', () =>
      this.failAll(new Error(`the peer closed the control channel${stderr ? `: ${stderr.trim()}` : ''}`)),
    );
    client.on('close', () => this.failAll(new Error('the SSH connection to the peer closed')));
  }

  /** Sends one request and waits for its answer (requests are answered in order). */
  request(req: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const channel = this.channel;
    if (!channel) return Promise.reject(new Error('not connected to the peer'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new Error(`the peer did not answer "${String(req.request)}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push({ resolve, reject, timer });
      channel.write(JSON.stringify(req) + '\n');
    });
  }

  /** Like `request`, but a refusal (`ok` not true) is an error that says why. */
  async ask(req: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const answer = await this.request(req, timeoutMs);
    if (answer.ok !== true) {
      const why = typeof answer.error === 'string' ? answer.error.slice(0, 500) : 'no reason given';
      throw new Error(`the peer refused "${String(req.request)}": ${why}`);
    }
    return answer;
  }

  close(): void {
    this.channel?.end();
    this.client?.end();
    this.channel = null;
    this.client = null;
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    if (this.buffered.length > MAX_ANSWER_CHARS && !this.buffered.includes('\n')) {
      // A peer that never ends its line would fill our memory: the channel is given up.
      this.buffered = '';
      this.failAll(
        new Error(
          `the peer sent an answer longer than ${MAX_ANSWER_CHARS} characters without ending it; the control channel is closed`,
        ),
      );
      this.close();
      return;
    }
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      const waiter = this.waiting.shift();
      if (!waiter) continue;
      clearTimeout(waiter.timer);
      try {
        const value = JSON.parse(line) as unknown;
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new Error('not an object');
        waiter.resolve(value as Record<string, unknown>);
      } catch {
        // Quoted: the peer's bytes go into logs and the history, escape sequences included.
        waiter.reject(
          new Error(
            `the peer sent a malformed answer: ${JSON.stringify(line.slice(0, 200))}${line.length > 200 ? '…' : ''}`,
          ),
        );
      }
    }
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }
}

/** Connects, sends one request, closes: what the jobs and the CLI need. */
export async function askPeer(
  target: SshTarget,
  req: Record<string, unknown>,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const control = new SshControl(target);
  try {
    await control.connect();
    return await control.ask(req, timeoutMs);
  } finally {
    control.close();
  }
}
