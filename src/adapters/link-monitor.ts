// Watches link, address and route changes with a long-running `ip -o monitor link address
// route`, so that a pulled cable, a changed MAC, or an address or a route deleted or changed by
// hand is seen at once rather than at the next periodic reconcile. The monitor is restarted
// (with a delay) if it ever exits.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../ports/log';

const RESTART_DELAY_MS = 1000;

export class LinkMonitor {
  private child: ChildProcess | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private onChange: (line: string) => void,
    private log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    const child = spawn('/usr/sbin/ip', ['-o', 'monitor', 'link', 'address', 'route'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.onChange(line);
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-500)));
    child.on('error', (e) => this.log.log('error', `ip monitor could not start: ${e.message}`));
    child.on('close', (code, signal) => {
      if (this.stopped) return;
      this.log.log(
        'warn',
        `ip monitor exited (code ${code}, signal ${signal}) ${stderr.trim()}; restarting it`,
      );
      this.restartTimer = setTimeout(() => this.start(), RESTART_DELAY_MS);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
    this.child = null;
  }
}
