import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkAstdb, contentDigest } from '../../../../src/jobs/astdb/digest';
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

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pbx-ha-snapshot-'));
});
after(async () => {
  killAllWriters();
  await fs.rm(dir, { recursive: true, force: true });
});

test('a snapshot has the same content as its source, and nothing else is left in the destination directory', async () => {
  const source = path.join(dir, 'plain.sqlite3');
  makeAstdb(source, rowsTagged(500, 'v1'));
  const outDir = path.join(dir, 'out-plain');
  await fs.mkdir(outDir);
  const dest = path.join(outDir, 'astdb.sqlite3');
  const info = await takeSnapshot(source, dest);
  assert.equal(info.path, dest);
  assert.equal(info.keys, 500);
  assert.equal(info.digest, contentDigest(source));
  assert.equal(info.digest, contentDigest(dest));
  assert.equal(info.bytes, (await fs.stat(dest)).size);
  assert.deepEqual(await listDir(outDir), ['astdb.sqlite3']);
});

for (const journal of ['delete', 'wal'] as const) {
  test(`20 snapshots in a row while a writer adds a key every 2 ms (journal ${journal}): each sound, consistent, never fewer keys`, async (t) => {
    const source = path.join(dir, `live-${journal}.sqlite3`);
    const dest = path.join(dir, `live-${journal}-copy.sqlite3`);
    const writer = startWriter(['--path', source, '--every', '2ms', '--journal', journal]);
    await waitForWrites(source, 20);

    const seen: number[] = [];
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const info = await takeSnapshot(source, dest);
      assert.deepEqual(
        checkAstdb(dest),
        { ok: true, keys: info.keys },
        `snapshot ${i} passes integrity_check`,
      );
      // The writer puts seq/<n> and last = n in one transaction: a point-in-time copy has both or neither.
      const { last, seqKeys } = writerProgress(dest);
      assert.equal(seqKeys, last, `snapshot ${i} is consistent: ${seqKeys} seq keys, last = ${last}`);
      assert.equal(info.keys, last + 1, 'seq keys plus the last key');
      if (seen.length > 0)
        assert.ok(
          info.keys >= seen[seen.length - 1],
          `snapshot ${i}: ${info.keys} keys after ${seen[seen.length - 1]}`,
        );
      seen.push(info.keys);
      await new Promise((r) => setTimeout(r, 5)); // let the writer write between two copies
    }
    const elapsed = performance.now() - started;
    const lastWritten = await writer.stop();
    assert.ok(seen[19] > seen[0], `the writer was writing meanwhile (${seen[0]} → ${seen[19]} keys)`);
    assert.ok(lastWritten + 1 >= seen[19]);
    const final = writerProgress(source);
    assert.equal(
      final.last,
      lastWritten,
      'the writer lost no write to the copies (it printed what it wrote)',
    );
    assert.equal(final.seqKeys, lastWritten);
    t.diagnostic(
      `journal ${journal}: 20 snapshots in ${elapsed.toFixed(0)} ms, keys ${seen[0]} → ${seen[19]}, writer wrote ${lastWritten}`,
    );
  });
}

test('snapshot of a 100 000-key astdb, quiet and while a writer adds a key every 2 ms: consistent, the writer never held up long', async (t) => {
  const source = path.join(dir, 'big.sqlite3');
  assert.equal(await runWriter(['--path', source, '--fill', '100000']), '100000');

  let started = performance.now();
  const quiet = await takeSnapshot(source, path.join(dir, 'big-copy.sqlite3'));
  const quietMs = performance.now() - started;
  assert.equal(quiet.keys, 100_001);
  assert.equal(quiet.digest, contentDigest(source));
  assert.deepEqual(checkAstdb(quiet.path), { ok: true, keys: 100_001 });

  const writer = startWriter(['--path', source, '--every', '2ms', '--stats', 'yes']);
  await waitForWrites(source, 100_010);
  started = performance.now();
  const busy = await takeSnapshot(source, path.join(dir, 'big-copy-busy.sqlite3'));
  const busyMs = performance.now() - started;
  // A write held up by the copy's lock ended when the lock was released, before the copy was
  // checked; the writer handles SIGTERM only between writes, so its longest one is counted.
  const { last: lastWritten, longestWriteMs } = await writer.stopWithStats();

  // Consistent: a point-in-time copy, sound, its digest that of its rows, the writer's every
  // transaction in it whole or not at all.
  assert.ok(
    busy.keys > 100_010 && busy.keys <= lastWritten + 1,
    `${busy.keys} keys: a copy taken between write 100 010 and ${lastWritten}`,
  );
  assert.deepEqual(checkAstdb(busy.path), { ok: true, keys: busy.keys });
  assert.equal(busy.digest, contentDigest(busy.path));
  const { last, seqKeys } = writerProgress(busy.path);
  assert.equal(seqKeys, last, 'consistent under writes');
  assert.equal(busy.keys, last + 1, 'the seq keys and the last key, nothing else');
  // The writer lost nothing and was not held up beyond the bound.
  const final = writerProgress(source);
  assert.equal(final.last, lastWritten, 'every write the writer made is in the source');
  assert.equal(final.seqKeys, lastWritten);
  assert.ok(Number.isFinite(longestWriteMs), 'the writer reported its longest write');
  assert.ok(
    longestWriteMs < WRITER_BLOCKED_BOUND_MS,
    `the writer's longest write took ${longestWriteMs} ms (bound ${WRITER_BLOCKED_BOUND_MS} ms)`,
  );
  t.diagnostic(
    `100 000 keys (${(quiet.bytes / 1e6).toFixed(1)} MB): snapshot ${quietMs.toFixed(0)} ms quiet, ${busyMs.toFixed(0)} ms under a writer every 2 ms (integrity_check and digest included); the writer's longest write ${longestWriteMs} ms`,
  );
});

test('a source that is not a sound astdb gives a clear error and leaves no copy behind', async () => {
  const outDir = path.join(dir, 'out-bad');
  await fs.mkdir(outDir);
  const dest = path.join(outDir, 'astdb.sqlite3');

  const garbage = path.join(dir, 'garbage.sqlite3');
  await fs.writeFile(garbage, Buffer.alloc(16384, 0x41));
  await assert.rejects(
    takeSnapshot(garbage, dest),
    (err: Error) => err.message.includes(garbage) && /not a database/.test(err.message),
  );

  const damaged = path.join(dir, 'damaged.sqlite3');
  makeAstdb(damaged, rowsTagged(3000, 'v1'));
  const handle = await fs.open(damaged, 'r+');
  await handle.write(Buffer.alloc(8192, 0x5a), 0, 8192, 4096 * 4);
  await handle.close();
  // Damaged table pages: SQLite itself finds the file malformed (any read of them would).
  await assert.rejects(takeSnapshot(damaged, dest), (err: Error) => {
    assert.match(err.message, /not sound \(copy .* deleted\): database disk image is malformed$/);
    assert.ok(err.message.includes(damaged), err.message);
    return true;
  });

  // Damage only integrity_check sees (plain reads, the digest among them, pass over it): the
  // copy is refused on the check's own verdict.
  const freelist = path.join(dir, 'freelist-damaged.sqlite3');
  await makeFreelistDamagedAstdb(freelist, rowsTagged(3000, 'v1'));
  assert.equal(contentDigest(freelist).length, 64, 'the damaged source reads without error');
  await assert.rejects(takeSnapshot(freelist, dest), (err: Error) => {
    assert.match(err.message, /not sound \(copy .* deleted\): integrity_check: .*Freelist: /s);
    assert.ok(err.message.includes(freelist), err.message);
    return true;
  });

  await assert.rejects(takeSnapshot(path.join(dir, 'nope.sqlite3'), dest), /cannot open .*nope\.sqlite3/);
  assert.deepEqual(await listDir(outDir), [], 'no copy, no temp file');
});
