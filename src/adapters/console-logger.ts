// Logs to standard error, one line each. Under systemd (JOURNAL_STREAM is set) each line
// carries a `<N>` priority prefix (sd-daemon(3)) so that `journalctl -p warning` works;
// elsewhere (a terminal, the lab's log files) it carries a timestamp and the level.

import type { Logger, LogLevel } from '../ports/log';

const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export function consoleLogger(
  minLevel: LogLevel = 'info',
  journal = process.env.JOURNAL_STREAM !== undefined,
): Logger {
  return {
    log(level, message) {
      if (PRIORITY[level] > PRIORITY[minLevel]) return;
      const prefix = journal ? `<${PRIORITY[level]}>` : `${new Date().toISOString()} ${level.padEnd(5)} `;
      process.stderr.write(`${prefix}${message}\n`);
    },
  };
}
