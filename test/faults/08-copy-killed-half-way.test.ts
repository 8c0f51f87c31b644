/**
 * FAULT 8: an rsync of the files, a database restore and an astdb copy are each killed half-way
 * (SIGKILL of the process in the master's or the slave's namespace while a large copy runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ASTDB, WRITER, bytesUnder, faultCase, noWriter, treeDigest, type FaultLab } from './lib';
import { contentDigest } from '../../src/jobs/astdb/digest';

const MB = 1024 * 1024;

async function runWriter(f: FaultLab, args: string[]): Promise<void> {
  const w = f.lab.spawnIn('pbx1', [process.execPath, WRITER, ...args]);
  await new Promise((resolve) => w.on('close', resolve));
}

function keyCount(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM astdb').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test(
  'FAULT 8: an rsync, a database restore and an astdb copy killed half-way',
  { timeout: 600_000 },
  async (t) => {
    await faultCase(
      t,
      {
        n: 8,
        name: 'copy-killed-half-way',
        fault:
          "a files rsync (the master's sender), a database restore (the slave's psql) and an astdb copy (the slave's rsync receiver) are each killed with SIGKILL half-way through a large copy",
        holds:
          "each copy fails with an alert, the slave's previous data stays exactly as it was, the next copy succeeds",
      },
      {
        postgres: true,
        beforeStart: async (f) => {
          // The astdb is filled by this case, not by a writer.
          noWriter(f.lab, 'pbx1');
          noWriter(f.lab, 'pbx2');
        },
      },
      async (f) => {
        const { lab } = f;

        // --- files: the master's rsync killed while it sends a large tree -------------------------
        const sounds = lab.hostPath('pbx1', '/var/lib/asterisk/sounds');
        mkdirSync(path.join(sounds, 'fr'), { recursive: true });
        for (let i = 0; i < 20; i++)
          writeFileSync(path.join(sounds, 'fr', `prompt-${i}.wav`), `sound ${i}\n`);
        await f.sync('files');
        const slaveSounds = lab.hostPath('pbx2', '/var/lib/asterisk/sounds');
        const filesBefore = treeDigest(slaveSounds);
        assert.equal(filesBefore, treeDigest(sounds), 'the slave has the first files');
        mkdirSync(path.join(sounds, 'big'), { recursive: true });
        for (let i = 0; i < 24; i++)
          writeFileSync(path.join(sounds, 'big', `moh-${i}.wav`), randomBytes(8 * MB));
        const staging = lab.hostPath('pbx2', '/var/lib/pbx-ha/exchange/incoming/files');
        const stagedBefore = bytesUnder(staging);
        const filesSync = f.sync('files', { allowFail: true });
        await f.killHalfWay(
          'pbx1',
          "the master's rsync sending the files",
          (p) => p.argv[0].endsWith('rsync') && p.argv.includes('-aR'),
          () => bytesUnder(staging) > stagedBefore + 32 * MB,
        );
        const files = await filesSync;
        assert.notEqual(files.code, 0, 'the files copy failed');
        assert.match(files.stderr, /files: .*rsync.*(killed by SIGKILL|code \d+)/);
        assert.equal(
          treeDigest(slaveSounds),
          filesBefore,
          "the slave's installed files are exactly as before",
        );
        assert.match(await f.history('pbx1'), /alert\s+! files copy failed 1 times in a row: .*rsync/);
        assert.match(
          (await f.status('pbx1')).jobs?.find((j) => j.kind === 'files')?.lastError?.message ?? '',
          /rsync/,
        );
        f.detail(
          `files: rsync killed after ${Math.round((bytesUnder(staging) - stagedBefore) / MB)} MB of 192 MB; the slave's files unchanged; alert "files copy failed"`,
        );
        await f.sync('files');
        assert.equal(treeDigest(slaveSounds), treeDigest(sounds), 'the next files copy brings everything');

        // --- db: the slave's psql killed in the middle of the restore ------------------------------
        await lab.psql(
          'pbx1',
          "INSERT INTO userfeatures (firstname, lastname) SELECT 'user' || g, repeat('x', 200) FROM generate_series(1, 400000) g",
        );
        await lab.psql(
          'pbx2',
          "INSERT INTO userfeatures (firstname) SELECT 'slave-own-' || g FROM generate_series(1, 1000) g",
        );
        const rowsDigest = (node: 'pbx1' | 'pbx2') =>
          lab.psql(
            node,
            "SELECT count(*) || ':' || md5(string_agg(id || ':' || firstname, ',' ORDER BY id)) FROM userfeatures",
          );
        const dbBefore = await rowsDigest('pbx2');
        const dbSync = f.sync('db', { allowFail: true });
        await f.killHalfWay(
          'pbx2',
          "the slave's psql restoring the database",
          (p) => path.basename(p.argv[0]) === 'psql' && p.argv.includes('--single-transaction'),
          async () =>
            Number(
              await lab.psql(
                'pbx2',
                'SELECT coalesce(max(tuples_processed), 0) FROM pg_stat_progress_copy',
                'postgres',
              ),
            ) > 50_000,
          { slices: false, timeoutMs: 120_000 },
        );
        const db = await dbSync;
        assert.notEqual(db.code, 0, 'the db copy failed');
        assert.match(db.stderr, /db: .*NOT installed, previous data kept/);
        assert.equal(await rowsDigest('pbx2'), dbBefore, "the slave's rows are exactly as before");
        assert.match(await f.history('pbx1'), /alert\s+! db copy failed 1 times in a row/);
        f.detail(
          'db: psql killed after more than 50 000 rows of 400 000; the slave\'s rows unchanged; alert "db copy failed"',
        );
        await f.sync('db');
        assert.equal(await rowsDigest('pbx2'), await rowsDigest('pbx1'), 'the next db copy brings every row');

        // --- astdb: the slave's rsync receiver killed while a large astdb arrives ----------------------
        await runWriter(f, ['--fill', '1000']);
        await f.sync('astdb', { now: true });
        const slaveAstdb = lab.hostPath('pbx2', ASTDB);
        const astdbBefore = contentDigest(slaveAstdb);
        const astdbStaging = lab.hostPath('pbx2', '/var/lib/pbx-ha/exchange/incoming/astdb');
        const astdbStagedBefore = bytesUnder(astdbStaging);
        // A change of the astdb starts a copy by itself (debounce 1 s): that copy is the one killed.
        await runWriter(f, ['--prefix', 'bulk', '--fill', '300000']);
        // The master's rsync names the destination; the slave's (behind rrsync) names none.
        await f.waitForProcess(
          'pbx1',
          "the master's rsync sending the astdb",
          (p) => p.argv[0].endsWith('rsync') && p.argv.some((a) => a.endsWith(':incoming/astdb/')),
          60_000,
        );
        await f.killHalfWay(
          'pbx2',
          "the slave's rsync receiving the astdb",
          (p) => p.argv[0].endsWith('rsync') && p.argv.includes('--server') && !p.argv.includes('--sender'),
          () => bytesUnder(astdbStaging) > astdbStagedBefore + 2 * MB,
          { timeoutMs: 10_000 },
        );
        await lab.waitFor(
          'the alert for the killed astdb copy',
          async () => /alert\s+! astdb copy failed 1 times in a row/.test(await f.history('pbx1')),
          30_000,
          300,
        );
        assert.equal(contentDigest(slaveAstdb), astdbBefore, "the slave's astdb is exactly as before");
        // The retry (retry_min = 1 s) is the next copy, and it succeeds.
        await lab.waitFor(
          'the astdb copy works again',
          async () => /alert\s+! astdb copy works again after 1 failures/.test(await f.history('pbx1')),
          60_000,
          500,
        );
        assert.equal(
          keyCount(slaveAstdb),
          keyCount(lab.hostPath('pbx1', ASTDB)),
          'the slave has the whole astdb',
        );
        f.detail(
          `astdb: rsync receiver killed half-way through a ${Math.round(statSync(lab.hostPath('pbx1', ASTDB)).size / MB)} MB astdb; the slave's astdb unchanged; the retry succeeded`,
        );

        await f.checkInvariants();
      },
    );
  },
);
