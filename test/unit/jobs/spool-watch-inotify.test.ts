import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../src/adapters/system-clock';
import { SpoolWatch, type SpoolChanges } from '../../../src/jobs/spool-watch';
import { RecordingLogger } from '../../fakes/logger';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('with the real inotifywait and clock, a burst of 1000 files in a new directory is a few copies of its root', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'spool-inotify-'));
  const roots = [path.join(dir, 'voicemail'), path.join(dir, 'monitor')];
  for (const r of roots) mkdirSync(r);
  const log = new RecordingLogger();
  const copies: (SpoolChanges | null)[] = [];
  const watch: SpoolWatch = new SpoolWatch({
    clock: systemClock,
    log,
    alert: (m) => assert.fail(`unexpected alert: ${m}`),
    failing: () => false,
    copy: async () => {
      copies.push(watch.takeChanges());
      await sleep(300); // an rsync's worth of time: changes meanwhile wait for the next copy
    },
  });
  try {
    watch.watch(roots);
    await until(() => watch.state().watching, 'the watches');
    const inbox = path.join(roots[0], 'default', '1001', 'INBOX');
    mkdirSync(inbox, { recursive: true });
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(inbox, `msg${i}.txt`), `${i}\n`);
    await until(() => copies.length > 0, 'the first copy');
    await sleep(2500); // quiet: any last copy of the burst has run
    assert.ok(copies.length >= 1 && copies.length <= 5, `${copies.length} copies`);
    for (const c of copies) assert.deepEqual(c, [roots[0]], 'only the root that changed');
  } finally {
    await watch.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
