import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StateStore } from '../../../src/adapters/state-store';

test('state.db and its -wal and -shm are readable by root only, also when an older file was 0644', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-state-'));
  const old = process.umask(0o022);
  try {
    const file = path.join(dir, 'state.db');
    const store = new StateStore(file);
    store.add({ atWallMs: Date.now(), kind: 'job', summary: 'db copy failed: …', ok: false });
    for (const f of [file, `${file}-wal`, `${file}-shm`])
      assert.equal(statSync(f).mode & 0o777, 0o600, path.basename(f));
    const older = path.join(dir, 'older.db');
    writeFileSync(older, '', { mode: 0o644 });
    new StateStore(older).add({ atWallMs: Date.now(), kind: 'job', summary: 'x', ok: true });
    assert.equal(statSync(older).mode & 0o777, 0o600);
  } finally {
    process.umask(old);
    rmSync(dir, { recursive: true, force: true });
  }
});
