import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PbxHaConfig } from '../../../../src/config/types';
import { dbBackupDir } from '../../../../src/jobs/db-settings';

const mode = (p: string) => statSync(p).mode & 0o7777;

test('dbBackupDir: a backup area created 0700 by the astdb backups lets the postgres user through, nothing more', () => {
  const top = mkdtempSync(path.join(tmpdir(), 'pbx-ha-backup-dir-'));
  try {
    const backup = path.join(top, 'backup');
    // What an astdb backup leaves when it comes first: the area and its own kind, root-only.
    mkdirSync(path.join(backup, 'astdb'), { recursive: true, mode: 0o700 });
    const config = { replication: { backupDir: backup } } as unknown as PbxHaConfig;
    const dir = dbBackupDir(config);
    assert.equal(dir, path.join(backup, 'db'));
    assert.equal(mode(backup), 0o701, 'others may enter the area, not list it');
    assert.equal(mode(dir), 0o711);
    assert.equal(mode(path.join(backup, 'astdb')), 0o700, 'the astdb backups stay root-only');
    // Called again (every copy): nothing changes.
    dbBackupDir(config);
    assert.equal(mode(backup), 0o701);
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
});
