import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WatcherHandlers } from '../../../src/adapters/inotify-watch';
import {
  ABSENT_RECHECK_MS,
  FULL_COPY_FLOOR_MS,
  MAX_WAIT_MS,
  QUIET_MS,
  SpoolWatch,
  type SpoolChanges,
} from '../../../src/jobs/spool-watch';
import { FakeClock, flushPromises } from '../../fakes/clock';
import { RecordingLogger } from '../../fakes/logger';

/** A SpoolWatch over a fake watcher child and a fake files job that records what it was asked to copy. */
function rig(opts: { failing?: () => boolean; applies?: () => boolean } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'spool-watch-'));
  const roots = [path.join(dir, 'voicemail'), path.join(dir, 'monitor')];
  for (const r of roots) mkdirSync(r);
  const clock = new FakeClock();
  const log = new RecordingLogger();
  const alerts: string[] = [];
  const copies: (SpoolChanges | null)[] = [];
  const children: { roots: readonly string[]; on: WatcherHandlers; stopped: boolean }[] = [];
  let release: (() => void) | null = null;
  let holdCopies = false;
  const watch: SpoolWatch = new SpoolWatch({
    clock,
    log,
    alert: (m) => alerts.push(m),
    failing: opts.failing ?? (() => false),
    copy: async () => {
      if (opts.applies && !opts.applies()) return;
      copies.push(watch.takeChanges());
      if (holdCopies) await new Promise<void>((r) => (release = r));
    },
    startWatcher: (r, on) => {
      const child = { roots: r, on, stopped: false };
      children.push(child);
      return {
        stop: () => {
          child.stopped = true;
          return Promise.resolve();
        },
      };
    },
  });
  const child = () => children[children.length - 1];
  const event = (line: string) => child().on.line(line);
  const advance = async (ms: number) => {
    await clock.advance(ms);
    await flushPromises();
  };
  return {
    dir,
    roots,
    clock,
    log,
    alerts,
    copies,
    children,
    watch,
    child,
    event,
    advance,
    hold: () => (holdCopies = true),
    release: () => {
      holdCopies = false;
      release?.();
    },
    done: async () => {
      await watch.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a burst of changes is one copy, a second after the last change, of the roots that changed', async () => {
  const r = rig();
  try {
    r.watch.watch(r.roots);
    r.child().on.ready();
    for (let i = 0; i < 5; i++) {
      r.event(`CLOSE_WRITE,CLOSE ${r.roots[0]}/default/1001/INBOX/msg000${i}.wav`);
      await r.advance(100);
    }
    assert.deepEqual(r.copies, [], 'nothing copied while the burst goes on');
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, [[r.roots[0]]]);
    await r.advance(10_000);
    assert.equal(r.copies.length, 1, 'no copy without a change');
  } finally {
    await r.done();
  }
});

test('a steady writer is copied at most 3 s after its first change, not held back', async () => {
  const r = rig();
  try {
    r.watch.watch(r.roots);
    for (let t = 0; t < MAX_WAIT_MS + 500; t += 200) {
      r.event(`MOVED_TO ${r.roots[1]}/rec-${t}.wav`);
      await r.advance(200);
    }
    assert.equal(r.copies.length, 1);
    assert.deepEqual(r.copies[0], [r.roots[1]]);
  } finally {
    await r.done();
  }
});

test('a copy never overlaps the next: changes during a copy make one more copy after it', async () => {
  const r = rig();
  try {
    r.watch.watch(r.roots);
    r.hold();
    r.event(`CREATE ${r.roots[0]}/a`);
    await r.advance(QUIET_MS);
    assert.equal(r.copies.length, 1);
    for (let i = 0; i < 20; i++) {
      r.event(`CREATE ${r.roots[1]}/b${i}`);
      await r.advance(500);
    }
    assert.equal(r.copies.length, 1, 'no second copy while the first runs');
    r.release();
    await r.advance(0);
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, [[r.roots[0]], [r.roots[1]]]);
  } finally {
    await r.done();
  }
});

test('an inotify queue overflow, an unreadable line or a restarted watcher means a full copy', async () => {
  const r = rig();
  try {
    r.watch.watch(r.roots);
    r.event('Q_OVERFLOW ');
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, ['all']);
    r.child().on.overlong();
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, ['all'], 'a second full copy waits for its turn');
    // Meanwhile a change is copied on its own, and the full copy stays due.
    r.event(`CLOSE_WRITE,CLOSE ${r.roots[1]}/x.wav`);
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, ['all', [r.roots[1]]]);
    await r.advance(FULL_COPY_FLOOR_MS - 2 * QUIET_MS - 1);
    assert.equal(r.copies.length, 2, `not before ${FULL_COPY_FLOOR_MS} ms after the last full copy`);
    await r.advance(1);
    assert.deepEqual(r.copies, ['all', [r.roots[1]], 'all']);
    r.event('CREATE /etc/passwd');
    r.event('garbage');
    await r.advance(QUIET_MS * 5);
    assert.equal(r.copies.length, 3, 'lines outside the roots copy nothing');
  } finally {
    await r.done();
  }
});

test('a watcher that dies is restarted with growing delays, reported once by an alert, and its gap copied', async () => {
  const r = rig();
  try {
    r.watch.watch(r.roots);
    assert.equal(r.children.length, 1);
    r.child().on.exited('/usr/bin/inotifywait exited with code 1: Failed to watch');
    assert.equal(r.alerts.length, 1);
    assert.match(r.alerts[0], /spool watcher stopped .*exited with code 1.*restarting in 1 s/);
    await r.advance(999);
    assert.equal(r.children.length, 1, 'not before the delay');
    await r.advance(1);
    assert.equal(r.children.length, 2, 'restarted after 1 s');
    r.child().on.exited('killed');
    await r.advance(1999);
    assert.equal(r.children.length, 2);
    await r.advance(1);
    assert.equal(r.children.length, 3, 'then after 2 s');
    assert.equal(r.alerts.length, 1, 'later deaths of the series are logged, not alerted');
    assert.equal(r.log.matching(/restarting in 2 s/, 'warn').length, 1);
    r.child().on.ready();
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, ['all'], 'what changed while no watcher ran is copied');
    assert.equal(r.watch.state().restarts, 2);
  } finally {
    await r.done();
  }
});

test('with none of the roots present, no watcher starts and asking again says nothing more', async () => {
  const r = rig();
  try {
    const absent = [path.join(r.dir, 'none')];
    for (let i = 0; i < 10; i++) r.watch.watch(absent);
    assert.equal(r.children.length, 0);
    assert.equal(r.log.matching(/absent here/).length, 1);
    assert.deepEqual(r.watch.state(), { roots: absent, watching: false, restarts: 0, lastProblem: null });
  } finally {
    await r.done();
  }
});

test('stopping ends the child and forgets pending changes; watching the same roots again changes nothing', async () => {
  const r = rig();
  try {
    r.watch.watch(r.roots);
    r.watch.watch([...r.roots]);
    assert.equal(r.children.length, 1);
    r.event(`CREATE ${r.roots[0]}/a`);
    await r.watch.stop();
    assert.equal(r.children[0].stopped, true);
    r.children[0].on.line(`CREATE ${r.roots[0]}/b`);
    r.children[0].on.exited('killed by SIGTERM');
    await r.advance(60_000);
    assert.deepEqual(r.copies, []);
    assert.equal(r.children.length, 1, 'a stopped watcher is not restarted');
    assert.deepEqual(r.alerts, []);
  } finally {
    await r.done();
  }
});

test('absent roots are left to the scheduled copy; a failing files job holds change copies back', async () => {
  let failing = true;
  const r = rig({ failing: () => failing });
  try {
    r.watch.watch([...r.roots, path.join(r.dir, 'fax')]);
    r.watch.watch([...r.roots, path.join(r.dir, 'fax')]);
    assert.deepEqual(r.child().roots, r.roots);
    assert.equal(r.children.length, 1);
    assert.equal(r.log.matching(/absent here.*fax/).length, 1, 'said once, not at every look');
    r.event(`CREATE ${r.roots[0]}/a`);
    await r.advance(QUIET_MS + 20_000);
    assert.deepEqual(r.copies, [], 'no change copy while the job fails (its retry copies everything)');
    failing = false;
    await r.advance(5000);
    assert.deepEqual(r.copies, [[r.roots[0]]]);
  } finally {
    await r.done();
  }
});

test('a spool root absent at the start is looked for every minute, then watched and copied', async () => {
  const r = rig();
  try {
    const fax = path.join(r.dir, 'fax');
    r.watch.watch([...r.roots, fax]);
    r.child().on.ready();
    assert.deepEqual(r.child().roots, r.roots);
    await r.advance(ABSENT_RECHECK_MS);
    assert.equal(r.children.length, 1, 'still absent: the watcher is left alone');
    mkdirSync(fax);
    await r.advance(ABSENT_RECHECK_MS);
    assert.equal(r.children.length, 2, 'a new watcher once it appeared');
    assert.equal(r.children[0].stopped, true);
    assert.deepEqual(r.child().roots, [...r.roots, fax]);
    await r.advance(QUIET_MS);
    assert.deepEqual(r.copies, [[fax]], 'what it already holds is copied');
    r.children[0].on.exited('killed by SIGTERM');
    await r.advance(60_000);
    assert.equal(r.children.length, 2, "the old watcher's exit is not a death to restart");
    assert.deepEqual(r.alerts, []);
    assert.equal(r.log.matching(/spool directories appeared: .*fax/).length, 1);
  } finally {
    await r.done();
  }
});
