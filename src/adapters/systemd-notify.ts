// Tells systemd how the agent is doing (sd_notify(3)): READY=1 once the first reconcile is done
// (Type=notify), WATCHDOG=1 while the event loop runs (WatchdogSec=), STOPPING=1 on the way out.
//
//   new SystemdNotifier(env, log, run?)   does nothing unless systemd set NOTIFY_SOCKET
//   .ready(status)                       READY=1 and a STATUS= line
//   .startWatchdog()                     WATCHDOG=1 every half of WATCHDOG_USEC, from a timer on
//                                        the event loop: a loop blocked for the whole WatchdogSec=
//                                        sends nothing, and systemd kills and restarts the agent
//   .stopping() / .stop()
//
// Why Debian's systemd-notify(1) and not a datagram of our own: Node.js has no unix datagram
// sockets, and the npm ones (unix-dgram, sd-notify) are native addons, one more module to
// compile per Node.js ABI. systemd-notify run by root sends its message with the agent's PID in
// the socket credentials, so systemd attributes it to the main process even after
// systemd-notify has exited (no race), and the unit keeps NotifyAccess=main. A ping costs one
// short child process every WatchdogSec/2 (15 s with the unit's 30 s).

import type { Logger } from '../ports/log';
import { runCommand, type RunOptions, type RunResult } from './exec';

export type Run = (argv: readonly string[], options: RunOptions) => Promise<RunResult>;

const NOTIFY_TIMEOUT_MS = 5000;

export class SystemdNotifier {
  private watchdog: NodeJS.Timeout | null = null;
  private failed = false;

  constructor(
    private env: NodeJS.ProcessEnv,
    private log: Logger,
    private run: Run = runCommand,
    private pid = process.pid,
  ) {}

  /** True when systemd runs the agent as a Type=notify service. */
  get enabled(): boolean {
    return (this.env.NOTIFY_SOCKET ?? '') !== '';
  }

  /** The watchdog period systemd asked for, in ms; null when none (or meant for another PID). */
  get watchdogMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC ?? '');
    if (!this.enabled || !Number.isSafeInteger(usec) || usec <= 0) return null;
    if (this.env.WATCHDOG_PID !== undefined && Number(this.env.WATCHDOG_PID) !== this.pid) return null;
    return usec / 1000;
  }

  ready(status: string): Promise<void> {
    return this.send(['READY=1', `STATUS=${status}`]);
  }

  startWatchdog(): void {
    const periodMs = this.watchdogMs;
    if (periodMs === null || this.watchdog) return;
    const every = Math.max(500, Math.floor(periodMs / 2));
    this.log.log('info', `systemd watchdog: ${Math.round(periodMs)} ms, pinged every ${every} ms`);
    void this.send(['WATCHDOG=1']);
    this.watchdog = setInterval(() => void this.send(['WATCHDOG=1']), every);
    // The pings alone do not keep the process alive once everything else has stopped.
    this.watchdog.unref();
  }

  stopping(): Promise<void> {
    this.stop();
    return this.send(['STOPPING=1']);
  }

  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private async send(assignments: string[]): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.run(['systemd-notify', ...assignments], { timeoutMs: NOTIFY_TIMEOUT_MS, env: this.env });
      this.failed = false;
    } catch (e) {
      // Logged once per run of failures: a watchdog ping failing every 15 s would flood the log.
      if (!this.failed)
        this.log.log('warn', `systemd-notify ${assignments.join(' ')} failed: ${(e as Error).message}`);
      this.failed = true;
    }
  }
}
