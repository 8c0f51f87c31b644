// The trusted link in memory: a PeerLink whose control channel hands each request to the
// peer's receiving side (as `pbx-ha peer-command` relays it to the peer's agent), and whose
// file transfers copy into and out of the peer's exchange directory (as rsync through the
// forced command does). Every request and answer goes through JSON, and every request through
// the protocol's check, as on the wire. As memberlist tests its members over a mock network,
// tests run two agents' conversation through this.

import { cpSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ControlAnswer } from '../../src/adapters/control-socket';
import { checkPeerRequest, type PeerRequest } from '../../src/peer/protocol';
import { EXCHANGE_SUBDIRS } from '../../src/peer/staging';
import type { PeerChannel, PeerLink, PeerMessage, PushResult } from '../../src/ports/peer-link';

/** The far end: what the peer's agent answers, and its exchange directory. */
export interface FakePeerEnd {
  handle(request: PeerRequest): Promise<ControlAnswer>;
  exchangeDir: string;
}

export class FakePeerLink implements PeerLink {
  /** Every request sent, in order (request names), for assertions. */
  readonly sent: string[] = [];
  /** Channels opened so far. */
  opened = 0;
  /** When set, opening a channel and every transfer fail with it (a peer down, a cable out). */
  failure: Error | null = null;
  /** Whether pairing was done (the SSH adapter checks the key files). */
  isPaired = true;

  /** `peer`: the far end now, or null when it is not there (crashed, not booted). */
  constructor(private peer: () => FakePeerEnd | null) {}

  private reach(): FakePeerEnd {
    if (this.failure) throw this.failure;
    const end = this.peer();
    if (!end) throw new Error('connect EHOSTUNREACH: the peer is not there');
    // As the peer's forced command does before it lets anything in.
    for (const sub of EXCHANGE_SUBDIRS)
      mkdirSync(path.join(end.exchangeDir, sub), { recursive: true, mode: 0o700 });
    return end;
  }

  async open(): Promise<PeerChannel> {
    this.reach();
    this.opened++;
    let open = true;
    const request = async (req: PeerMessage): Promise<PeerMessage> => {
      if (!open) throw new Error('not connected to the peer');
      const end = this.reach();
      const wire = JSON.parse(JSON.stringify(req)) as unknown;
      const checked = checkPeerRequest(wire);
      this.sent.push(String(req.request));
      const answer = checked.ok ? await end.handle(checked.request) : { ok: false, error: checked.error };
      return JSON.parse(JSON.stringify(answer)) as PeerMessage;
    };
    return {
      request,
      async ask(req) {
        const answer = await request(req);
        if (answer.ok !== true) {
          const why = typeof answer.error === 'string' ? answer.error.slice(0, 500) : 'no reason given';
          throw new Error(`the peer refused "${String(req.request)}": ${why}`);
        }
        return answer;
      },
      close() {
        open = false;
      },
    };
  }

  async send(file: string, remoteDir: string): Promise<void> {
    const dir = path.join(this.reach().exchangeDir, remoteDir);
    mkdirSync(dir, { recursive: true });
    copyFileSync(file, path.join(dir, path.basename(file)));
  }

  async sendTree(paths: string[], remoteDir: string): Promise<PushResult> {
    const root = path.join(this.reach().exchangeDir, remoteDir);
    const sent = paths.filter((p) => existsSync(p));
    const missing = paths.filter((p) => !existsSync(p));
    for (const p of sent) cpSync(p, path.join(root, p), { recursive: true });
    return { bytes: 0, sent, missing };
  }

  async fetch(remoteFile: string, file: string): Promise<void> {
    copyFileSync(path.join(this.reach().exchangeDir, remoteFile), file);
  }

  paired(): boolean {
    return this.isPaired;
  }
}
