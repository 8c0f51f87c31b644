// The merge child (jobs/astdb/merge.ts): real astdb files in, a real astdb out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { contentDigest } from '../../../../src/jobs/astdb/digest';
import {
  conflictsFilePath,
  keepMergeBase,
  mergeAstdb,
  mergeBasePath,
  pruneConflictFiles,
} from '../../../../src/jobs/astdb/merge';
import { makeAstdb, ASTDB_SCHEMA } from './helpers';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'pbx-ha-merge-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function rows(file: string): Array<[unknown, unknown]> {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare('SELECT key, value FROM astdb ORDER BY key')
      .raw(true)
      .safeIntegers(true)
      .all() as Array<[unknown, unknown]>;
  } finally {
    db.close();
  }
}

test('merge child: both sides kept, typed values written back exactly (a blob stays a blob), losers in the conflicts file', async (t) => {
  const d = dir(t);
  const base = path.join(d, 'base.sqlite3');
  const master = path.join(d, 'master.sqlite3');
  const slave = path.join(d, 'slave.sqlite3');
  makeAstdb(base, [
    ['/a', '1'],
    ['/b', '2'],
  ]);
  makeAstdb(master, [
    ['/a', 'a-m'],
    ['/b', '2'],
    ['/m', 'late'],
  ]);
  const db = new Database(slave);
  db.exec(ASTDB_SCHEMA);
  db.prepare('INSERT INTO astdb VALUES (?, ?)').run('/a', 'a-s');
  db.prepare('INSERT INTO astdb VALUES (?, ?)').run('/int', 9007199254740993n);
  db.prepare('INSERT INTO astdb VALUES (?, ?)').run('/blob', Buffer.from([0, 1, 255]));
  db.close(); // the slave deleted /b
  const out = path.join(d, 'out.sqlite3');
  const conflictsFile = path.join(d, 'conflicts.json');
  const a = await mergeAstdb({
    base,
    baseDigest: contentDigest(base),
    master,
    slave,
    out,
    conflictsFile,
    winner: 'slave',
  });
  assert.equal(a.baseIgnored, null);
  assert.deepEqual(rows(out), [
    ['/a', 'a-s'],
    ['/blob', Buffer.from([0, 1, 255])],
    ['/int', '9007199254740993'], // VARCHAR affinity: SQLite stored the integer as text
    ['/m', 'late'],
  ]);
  assert.equal(a.digest, contentDigest(out));
  assert.equal(a.conflicts, 1);
  assert.deepEqual(JSON.parse(readFileSync(conflictsFile, 'utf8')).conflicts, [
    { key: '/a', base: '1', master: 'a-m', slave: 'a-s', kept: 'slave' },
  ]);
});

test('merge child: a base that is not the last copy exchanged is not trusted (union, nothing deleted)', async (t) => {
  const d = dir(t);
  const base = path.join(d, 'base.sqlite3');
  const master = path.join(d, 'master.sqlite3');
  const slave = path.join(d, 'slave.sqlite3');
  makeAstdb(base, [
    ['/a', '1'],
    ['/b', '2'],
  ]);
  makeAstdb(master, [['/a', '1']]);
  makeAstdb(slave, [['/b', '2']]);
  const out = path.join(d, 'out.sqlite3');
  const a = await mergeAstdb({
    base,
    baseDigest: 'f'.repeat(64),
    master,
    slave,
    out,
    conflictsFile: path.join(d, 'c.json'),
    winner: 'slave',
  });
  assert.match(a.baseIgnored ?? '', /not the last copy exchanged/);
  assert.deepEqual(rows(out), [
    ['/a', '1'],
    ['/b', '2'],
  ]);
});

test('merge child: a slave file that is not an astdb is refused with why', async (t) => {
  const d = dir(t);
  const slave = path.join(d, 'slave.sqlite3');
  writeFileSync(slave, 'not a database at all');
  await assert.rejects(
    mergeAstdb({
      base: null,
      baseDigest: null,
      master: null,
      slave,
      out: path.join(d, 'o'),
      conflictsFile: path.join(d, 'c'),
      winner: 'slave',
    }),
    /the astdb merge failed: .*slave\.sqlite3/,
  );
});

test('merge base: one file, replaced; conflicts files pruned to keep_backups', async (t) => {
  const d = dir(t);
  const a = path.join(d, 'a.sqlite3');
  const b = path.join(d, 'b.sqlite3');
  makeAstdb(a, [['/a', '1']]);
  makeAstdb(b, [['/b', '2']]);
  await keepMergeBase(a, d);
  await keepMergeBase(b, d);
  assert.equal(contentDigest(mergeBasePath(d)), contentDigest(b));
  assert.deepEqual(
    readdirSync(d).filter((f) => f.startsWith('astdb-merge-base')),
    ['astdb-merge-base.sqlite3'],
  );
  for (let i = 0; i < 5; i++)
    writeFileSync(conflictsFilePath(d, new Date(Date.UTC(2026, 0, 1, 0, 0, i))), '{}');
  await pruneConflictFiles(d, 2);
  assert.deepEqual(
    readdirSync(d).filter((f) => f.startsWith('astdb-conflicts-')),
    ['astdb-conflicts-2026-01-01T00-00-03-000Z.json', 'astdb-conflicts-2026-01-01T00-00-04-000Z.json'],
  );
});
