// With `[failover] failback = manual`, the master back in standby while the slave serves pulls
// what the slave changes as it happens (Replication.pullFromServingSlave): the spool files and
// the astdb every PULL_EVERY_MS (a digest compared, nothing transferred when nothing changed),
// the database on the [sync.db] schedule (a dump on the slave each time: not every few seconds).
// So a slave that serves for days leaves the standing-by master holding its voicemail, keys and
// rows, and the failback, when it comes, only brings the last seconds across.

import cron, { type ScheduledTask } from 'node-cron';
import type { PbxHaConfig } from '../config/types';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/log';
import type { Replication } from '../peer/replication';

/** How often the spool files and the astdb are pulled from the serving slave (target: a voicemail within 10 s). */
export const PULL_EVERY_MS = 5_000;

/** Starts the pulls; they act only while they apply (Replication decides). Returns the timers to cancel at stop. */
export function followServingSlave(
  replication: Replication,
  config: () => PbxHaConfig,
  clock: Clock,
  log: Logger,
  stopServices: () => Promise<void>,
): { cancel(): void } {
  let running = false;
  let dbDue = true;
  let lastError = '';
  const pull = () => {
    if (running) return;
    running = true;
    const withDb = dbDue;
    replication
      .pullFromServingSlave(withDb, stopServices)
      .then((detail) => {
        if (detail === null) return;
        if (withDb) dbDue = false;
        lastError = '';
        // Logged when something came across; "unchanged" pulls every few seconds are not.
        if (
          !/^astdb kept: [^;]*(; spool: (unchanged|the slave's spool is empty)[^;]*)?(; database: (the slave's is|no )[^;]*)?$/.test(
            detail,
          )
        )
          log.log('info', `pulled from the serving slave: ${detail}`);
      })
      .catch((e: Error) => {
        // Said once, not every few seconds; the next pull tries again.
        if (e.message !== lastError) log.log('warn', `pull from the serving slave failed: ${e.message}`);
        lastError = e.message;
      })
      .finally(() => {
        running = false;
      });
  };
  const timer = clock.every(PULL_EVERY_MS, pull);
  let task: ScheduledTask | null = null;
  try {
    task = cron.schedule(config().replication.db.schedule, () => void (dbDue = true), { noOverlap: true });
  } catch (e) {
    log.log('warn', `no database pull on a schedule: ${(e as Error).message}`);
  }
  return {
    cancel() {
      timer.cancel();
      void task?.stop();
    },
  };
}
