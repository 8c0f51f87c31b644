/**
 * FAULT 9: the slave's disk is full during a copy. A small tmpfs is mounted (in the root mount
 * namespace, before the slave's sshd and agent start, so that the mount namespaces of `lab exec`
 * inherit it) over the backing directory of the slave's /var/lib/pbx-ha, where every copy lands
 * first (exchange/incoming). It must be that directory itself: `lab exec` bind-mounts it without
 * its submounts. Later the tmpfs grows (remount), as when an administrator frees space.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { run } from '../lab/harness';
import { ASTDB, WRITER, faultCase, treeDigest, type FaultLab } from './lib';
import { contentDigest } from '../../src/jobs/astdb/digest';

const SMALL = '3m';
const LARGE = '256m';

function bulkKeys(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    return (
      db.prepare("SELECT count(*) AS n FROM astdb WHERE key >= '/bulk/' AND key < '/bulk0'").get() as {
        n: number;
      }
    ).n;
  } finally {
    db.close();
  }
}

async function fill(f: FaultLab, keys: number): Promise<void> {
  const w = f.lab.spawnIn('pbx1', [process.execPath, WRITER, '--prefix', 'bulk', '--fill', String(keys)]);
  await new Promise((resolve) => w.on('close', resolve));
}

test("FAULT 9: the slave's disk is full during a copy", { timeout: 300_000 }, async (t) => {
  let varLib = '';
  await faultCase(
    t,
    {
      n: 9,
      name: 'slave-disk-full',
      fault: `the slave's disk is full during a copy (its /var/lib/pbx-ha on a ${SMALL.replace('m', ' MB')} tmpfs; an astdb and files larger than that are sent), then space is freed`,
      holds:
        'each copy fails with "No space left on device" in the master\'s history, alert and pbx-ha status; the slave\'s astdb and files stay as they were; once space is freed, the next copy succeeds',
    },
    {
      beforeStart: async (f) => {
        varLib = f.lab.hostPath('pbx2', '/var/lib/pbx-ha');
        mkdirSync(varLib, { recursive: true });
        await run(['mount', '-t', 'tmpfs', '-o', `size=${SMALL},mode=0755`, 'pbx-ha-faults-9', varLib]);
        f.onCleanup(async () => {
          await run(['umount', varLib], { allowFail: true }).then((r) =>
            r.code === 0 ? r : run(['umount', '-l', varLib]),
          );
        });
      },
    },
    async (f) => {
      const { lab } = f;
      const slaveAstdb = lab.hostPath('pbx2', ASTDB);
      const sounds = lab.hostPath('pbx1', '/var/lib/asterisk/sounds');
      mkdirSync(path.join(sounds, 'fr'), { recursive: true });
      writeFileSync(path.join(sounds, 'fr', 'hello.wav'), 'hello\n');
      await f.sync('files');
      const slaveSounds = lab.hostPath('pbx2', '/var/lib/asterisk/sounds');
      const filesBefore = treeDigest(slaveSounds);

      // The astdb grows past the free space: the copy that follows the change fails.
      await fill(f, 100_000);
      await lab.waitFor(
        'the alert for the astdb copy',
        async () =>
          /alert\s+! astdb copy failed 1 times in a row: .*No space left on device/.test(
            await f.history('pbx1'),
          ),
        60_000,
        500,
      );
      const status = await f.status('pbx1');
      const astdbJob = status.jobs?.find((j) => j.kind === 'astdb');
      assert.match(
        astdbJob?.lastError?.message ?? '',
        /No space left on device/,
        'pbx-ha status shows why the astdb copy fails',
      );
      assert.match(
        await lab.agentLog('pbx1'),
        /ALERT: astdb copy failed 1 times in a row: .*No space left on device/,
      );
      const astdbAtFailure = contentDigest(slaveAstdb);
      assert.equal(bulkKeys(slaveAstdb), 0, 'nothing of the failed astdb copy reached the slave');
      f.ledger.sample();
      f.detail(
        `astdb: "${/[^:]*No space left on device[^\n]*/.exec(astdbJob?.lastError?.message ?? '')?.[0].trim()}"; the slave's astdb kept`,
      );

      // Files larger than the free space.
      mkdirSync(path.join(sounds, 'big'), { recursive: true });
      writeFileSync(path.join(sounds, 'big', 'moh.wav'), randomBytes(8 * 1024 * 1024));
      const files = await f.sync('files', { allowFail: true });
      assert.notEqual(files.code, 0);
      assert.match(files.stderr, /files: .*No space left on device/);
      assert.equal(treeDigest(slaveSounds), filesBefore, "the slave's files are exactly as before");
      assert.match(
        await f.history('pbx1'),
        /alert\s+! files copy failed 1 times in a row: .*No space left on device/,
      );
      assert.ok(
        !existsSync(path.join(slaveSounds, 'big')),
        "nothing of the failed copy reached the slave's files",
      );
      f.detail(
        'files: "No space left on device" from pbx-ha sync and in the history; the slave\'s files kept',
      );
      // Meanwhile more astdb copies failed; the slave kept its astdb, and stays ready to take over.
      assert.equal(
        contentDigest(slaveAstdb),
        astdbAtFailure,
        "the slave's astdb stayed exactly as it was while the copies failed",
      );
      assert.equal((await f.status('pbx2')).state, 'standby');

      // Space freed: the next copies succeed.
      await run(['mount', '-o', `remount,size=${LARGE}`, varLib]);
      await f.sync('files');
      assert.equal(treeDigest(slaveSounds), treeDigest(sounds), 'the next files copy brings everything');
      await lab.waitFor(
        'the astdb copy works again',
        async () => /alert\s+! astdb copy works again/.test(await f.history('pbx1')),
        60_000,
        500,
      );
      assert.ok(bulkKeys(slaveAstdb) >= 100_000, 'the slave has the large astdb now');
      assert.ok(readdirSync(path.join(varLib, 'exchange')).length > 0, 'the copies went through the tmpfs');
      f.detail('after the tmpfs grew: both copies succeeded');
      await f.checkInvariants();
    },
  );
});
