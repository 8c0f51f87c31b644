import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  backupFileName,
  backupsToDelete,
  isBackupFileName,
  newBackupPath,
  pruneBackups,
} from '../../../../src/jobs/db/backups';
import { ListingError, ownedSequencePatterns, parseListing } from '../../../../src/jobs/db/listing';

test('backup names sort by time and carry no colon', () => {
  const name = backupFileName(new Date('2026-11-22T03:29:35.123Z'));
  assert.equal(name, 'db-2026-11-22T03-29-35.123Z.sql');
  assert.equal(isBackupFileName(name), true);
  assert.equal(isBackupFileName(backupFileName(new Date(0), 2)), true);
  assert.equal(isBackupFileName('db-latest.sql'), false);
  assert.equal(isBackupFileName('.db-2026-11-22T03-29-35.123Z.sql.tmp-1-ab'), false);
});

test('the keep newest backups stay, and the one just made always stays', () => {
  const names = [
    'db-2026-01-01T00-00-00.000Z.sql',
    'db-2026-01-03T00-00-00.000Z.sql',
    'db-2026-01-02T00-00-00.000Z.sql',
    'other.txt',
  ];
  assert.deepEqual(
    backupsToDelete([...names, 'db-2026-01-04T00-00-00.000Z.sql'], 2, 'db-2026-01-04T00-00-00.000Z.sql'),
    ['db-2026-01-02T00-00-00.000Z.sql', 'db-2026-01-01T00-00-00.000Z.sql'],
  );
  // The clock went back: the new backup has the oldest name, yet it is kept.
  assert.deepEqual(
    backupsToDelete([...names, 'db-2025-01-01T00-00-00.000Z.sql'], 2, 'db-2025-01-01T00-00-00.000Z.sql'),
    ['db-2026-01-02T00-00-00.000Z.sql', 'db-2026-01-01T00-00-00.000Z.sql'],
  );
  assert.deepEqual(backupsToDelete(names, 1, 'db-2026-01-03T00-00-00.000Z.sql'), [
    'db-2026-01-02T00-00-00.000Z.sql',
    'db-2026-01-01T00-00-00.000Z.sql',
  ]);
  assert.deepEqual(backupsToDelete(names, 10, 'x'), []);
});

test('newBackupPath never reuses a name; pruneBackups removes only old backups', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-backups-'));
  try {
    const at = new Date('2026-11-22T03:29:35.123Z');
    const first = await newBackupPath(dir, at);
    writeFileSync(first, 'x');
    const second = await newBackupPath(dir, at);
    assert.equal(path.basename(second), 'db-2026-11-22T03-29-35.123Z-1.sql');
    writeFileSync(second, 'x');
    writeFileSync(path.join(dir, 'db-2026-01-01T00-00-00.000Z.sql'), 'x');
    writeFileSync(path.join(dir, 'notes.txt'), 'x');
    const removed = await pruneBackups(dir, 2, second);
    assert.deepEqual(removed, [path.join(dir, 'db-2026-01-01T00-00-00.000Z.sql')]);
    assert.deepEqual(readdirSync(dir).sort(), [
      'db-2026-11-22T03-29-35.123Z-1.sql',
      'db-2026-11-22T03-29-35.123Z.sql',
      'notes.txt',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseListing reads the JSON line and refuses anything else', () => {
  const l = parseListing(
    '{"tables" : [["public","cel",true],["other","x",false]], "sequences" : [["public","cel_id_seq","public","cel"]]}\n',
  );
  assert.deepEqual(l.tables, [
    { schema: 'public', name: 'cel', visible: true },
    { schema: 'other', name: 'x', visible: false },
  ]);
  assert.deepEqual(l.sequences, [
    { schema: 'public', name: 'cel_id_seq', owner: { schema: 'public', name: 'cel' } },
  ]);
  for (const bad of [
    '',
    'ERROR',
    '[]',
    '{"tables":[],"sequences":[["a"]]}',
    '{"tables":[["a","b","yes"]],"sequences":[]}',
    '{"tables":[]}',
  ]) {
    assert.throws(() => parseListing(bad), ListingError, JSON.stringify(bad));
  }
});

test('the sequences of excluded tables are left out too, by exact patterns', () => {
  const listing = parseListing(
    JSON.stringify({
      tables: [
        ['public', 'cel', true],
        ['public', 'userfeatures', true],
        ['public', 'stat_call', true],
      ],
      sequences: [
        ['public', 'cel_id_seq', 'public', 'cel'],
        ['public', 'userfeatures_id_seq', 'public', 'userfeatures'],
        ['public', 'Odd Seq', 'public', 'stat_call'],
      ],
    }),
  );
  assert.deepEqual(ownedSequencePatterns(listing, ['cel', 'stat_*']), [
    '"public"."cel_id_seq"',
    '"public"."Odd Seq"',
  ]);
  assert.deepEqual(ownedSequencePatterns(listing, []), []);
});
