/** FAULT 10: the master's astdb is corrupt (a page of its B-tree overwritten with garbage). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, readdirSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ASTDB, WRITER, faultCase, noWriter, type FaultLab } from './lib';
import { checkAstdb, contentDigest } from '../../src/jobs/astdb/digest';

async function fill(f: FaultLab, keys: number): Promise<void> {
  const w = f.lab.spawnIn('pbx1', [process.execPath, WRITER, '--prefix', 'pbx1', '--fill', String(keys)]);
  await new Promise((resolve) => w.on('close', resolve));
}

/** Overwrites one page in the middle of an SQLite file (not the header page) with random bytes. */
function corrupt(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    const header = Buffer.alloc(100);
    readSync(fd, header, 0, 100, 0);
    const raw = header.readUInt16BE(16);
    const pageSize = raw === 1 ? 65536 : raw;
    const pages = header.readUInt32BE(28);
    const page = Math.max(2, Math.floor(pages / 2));
    writeSync(fd, randomBytes(pageSize), 0, pageSize, (page - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
}

test("FAULT 10: the master's astdb is corrupt", { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 10,
      name: 'master-astdb-corrupt',
      fault: "the master's astdb is corrupt (a page overwritten with garbage)",
      holds:
        'the corrupt file is never sent (alert "not sound" on the master, in its history and pbx-ha status); the slave keeps its good copy, takes over with it when the master fails, and the master gets it back at the failback',
    },
    {
      // The master's "Asterisk" is dead with its broken file; the slave's writes while it serves.
      beforeStart: async (f) => noWriter(f.lab, 'pbx1'),
    },
    async (f) => {
      const { lab } = f;
      await fill(f, 5000);
      await f.sync('astdb', { now: true });
      const slaveAstdb = lab.hostPath('pbx2', ASTDB);
      const good = contentDigest(slaveAstdb);
      f.ledger.sample();

      const masterAstdb = lab.hostPath('pbx1', ASTDB);
      corrupt(masterAstdb);
      const check = checkAstdb(masterAstdb);
      assert.equal(check.ok, false, "the master's astdb is corrupt now");
      const r = await f.sync('astdb', { now: true, allowFail: true });
      assert.notEqual(r.code, 0, 'the copy of a corrupt astdb fails');
      assert.match(r.stderr, /astdb: astdb snapshot of \/var\/lib\/asterisk\/astdb\.sqlite3 is not sound/);
      assert.equal(contentDigest(slaveAstdb), good, "the slave's good copy stays");
      assert.match(
        await f.history('pbx1'),
        /alert\s+! astdb copy failed 1 times in a row: astdb snapshot of \/var\/lib\/asterisk\/astdb\.sqlite3 is not sound/,
      );
      assert.match(
        await lab.agentLog('pbx1'),
        /ALERT: astdb copy failed 1 times in a row: astdb snapshot of .* is not sound/,
      );
      const job = (await f.status('pbx1')).jobs?.find((j) => j.kind === 'astdb');
      assert.match(
        job?.lastError?.message ?? '',
        /is not sound/,
        'pbx-ha status says why the astdb is not copied',
      );
      f.detail(`"${r.stderr.trim().split('\n')[0].slice(0, 160)}…"; the slave's copy unchanged`);
      // Retries fail the same way and never reach the slave.
      await new Promise((res) => setTimeout(res, 3000));
      assert.equal(contentDigest(slaveAstdb), good, "the slave's good copy stays after the retries");

      // The master fails: the slave serves with the good copy (its "Asterisk" writes to it); at the
      // failback the master takes it, its corrupt file kept aside.
      await lab.cut('pbx1');
      await f.checkInvariants({ holder: 'pbx2', otherState: 'fault', report: false });
      await new Promise((res) => setTimeout(res, 2000));
      await lab.restore('pbx1');
      await f.checkInvariants();
      assert.equal(checkAstdb(masterAstdb).ok, true, 'the master has a sound astdb again');
      assert.match(await lab.agentLog('pbx1'), /failback data: astdb merged with the slave's: /);
      const backups = lab.hostPath('pbx1', '/var/lib/pbx-ha/backup/astdb');
      const kept = readdirSync(backups)
        .filter((n) => n.endsWith('.pbx-ha.json'))
        .map((n) => JSON.parse(readFileSync(path.join(backups, n), 'utf8')) as { problem?: string });
      assert.ok(
        kept.some((k) => k.problem),
        'the corrupt file is kept in the backup, marked with its problem',
      );
      f.detail(
        "after a failover and a failback the master has the slave's sound astdb; its corrupt file is kept in the backup",
      );
    },
  );
});
