// The change-driven copy of the spool directories (voicemail, recordings: [sync.files] spool),
// on the node that serves. inotifywait (adapters/inotify-watch.ts) reports which spool root
// changed; after a quiet second (at most 3 s after the first change of a burst) the files job
// runs with the `change` trigger and copies those roots only, one rsync per root; a burst of
// a thousand voicemails is a handful of copies, not a thousand. A copy never overlaps another
// (the runner runs one files copy at a time, and this module fires the next only when the last
// one ended). The scheduled full files copy stays the safety net: whatever this module misses
// (a watcher that died) is copied at the next hour. A spool root absent when the watch began is
// looked for every minute and watched (and copied) once it appears. Lost events (an overflow, a
// restart) make a full copy, at most one every FULL_COPY_FLOOR_MS: a writer that keeps the
// kernel's queue overflowing gets change copies of its roots between them, not a full copy
// every three seconds.

import { existsSync } from 'node:fs';
import { parseEventLine } from '../domain/spool-events';
import { startInotifywait, type StartWatcher, type WatcherChild } from '../adapters/inotify-watch';
import type { Clock, Timer } from '../ports/clock';
import type { Logger } from '../ports/log';
import { retryDelayMs } from './backoff';

/** A burst is copied once nothing changed for this long… */
export const QUIET_MS = 1000;
/** …or this long after its first change, whichever comes first: a steady writer never holds the copy back. */
export const MAX_WAIT_MS = 3000;
/** A watcher that died is restarted after 1 s, then 2, 4… up to a minute. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 60_000;
/** A watcher that ran this long before dying starts a new series of restarts (and alerts again). */
const HEALTHY_RUN_MS = 60_000;
/** How often a copy held back by a failing files job looks again (the job's own retry copies everything meanwhile). */
const HELD_BACK_MS = 5000;
/** How often spool roots absent at the start are looked for (an Asterisk that creates its monitor directory later). */
export const ABSENT_RECHECK_MS = 60_000;
/** The shortest time between two full copies asked for by lost events. */
export const FULL_COPY_FLOOR_MS = 30_000;

/** What the files job is asked to copy: some spool roots, or everything (`all`: events were lost). */
export type SpoolChanges = string[] | 'all';

export interface SpoolWatchDeps {
  clock: Clock;
  log: Logger;
  alert: (message: string) => void;
  /**
   * Runs the files job with the `change` trigger, which calls takeChanges(); resolves when that
   * run ended (or was refused: a copy already running is awaited first).
   */
  copy: () => Promise<unknown>;
  /** The files job failed last and its retry is pending: no change copy until it succeeds. */
  failing: () => boolean;
  /** Starts the watcher child (real inotifywait unless a test gives another). */
  startWatcher?: StartWatcher;
}

export interface SpoolWatchState {
  roots: string[];
  watching: boolean;
  restarts: number;
  lastProblem: string | null;
}

export class SpoolWatch {
  private roots: string[] = [];
  private child: WatcherChild | null = null;
  private watching = false;
  private generation = 0;
  /** Counts stop(): a copy that ends after one decides nothing. */
  private stops = 0;
  private changed = new Set<string>();
  private all = false;
  private timer: Timer | null = null;
  private burstStartMs = 0;
  private copying = false;
  private taken = false;
  private failures = 0;
  private restarts = 0;
  private startedMs = 0;
  private restartTimer: Timer | null = null;
  private lastProblem: string | null = null;
  private ignoredLines = 0;
  private absentTimer: Timer | null = null;
  /** When the last full copy asked for by lost events was taken (-Infinity: none yet). */
  private lastFullMs = Number.NEGATIVE_INFINITY;

  constructor(private deps: SpoolWatchDeps) {}

  /**
   * Watches `roots` (absolute, normalised; those absent now are left to the scheduled copy), or
   * nothing when empty. Watching the same roots again changes nothing.
   */
  watch(roots: readonly string[]): void {
    const wanted = [...roots];
    // Already asked for (watching, restarting, or none of them present): nothing to do.
    if (wanted.length > 0 && wanted.join('\0') === this.roots.join('\0')) return;
    void this.stop();
    this.roots = wanted;
    if (wanted.length === 0) return;
    this.failures = 0;
    this.launch();
  }

  /** Stops watching; changes not yet copied are left to the scheduled copy. */
  async stop(): Promise<void> {
    this.generation++;
    this.stops++;
    this.roots = [];
    this.watching = false;
    this.restartTimer?.cancel();
    this.restartTimer = null;
    this.absentTimer?.cancel();
    this.absentTimer = null;
    this.timer?.cancel();
    this.timer = null;
    this.changed.clear();
    this.all = false;
    const child = this.child;
    this.child = null;
    await child?.stop();
  }

  /** For the files job's `change` run: what changed since the last one, then forgotten; null = nothing. */
  takeChanges(): SpoolChanges | null {
    this.taken = true;
    // A full copy is due only FULL_COPY_FLOOR_MS after the last one; until then it stays asked
    // for (armed again after this copy) and the roots that changed are copied meanwhile.
    const all = this.all && this.deps.clock.nowMs() - this.lastFullMs >= FULL_COPY_FLOOR_MS;
    const roots = [...this.changed];
    this.changed.clear();
    if (all) {
      this.all = false;
      this.lastFullMs = this.deps.clock.nowMs();
      return 'all';
    }
    return roots.length ? roots : null;
  }

  state(): SpoolWatchState {
    return {
      roots: [...this.roots],
      watching: this.watching,
      restarts: this.restarts,
      lastProblem: this.lastProblem,
    };
  }

  private launch(): void {
    const generation = this.generation;
    const present = this.roots.filter((r) => existsSync(r));
    const absent = this.roots.filter((r) => !present.includes(r));
    if (absent.length) {
      this.deps.log.log(
        'info',
        `spool directories absent here, watched once they appear (looked for every ${ABSENT_RECHECK_MS / 1000} s): ${absent.join(', ')}`,
      );
      this.lookForAbsent(absent, generation);
    }
    if (present.length === 0) return;
    const start = this.deps.startWatcher ?? startInotifywait;
    this.startedMs = this.deps.clock.nowMs();
    const restarted = this.failures > 0;
    this.child = start(present, {
      line: (line) => generation === this.generation && this.onLine(line, present),
      overlong: () =>
        generation === this.generation && this.lost('a line of inotifywait output too long to read'),
      ready: () => {
        if (generation !== this.generation) return;
        this.watching = true;
        this.deps.log.log('info', `watching ${present.join(', ')} for changes`);
        // What changed while no watcher ran is copied now, not at the next hour.
        if (restarted) this.lost('the watcher was restarted');
      },
      exited: (reason) => generation === this.generation && this.onExit(reason),
    });
  }

  /** Every ABSENT_RECHECK_MS: once one of `absent` exists, the watch starts again with it, and it is copied. */
  private lookForAbsent(absent: string[], generation: number): void {
    this.absentTimer?.cancel();
    this.absentTimer = this.deps.clock.after(ABSENT_RECHECK_MS, () => {
      this.absentTimer = null;
      if (generation !== this.generation) return;
      const appeared = absent.filter((r) => existsSync(r));
      if (appeared.length === 0) return this.lookForAbsent(absent, generation);
      this.deps.log.log('info', `spool directories appeared: ${appeared.join(', ')}`);
      const child = this.child;
      this.child = null;
      this.watching = false;
      this.generation++; // the old child's last lines and exit are not this watch's any more
      this.restartTimer?.cancel();
      this.restartTimer = null;
      void child?.stop();
      for (const r of appeared) this.changed.add(r);
      this.launch();
      this.arm();
    });
  }

  private onLine(line: string, roots: string[]): void {
    const event = parseEventLine(line, roots);
    if (event.kind === 'change') {
      this.changed.add(event.root);
      this.arm();
    } else if (event.kind === 'overflow') {
      this.lost("the kernel's inotify queue overflowed (IN_Q_OVERFLOW)");
    } else if (this.ignoredLines++ % 1000 === 0) {
      // Possibly the tail of a file name with a newline in it; its head already named the root.
      this.deps.log.log('debug', `inotifywait line ignored (${event.why})`);
    }
  }

  /** Events were lost: a full copy of every configured path. */
  private lost(why: string): void {
    this.deps.log.log('info', `${why}: the next change copy is a full files copy`);
    this.all = true;
    this.arm();
  }

  private onExit(reason: string): void {
    this.child = null;
    this.watching = false;
    this.restarts++;
    if (this.deps.clock.nowMs() - this.startedMs >= HEALTHY_RUN_MS) this.failures = 0;
    this.failures++;
    const delay = retryDelayMs(this.failures, RESTART_MIN_MS, RESTART_MAX_MS);
    this.lastProblem = reason;
    const message = `spool watcher stopped (${reason}); restarting in ${Math.round(delay / 1000)} s, the scheduled files copy goes on`;
    if (this.failures === 1) this.deps.alert(message);
    else this.deps.log.log('warn', message);
    this.restartTimer = this.deps.clock.after(delay, () => {
      this.restartTimer = null;
      this.launch();
    });
  }

  /** Debounce: QUIET_MS after the last change, at most MAX_WAIT_MS after the first. */
  private arm(): void {
    if (this.copying) return; // armed again when the copy under way ends
    const now = this.deps.clock.nowMs();
    if (this.timer === null) this.burstStartMs = now;
    this.timer?.cancel();
    let delay = Math.max(0, Math.min(QUIET_MS, this.burstStartMs + MAX_WAIT_MS - now));
    // Only a full copy pending, and the last one too recent: it waits for its turn.
    if (this.changed.size === 0 && this.all)
      delay = Math.max(delay, this.lastFullMs + FULL_COPY_FLOOR_MS - now);
    this.timer = this.deps.clock.after(delay, () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    const stops = this.stops;
    if (this.changed.size === 0 && !this.all) return;
    if (this.deps.failing()) {
      this.timer = this.deps.clock.after(HELD_BACK_MS, () => this.fire());
      return;
    }
    this.copying = true;
    this.taken = false;
    void this.deps
      .copy()
      .catch((e: Error) => this.deps.log.log('warn', `spool change copy: ${e.message}`))
      .finally(() => {
        this.copying = false;
        if (stops !== this.stops || (this.changed.size === 0 && !this.all)) return;
        if (this.taken) this.arm();
        // Not taken: the job did not apply (this node does not send copies now); look again later.
        else this.timer = this.deps.clock.after(HELD_BACK_MS, () => this.fire());
      });
  }
}
