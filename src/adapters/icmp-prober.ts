// ICMP echo probes with net-ping (raw sockets through raw-socket). One session, hence one
// raw socket, serves every probe of the agent; replies are matched by identifier and
// sequence number inside net-ping.

import type { ProbeResult, Prober } from '../ports/network';
import type { Logger } from '../ports/log';

// net-ping ships no type declarations; this is the part of its API pbx-ha uses.
interface PingSession {
  pingHost(target: string, cb: (error: Error | null, target: string, sent?: Date, rcvd?: Date) => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const netPing = require('net-ping') as { createSession(o: object): PingSession };

export class IcmpProber implements Prober {
  private session: PingSession | null = null;
  private sessionTimeoutMs = -1;

  constructor(private log: Logger) {}

  private sessionFor(timeoutMs: number): PingSession {
    if (this.session && this.sessionTimeoutMs === timeoutMs) return this.session;
    this.session?.close();
    // retries = 0: a lost probe is simply a probe without answer; the detector works on the
    // time since the last answer, so retrying inside net-ping would only blur that time.
    const session = netPing.createSession({ retries: 0, timeout: timeoutMs, packetSize: 16 });
    session.on('error', (e) => {
      this.log.log('error', `ICMP socket error: ${e.message}; reopening it at the next probe`);
      if (this.session === session) this.session = null;
      session.close();
    });
    this.session = session;
    this.sessionTimeoutMs = timeoutMs;
    return session;
  }

  ping(address: string, timeoutMs: number): Promise<ProbeResult> {
    const started = performance.now();
    return new Promise((resolve) => {
      try {
        this.sessionFor(timeoutMs).pingHost(address, (error) => {
          // Any error (timeout, unreachable, socket closed) means: no answer this time.
          resolve({ answered: !error, rttMs: error ? null : performance.now() - started });
        });
      } catch (e) {
        this.log.log('error', `ICMP probe of ${address} could not be sent: ${(e as Error).message}`);
        resolve({ answered: false, rttMs: null });
      }
    });
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }
}
