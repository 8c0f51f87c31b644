import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { checkAstdb, contentDigest, EMPTY_CONTENT_DIGEST } from '../../../../src/jobs/astdb/digest';
import { makeAstdb, makeFreelistDamagedAstdb, rowsTagged } from './helpers';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pbx-ha-digest-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('same rows inserted in different orders and laid out differently: same digest, different bytes', async () => {
  const rows = rowsTagged(3000, 'v1');
  const shuffled = [...rows].sort(() => Math.random() - 0.5);
  const a = path.join(dir, 'ordered.sqlite3');
  const b = path.join(dir, 'shuffled.sqlite3');
  const c = path.join(dir, 'reversed-1k-pages-wal.sqlite3');
  makeAstdb(a, rows);
  makeAstdb(b, shuffled);
  makeAstdb(c, [...rows].reverse(), { pageSize: 1024, journal: 'wal' });
  const [bytesA, bytesB, bytesC] = await Promise.all([a, b, c].map((f) => fs.readFile(f)));
  assert.notDeepEqual(bytesA, bytesB, 'the insertion order changes the page layout');
  assert.notEqual(bytesA.length, bytesC.length, 'another page size makes another file');
  const digest = contentDigest(a);
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.equal(contentDigest(b), digest);
  assert.equal(contentDigest(c), digest);
});

test('one value changed, one row more or less, or a byte moved between key and value: another digest', () => {
  const base = rowsTagged(100, 'v1');
  const variants: Record<string, Array<[string, string]>> = {
    base,
    valueChanged: base.map(([k, v], i) => [k, i === 57 ? `${v}x` : v]),
    rowRemoved: base.slice(1),
    rowAdded: [...base, ['/test/extra', '']],
  };
  const digests = Object.entries(variants).map(([name, rows]) => {
    const file = path.join(dir, `variant-${name}.sqlite3`);
    makeAstdb(file, rows);
    return contentDigest(file);
  });
  assert.equal(new Set(digests).size, digests.length, 'every variant has its own digest');

  // ('/a/b', 'c') and ('/a/', 'bc') concatenate to the same text: the length prefixes tell them apart.
  const ab = path.join(dir, 'split-1.sqlite3');
  const a = path.join(dir, 'split-2.sqlite3');
  makeAstdb(ab, [['/a/b', 'c']]);
  makeAstdb(a, [['/a/', 'bc']]);
  assert.notEqual(contentDigest(ab), contentDigest(a));
});

test('an astdb with no rows has the well-known empty digest', () => {
  const file = path.join(dir, 'empty.sqlite3');
  makeAstdb(file, []);
  assert.equal(contentDigest(file), EMPTY_CONTENT_DIGEST);
});

test('checkAstdb: a sound astdb and its key count', () => {
  const file = path.join(dir, 'sound.sqlite3');
  makeAstdb(file, rowsTagged(42, 'v1'));
  assert.deepEqual(checkAstdb(file), { ok: true, keys: 42 });
});

test('checkAstdb: refuses a missing file, garbage, an empty file, a database without the astdb table, damaged pages', async () => {
  const garbage = path.join(dir, 'garbage.sqlite3');
  await fs.writeFile(garbage, Buffer.alloc(8192, 0x41));
  const empty = path.join(dir, 'zero-bytes.sqlite3');
  await fs.writeFile(empty, '');
  const other = path.join(dir, 'other-table.sqlite3');
  const db = new Database(other);
  db.exec('CREATE TABLE things(id INTEGER PRIMARY KEY)');
  db.close();
  const noValue = path.join(dir, 'no-value.sqlite3');
  const db2 = new Database(noValue);
  db2.exec('CREATE TABLE astdb(key VARCHAR(256) PRIMARY KEY, val TEXT)');
  db2.close();
  const damaged = path.join(dir, 'damaged.sqlite3');
  makeAstdb(damaged, rowsTagged(2000, 'v1'));
  const handle = await fs.open(damaged, 'r+');
  await handle.write(Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 3); // page 4: inside the table or index
  await handle.close();

  const cases: Array<[string, RegExp]> = [
    [path.join(dir, 'missing.sqlite3'), /cannot be opened/],
    [garbage, /not a database/],
    [empty, /no table "astdb"/],
    [other, /no table "astdb"/],
    [noValue, /not Asterisk.s table/],
    // integrity_check itself stops on this damage: SQLite reports the file malformed.
    [damaged, /: database disk image is malformed$/],
  ];
  for (const [file, problem] of cases) {
    const result = checkAstdb(file);
    assert.equal(result.ok, false, `${path.basename(file)} must be refused`);
    if (!result.ok) {
      assert.match(result.problem, problem, path.basename(file));
      assert.ok(result.problem.includes(file), `the problem names the file: ${result.problem}`);
    }
  }
});

test("checkAstdb: a damaged freelist, which every ordinary read passes over, is refused on integrity_check's own verdict", async () => {
  const file = path.join(dir, 'freelist-damaged.sqlite3');
  const kept = await makeFreelistDamagedAstdb(file, rowsTagged(3000, 'v1'));
  // Plain reads succeed: a check that only read the rows would take this file for sound.
  const sound = path.join(dir, 'freelist-damaged-rows.sqlite3');
  makeAstdb(sound, kept);
  assert.equal(contentDigest(file), contentDigest(sound), 'the damaged file reads as its rows');
  const db = new Database(file, { readonly: true });
  try {
    assert.equal((db.prepare('SELECT count(*) AS n FROM astdb').get() as { n: number }).n, kept.length);
  } finally {
    db.close();
  }
  const result = checkAstdb(file);
  assert.equal(result.ok, false, 'refused');
  if (!result.ok) {
    assert.match(
      result.problem,
      /: integrity_check: .*Freelist: /s,
      "the reason is integrity_check's report of the freelist",
    );
    assert.ok(result.problem.startsWith(`${file}: `), result.problem);
  }
});
