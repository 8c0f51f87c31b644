// Logging port. The agent writes one line per event that matters (a transition, a job, an
// alert); systemd's journal adds the timestamp and the unit name.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string): void;
}
