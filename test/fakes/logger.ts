// A Logger that keeps every line, for assertions.

import type { Logger, LogLevel } from '../../src/ports/log';

export class RecordingLogger implements Logger {
  readonly entries: { level: LogLevel; message: string }[] = [];
  /** Set to echo lines to stderr while debugging a test. */
  echo = false;

  log(level: LogLevel, message: string): void {
    this.entries.push({ level, message });
    if (this.echo) process.stderr.write(`[${level}] ${message}\n`);
  }

  messages(level?: LogLevel): string[] {
    return this.entries.filter((e) => level === undefined || e.level === level).map((e) => e.message);
  }

  /** Lines matching `pattern`, at `level` if given. */
  matching(pattern: RegExp, level?: LogLevel): string[] {
    return this.messages(level).filter((m) => pattern.test(m));
  }
}
