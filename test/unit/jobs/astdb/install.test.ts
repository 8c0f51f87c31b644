import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { checkAstdb, contentDigest } from '../../../../src/jobs/astdb/digest';
import { installAstdb } from '../../../../src/jobs/astdb/install';
import { readProvenance, writeProvenance } from '../../../../src/jobs/astdb/provenance';
import { takeSnapshot } from '../../../../src/jobs/astdb/snapshot';
import {
  killAllWriters,
  listDir,
  makeAstdb,
  makeFreelistDamagedAstdb,
  rowsTagged,
  runWriter,
  startWriter,
  waitForWrites,
  WRITER_BLOCKED_BOUND_MS,
  writerProgress,
} from './helpers';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'pbx-ha-install-'));
});
after(async () => {
  killAllWriters();
  await fs.rm(root, { recursive: true, force: true });
});

/** A slave-like layout: Asterisk's directory, the staging area and the backup directory. */
async function layout(name: string) {
  const base = path.join(root, name);
  const asterisk = path.join(base, 'var/lib/asterisk');
  const incoming = path.join(base, 'var/lib/pbx-ha/exchange/incoming/astdb');
  const backupDir = path.join(base, 'var/lib/pbx-ha/backup/astdb');
  await fs.mkdir(asterisk, { recursive: true });
  await fs.mkdir(incoming, { recursive: true });
  return {
    target: path.join(asterisk, 'astdb.sqlite3'),
    asterisk,
    staged: path.join(incoming, 'astdb.sqlite3'),
    backupDir,
  };
}

/** A clock that moves one minute per reading, from 2025-01-01 at noon. */
function steppingClock() {
  let t = Date.parse('2025-01-01T12:00:00Z');
  return () => new Date((t += 60_000));
}

test('install keeps each replaced file with its record, prunes to keep, and records where the new one comes from', async () => {
  const { target, staged, backupDir } = await layout('keep');
  const now = steppingClock();
  makeAstdb(target, rowsTagged(300, 'asterisk')); // Asterisk's own file, no record
  const digests = [contentDigest(target)];

  for (let version = 1; version <= 4; version++) {
    await fs.rm(staged, { force: true });
    makeAstdb(staged, rowsTagged(300, `v${version}`));
    const result = await installAstdb({
      stagedPath: staged,
      targetPath: target,
      backupDir,
      keep: 2,
      madeBy: 'pbx1',
      thisNode: 'pbx2',
      now,
    });
    const digest = contentDigest(staged);
    assert.equal(result.digest, digest);
    assert.equal(contentDigest(target), digest, `version ${version} is in place`);
    assert.equal(result.replaced?.digest, digests[version - 1], 'the replaced file is kept');
    assert.equal(
      contentDigest(result.replaced!.backupPath),
      digests[version - 1],
      'the kept file has the replaced content',
    );
    assert.ok((await fs.stat(staged)).isFile(), 'the staged copy stays in the staging area');
    const record = await readProvenance(target);
    assert.deepEqual(
      { ...record, madeAtWall: undefined },
      { digest, madeBy: 'pbx1', basedOn: digests[version - 1], madeAtWall: undefined },
    );
    if (version === 1) {
      // Asterisk's own file had no record: it is kept as made here, based on nothing known.
      const first = await readProvenance(result.replaced!.backupPath);
      assert.deepEqual(
        { ...first, madeAtWall: undefined },
        { digest: digests[0], madeBy: 'pbx2', basedOn: null, madeAtWall: undefined },
      );
    }
    digests.push(digest);
  }

  const names = await listDir(backupDir);
  assert.equal(names.length, 4, `two files and their records: ${names.join(' ')}`);
  const kept = names.filter((n) => n.endsWith('.sqlite3'));
  assert.deepEqual(
    kept.map((n) => n.slice(-17, -8)),
    [digests[2], digests[3]].map((d) => `-${d.slice(0, 8)}`),
    'the two newest replaced files',
  );
  for (const name of kept) {
    assert.match(name, /^astdb-2025-01-01T12-\d\d-00\.000Z-[0-9a-f]{8}\.sqlite3$/);
    const file = path.join(backupDir, name);
    const record = await readProvenance(file);
    assert.equal(record?.digest, contentDigest(file), `${name}: its record describes it`);
    assert.equal(record?.madeBy, 'pbx1', 'an unchanged installed copy keeps its record');
  }
  assert.deepEqual(await listDir(path.dirname(target)), ['astdb.sqlite3', 'astdb.sqlite3.pbx-ha.json']);
});

test('a target changed by Asterisk since its install is kept with a record saying so', async () => {
  const { target, staged, backupDir } = await layout('changed');
  makeAstdb(target, rowsTagged(50, 'installed'));
  const installed = contentDigest(target);
  await writeProvenance(target, {
    digest: installed,
    madeBy: 'pbx1',
    madeAtWall: '2025-01-01T00:00:00.000Z',
    basedOn: null,
  });
  const db = new Database(target);
  db.prepare('INSERT INTO astdb VALUES (?, ?)').run('/registrar/contact/phone1', 'sip:1@192.0.2.10');
  db.close();
  const changed = contentDigest(target);
  makeAstdb(staged, rowsTagged(50, 'next'));

  const result = await installAstdb({
    stagedPath: staged,
    targetPath: target,
    backupDir,
    keep: 3,
    madeBy: 'pbx1',
    thisNode: 'pbx2',
  });
  assert.equal(result.replaced?.digest, changed);
  const record = await readProvenance(result.replaced!.backupPath);
  assert.equal(record?.digest, changed);
  assert.equal(record?.madeBy, 'pbx2', 'changed here');
  assert.equal(record?.basedOn, installed, 'on top of the copy that was installed');
  assert.equal((await readProvenance(target))?.basedOn, changed);
});

test('a staged copy with damaged pages, truncated, or not matching its record is refused; the target stays byte-identical', async () => {
  const { target, staged, backupDir } = await layout('corrupt');
  makeAstdb(target, rowsTagged(2000, 'current'));
  await writeProvenance(target, {
    digest: contentDigest(target),
    madeBy: 'pbx1',
    madeAtWall: '2025-01-01T00:00:00.000Z',
    basedOn: null,
  });
  const before = await fs.readFile(target);
  const recordBefore = await fs.readFile(`${target}.pbx-ha.json`);

  const good = path.join(root, 'good.sqlite3');
  makeAstdb(good, rowsTagged(2000, 'incoming'));

  const damage: Record<string, () => Promise<void>> = {
    'random bytes over page 2': async () => {
      await fs.copyFile(good, staged);
      const handle = await fs.open(staged, 'r+');
      await handle.write(randomBytes(4096), 0, 4096, 4096);
      await handle.close();
    },
    'truncated to half': async () => {
      await fs.copyFile(good, staged);
      await fs.truncate(staged, Math.floor((await fs.stat(good)).size / 2));
    },
    'zero bytes': async () => {
      await fs.writeFile(staged, '');
    },
  };
  // Only integrity_check sees this one: every row reads back, the freelist is broken.
  const freelistDamaged = path.join(root, 'freelist-damaged.sqlite3');
  await makeFreelistDamagedAstdb(freelistDamaged, rowsTagged(3000, 'incoming'));
  damage['a damaged freelist'] = async () => {
    await fs.copyFile(freelistDamaged, staged);
  };
  const because: Record<string, RegExp> = {
    'a damaged freelist': /not a sound astdb: .*: integrity_check: .*Freelist: /s,
  };
  for (const [name, spoil] of Object.entries(damage)) {
    await spoil();
    await assert.rejects(
      installAstdb({ stagedPath: staged, targetPath: target, backupDir, keep: 2, madeBy: 'pbx1' }),
      (err: Error) => {
        assert.match(err.message, /astdb install refused: the staged copy is not a sound astdb/, name);
        if (because[name]) assert.match(err.message, because[name], name);
        assert.ok(
          err.message.includes(staged) && err.message.includes(`${target} left untouched`),
          err.message,
        );
        return true;
      },
      name,
    );
    assert.deepEqual(await fs.readFile(target), before, `${name}: target byte-identical`);
  }

  await fs.copyFile(good, staged);
  await writeProvenance(staged, {
    digest: 'f'.repeat(64),
    madeBy: 'pbx1',
    madeAtWall: '2025-01-01T00:00:00.000Z',
    basedOn: null,
  });
  await assert.rejects(
    installAstdb({ stagedPath: staged, targetPath: target, backupDir, keep: 2, madeBy: 'pbx1' }),
    /describes content ffffffff/,
  );

  assert.deepEqual(await fs.readFile(target), before, 'target byte-identical');
  assert.deepEqual(await fs.readFile(`${target}.pbx-ha.json`), recordBefore, 'its record too');
  assert.deepEqual(
    await listDir(path.dirname(target)),
    ['astdb.sqlite3', 'astdb.sqlite3.pbx-ha.json'],
    'no .pbx-ha-new left',
  );
  assert.deepEqual(await listDir(backupDir), [], 'nothing replaced, nothing kept');
});

test('the installed file takes the owner and mode of the file it replaces', async (t) => {
  const { target, staged, backupDir } = await layout('owner');
  makeAstdb(target, rowsTagged(10, 'old'));
  await fs.chmod(target, 0o640);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await fs.chown(target, 4321, 4322);
  else t.diagnostic('not root: owner not checked, only mode');
  makeAstdb(staged, rowsTagged(10, 'new'));
  await fs.chmod(staged, 0o644);
  await installAstdb({ stagedPath: staged, targetPath: target, backupDir, keep: 1, madeBy: 'pbx1' });
  const st = await fs.stat(target);
  assert.equal(st.mode & 0o7777, 0o640);
  if (asRoot) assert.deepEqual([st.uid, st.gid], [4321, 4322]);
  assert.equal(contentDigest(target), contentDigest(staged));
});

test('a WAL left by a killed Asterisk: its writes are in the kept file, and it is not applied to the new one', async () => {
  const { target, staged, backupDir } = await layout('wal');
  const writer = startWriter(['--path', target, '--every', '2ms', '--journal', 'wal']);
  await waitForWrites(target, 50);
  writer.child.kill('SIGKILL');
  await new Promise((r) => writer.child.once('close', r));
  assert.ok((await fs.stat(`${target}-wal`)).size > 0, 'the killed writer left a WAL');
  // What the killed writer had committed: read from a scratch copy of the three files.
  const scratch = path.join(root, 'wal-scratch.sqlite3');
  for (const suffix of ['', '-wal', '-shm']) await fs.copyFile(target + suffix, scratch + suffix);
  const committed = contentDigest(scratch);

  makeAstdb(staged, rowsTagged(100, 'new'));
  const result = await installAstdb({
    stagedPath: staged,
    targetPath: target,
    backupDir,
    keep: 2,
    madeBy: 'pbx1',
  });
  assert.equal(result.replaced?.digest, committed, 'the kept file has every write the WAL held');
  assert.equal(contentDigest(result.replaced!.backupPath), committed);
  assert.deepEqual(checkAstdb(target), { ok: true, keys: 100 });
  assert.equal(contentDigest(target), contentDigest(staged), 'the old WAL was not applied to the new file');
  assert.deepEqual(await listDir(path.dirname(target)), ['astdb.sqlite3', 'astdb.sqlite3.pbx-ha.json']);
});

test('a hot journal left by a crash: the kept file is the content before the interrupted transaction', async () => {
  const { target, staged, backupDir } = await layout('hot-journal');
  const live = path.join(root, 'hot-live.sqlite3');
  makeAstdb(live, rowsTagged(5000, 'committed'));
  const committed = contentDigest(live);
  // A transaction bigger than the page cache writes pages into the file before COMMIT; copying
  // the file and its journal at that moment is what a power cut leaves behind.
  const db = new Database(live);
  db.pragma('cache_size = 5');
  db.exec('BEGIN');
  db.exec("UPDATE astdb SET value = value || '-half-done'");
  await fs.copyFile(live, target);
  await fs.copyFile(`${live}-journal`, `${target}-journal`);
  db.exec('ROLLBACK');
  db.close();
  const alone = path.join(root, 'hot-alone.sqlite3');
  await fs.copyFile(target, alone);
  assert.notEqual(
    checkAstdb(alone).ok && contentDigest(alone),
    committed,
    'the file alone is not the committed content',
  );

  makeAstdb(staged, rowsTagged(10, 'new'));
  const result = await installAstdb({
    stagedPath: staged,
    targetPath: target,
    backupDir,
    keep: 2,
    madeBy: 'pbx1',
  });
  assert.equal(result.replaced?.digest, committed);
  assert.equal(result.replaced?.problem, undefined);
  assert.equal(
    contentDigest(target),
    contentDigest(staged),
    'the old journal was not applied to the new file',
  );
  assert.deepEqual(await listDir(path.dirname(target)), ['astdb.sqlite3', 'astdb.sqlite3.pbx-ha.json']);
});

test('a target that is not a readable astdb is replaced and kept byte for byte', async () => {
  const { target, staged, backupDir } = await layout('unreadable');
  const junk = randomBytes(10_000);
  await fs.writeFile(target, junk);
  makeAstdb(staged, rowsTagged(10, 'new'));
  const result = await installAstdb({
    stagedPath: staged,
    targetPath: target,
    backupDir,
    keep: 2,
    madeBy: 'pbx1',
  });
  assert.ok(result.replaced?.problem, 'the problem is reported');
  assert.deepEqual(await fs.readFile(result.replaced!.backupPath), junk);
  const record = await readProvenance(result.replaced!.backupPath);
  assert.match(record?.problem ?? '', /not a database/);
  assert.equal((await readProvenance(target))?.basedOn, null);
  assert.deepEqual(checkAstdb(target), { ok: true, keys: 10 });
});

test("100 000 keys: a snapshot taken while the master's writer runs, installed over a 100 000-key target: consistent, the old file kept, the writer never held up long", async (t) => {
  const { target, backupDir } = await layout('big');
  const source = path.join(root, 'big-master.sqlite3');
  assert.equal(await runWriter(['--path', source, '--fill', '100000', '--prefix', 'master']), '100000');
  assert.equal(await runWriter(['--path', target, '--fill', '100000', '--prefix', 'slave']), '100000');
  const slaveDigest = contentDigest(target);
  const incoming = path.join(path.dirname(path.dirname(backupDir)), 'exchange/incoming/astdb/astdb.sqlite3');

  const writer = startWriter(['--path', source, '--every', '2ms', '--prefix', 'master', '--stats', 'yes']);
  await waitForWrites(source, 100_010, 'master');
  let started = performance.now();
  const snap = await takeSnapshot(source, incoming);
  const snapshotMs = performance.now() - started;
  const { last: lastWritten, longestWriteMs } = await writer.stopWithStats();
  const copied = writerProgress(incoming, 'master');
  assert.equal(copied.seqKeys, copied.last, 'the copy is consistent: each write whole or not at all');
  assert.ok(
    copied.last >= 100_010 && copied.last <= lastWritten,
    `the copy holds writes up to ${copied.last} (writer at ${lastWritten})`,
  );
  assert.ok(
    longestWriteMs < WRITER_BLOCKED_BOUND_MS,
    `the writer's longest write took ${longestWriteMs} ms (bound ${WRITER_BLOCKED_BOUND_MS} ms)`,
  );

  started = performance.now();
  const result = await installAstdb({
    stagedPath: incoming,
    targetPath: target,
    backupDir,
    keep: 2,
    madeBy: 'pbx1',
  });
  const installMs = performance.now() - started;
  assert.equal(contentDigest(target), snap.digest, 'the target holds what was copied');
  assert.deepEqual(checkAstdb(target), { ok: true, keys: copied.last + 1 });
  assert.equal(result.keys, copied.last + 1);
  assert.deepEqual(writerProgress(target, 'master'), copied);
  assert.equal(writerProgress(target, 'slave').seqKeys, 0, 'none of the replaced keys left in the new file');
  // The replaced 100 000 keys are kept whole.
  assert.equal(result.replaced?.digest, slaveDigest);
  assert.equal(contentDigest(result.replaced!.backupPath), slaveDigest);
  assert.deepEqual(checkAstdb(result.replaced!.backupPath), { ok: true, keys: 100_001 });
  assert.equal((await readProvenance(target))?.digest, snap.digest);
  t.diagnostic(
    `100 000 keys: snapshot ${snapshotMs.toFixed(0)} ms under a writer every 2 ms (its longest write ${longestWriteMs} ms), install ${installMs.toFixed(0)} ms (check, copy beside target, backup of the replaced 100 000 keys, rename, records)`,
  );
});

test('keep below 1 is refused before anything is touched', async () => {
  const { target, staged, backupDir } = await layout('keep0');
  makeAstdb(staged, rowsTagged(1, 'x'));
  await assert.rejects(
    installAstdb({ stagedPath: staged, targetPath: target, backupDir, keep: 0, madeBy: 'pbx1' }),
    /keep is 0/,
  );
  await assert.rejects(fs.stat(target));
});
