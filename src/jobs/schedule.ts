// When the copies run: node-cron expressions from the configuration, plus an astdb copy soon
// after Asterisk changed it (debounced), so a failover loses seconds of astdb changes, not
// the minutes between two scheduled copies.

import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { ReplicationConfig } from '../config/types';
import type { CopyKind } from '../domain/copies';
import type { Clock, Timer } from '../ports/clock';
import type { Logger } from '../ports/log';
import type { JobRunner } from './runner';

export class JobSchedule {
  private tasks: ScheduledTask[] = [];
  private watcher: FSWatcher | null = null;
  private debounce: Timer | null = null;

  constructor(
    private runner: JobRunner,
    private clock: Clock,
    private log: Logger,
  ) {}

  start(config: ReplicationConfig): void {
    this.stop();
    if (!config.enabled) return;
    const jobs: [CopyKind, string][] = [
      ['astdb', config.astdb.schedule],
      ['db', config.db.schedule],
      ['files', config.files.schedule],
    ];
    for (const [kind, expression] of jobs) {
      // The runner already refuses a second run of a job in progress; noOverlap keeps
      // node-cron from even queueing one.
      this.tasks.push(
        cron.schedule(expression, () => void this.runner.run(kind, 'schedule'), { noOverlap: true }),
      );
    }
    if (config.astdb.debounceMs > 0) this.watchAstdb(config.astdb.path, config.astdb.debounceMs);
  }

  /** When each job runs next, for `pbx-ha status`. */
  nextRuns(): Record<string, string | null> {
    const kinds: CopyKind[] = ['astdb', 'db', 'files'];
    return Object.fromEntries(kinds.map((k, i) => [k, this.tasks[i]?.getNextRun()?.toISOString() ?? null]));
  }

  stop(): void {
    for (const t of this.tasks) void t.destroy();
    this.tasks = [];
    this.watcher?.close();
    this.watcher = null;
    this.debounce?.cancel();
    this.debounce = null;
  }

  /**
   * Watches the astdb's directory (the file is replaced by installs, and SQLite writes its
   * journal beside it) and copies at most `debounceMs` after the first change seen. Not a
   * pure debounce: Asterisk may write every few milliseconds for minutes, and the copy must
   * not wait for it to pause.
   */
  private watchAstdb(file: string, debounceMs: number): void {
    const dir = path.dirname(file);
    const base = path.basename(file);
    let changedDuringRun = false;
    let running = false;
    const arm = () => {
      if (this.debounce || this.watcher === null) return;
      this.debounce = this.clock.after(debounceMs, () => {
        this.debounce = null;
        running = true;
        // A copy already under way (the scheduled one, a manual one) may have read the astdb
        // before this change, and it refuses this run: copy again once it ended, not at the
        // next schedule (minutes later).
        changedDuringRun = this.runner.state().some((j) => j.kind === 'astdb' && j.running);
        void this.runner.run('astdb', 'change').finally(() => {
          running = false;
          if (changedDuringRun) arm();
        });
      });
    };
    try {
      this.watcher = watch(dir, (_event, name) => {
        if (name === null || !String(name).startsWith(base)) return;
        if (running) changedDuringRun = true;
        else arm();
      });
      this.watcher.on('error', (e) =>
        this.log.log(
          'warn',
          `watching ${dir} for astdb changes failed: ${e.message}; scheduled copies go on`,
        ),
      );
    } catch (e) {
      this.log.log(
        'warn',
        `cannot watch ${dir} for astdb changes (${(e as Error).message}); scheduled copies go on`,
      );
    }
  }
}
