// A crafted astdb from the peer (issue: "A crafted astdb freezes the agent"): refused by its
// schema before any row is read, and every check of a peer's file runs off the event loop, with
// a time limit, while the agent's timers keep firing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { checkAstdb } from '../../../../src/jobs/astdb/digest';
import { inspectAstdb } from '../../../../src/jobs/astdb/inspect';
import { installAstdb } from '../../../../src/jobs/astdb/install';
import { ASTDB_SCHEMA, makeAstdb, rowsTagged } from './helpers';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'pbx-ha-crafted-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function craft(name: string, sql: string): string {
  const file = path.join(root, `${name}.sqlite3`);
  const db = new Database(file);
  db.exec(sql);
  db.close();
  return file;
}

/** Runs `work` while a 10 ms timer runs on the main loop; returns its result, the ticks and the longest gap between them. */
async function whileTicking<T>(
  work: () => Promise<T>,
): Promise<{ result: T; ticks: number; longestGapMs: number }> {
  let last = performance.now();
  let ticks = 0;
  let longestGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  try {
    const result = await work();
    longestGapMs = Math.max(longestGapMs, performance.now() - last);
    return { result, ticks, longestGapMs };
  } finally {
    clearInterval(timer);
  }
}

async function installFrom(staged: string, name: string) {
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, 'astdb.sqlite3');
  makeAstdb(target, rowsTagged(3, 'mine'));
  return {
    target,
    run: () =>
      installAstdb({
        stagedPath: staged,
        targetPath: target,
        backupDir: path.join(dir, 'backup'),
        keep: 2,
        madeBy: 'pbx1',
        thisNode: 'pbx2',
      }),
  };
}

test('a recursive VIEW named astdb is refused at once, and the timers keep firing meanwhile', async () => {
  const staged = craft(
    'recursive',
    'CREATE VIEW astdb AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS key, x AS value FROM c',
  );
  const { target, run } = await installFrom(staged, 'recursive-target');
  const before = await fs.readFile(target);
  const started = performance.now();
  const { result, longestGapMs } = await whileTicking(() =>
    run().then(
      () => 'installed',
      (e: Error) => e.message,
    ),
  );
  const tookMs = performance.now() - started;
  assert.match(result, /astdb install refused: .*"astdb" is not Asterisk's table/);
  assert.ok(tookMs < 10_000, `refused in ${tookMs} ms`);
  assert.ok(
    longestGapMs < 1000,
    `the main loop's timer fired during the check (longest gap ${longestGapMs.toFixed(0)} ms)`,
  );
  assert.deepEqual(await fs.readFile(target), before, 'the slave keeps its astdb');
  // The synchronous check used elsewhere (the node's own file) reads the schema first too.
  const check = checkAstdb(staged);
  assert.equal(check.ok, false);
});

test("a finite VIEW named astdb, triggers and other objects are refused: only Asterisk's table is an astdb", async () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'finite-view',
      "CREATE TABLE t(key, value); INSERT INTO t VALUES ('/a', '1'); CREATE VIEW astdb AS SELECT key, value FROM t",
      /"astdb" is not Asterisk's table/,
    ],
    [
      'trigger',
      `${ASTDB_SCHEMA}; CREATE TABLE log(x); CREATE TRIGGER t AFTER INSERT ON astdb BEGIN INSERT INTO log VALUES (NEW.key); END`,
      /objects an astdb does not have: .*trigger "t"/,
    ],
    [
      'extra-table',
      `${ASTDB_SCHEMA}; CREATE TABLE other(x)`,
      /objects an astdb does not have: table "other"/,
    ],
    [
      'extra-index',
      `${ASTDB_SCHEMA}; CREATE INDEX v ON astdb(value)`,
      /objects an astdb does not have: index "v"/,
    ],
    [
      'other-columns',
      'CREATE TABLE astdb(key TEXT PRIMARY KEY, value TEXT, extra TEXT)',
      /"astdb" is not Asterisk's table/,
    ],
  ];
  for (const [name, sql, problem] of cases) {
    const staged = craft(name, sql);
    const { run } = await installFrom(staged, `${name}-target`);
    await assert.rejects(run(), problem, name);
    const check = checkAstdb(staged);
    assert.equal(check.ok, false, name);
  }
});

test("the check of a peer's file runs off the event loop, with a time limit", async () => {
  // Large enough that a check on the main loop would hold it for a long moment.
  const big = path.join(root, 'big.sqlite3');
  makeAstdb(
    big,
    Array.from(
      { length: 600_000 },
      (_, i) => [`/big/key/${i}`, `value-${i}-${'x'.repeat(40)}`] as [string, string],
    ),
  );
  const { result, ticks, longestGapMs } = await whileTicking(() => inspectAstdb(big));
  assert.equal(result.ok, true);
  assert.ok(result.ok && result.keys === 600_000);
  process.stderr.write(
    `# inspect of 600,000 keys: ${ticks} ticks of a 10 ms timer, longest gap ${longestGapMs.toFixed(0)} ms\n`,
  );
  assert.ok(
    longestGapMs < 750,
    `the main loop's timer kept firing (longest gap ${longestGapMs.toFixed(0)} ms)`,
  );
  const { run } = await installFrom(big, 'big-target');
  const install = await whileTicking(run);
  process.stderr.write(`# install of 600,000 keys: longest gap ${install.longestGapMs.toFixed(0)} ms\n`);
  assert.ok(
    install.longestGapMs < 750,
    `the main loop's timer kept firing during the install (longest gap ${install.longestGapMs.toFixed(0)} ms)`,
  );
  const limited = await inspectAstdb(big, 1);
  assert.deepEqual(limited, { ok: false, problem: `${big}: checking it took longer than 1 ms (stopped)` });
});
