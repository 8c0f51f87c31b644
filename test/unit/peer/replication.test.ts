// The master's copies, the takeover and release requests and the failback's astdb fetch,
// run through the in-memory peer link against the slave's real receiver and real files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { mergeBasePath } from '../../../src/jobs/astdb/merge';
import { contentDigest } from '../../../src/jobs/astdb/digest';
import { JobNotApplicable } from '../../../src/jobs/runner';
import { LAST_SENT_ASTDB } from '../../../src/peer/replication';
import { stagingPaths } from '../../../src/peer/staging';
import { makeAstdb, rowsTagged } from '../jobs/astdb/helpers';
import { TwoEnds } from './two-ends';

const signal = () => new AbortController().signal;

test('an astdb copy reaches the slave in standby, is installed with its digest checked, and is not sent again unchanged', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(master.config.replication.astdb.path, rowsTagged(50, 'm1'));
    const first = await master.replication.copyAstdb(signal());
    assert.match(first.detail, /^50 keys, \d+ bytes; 50 keys/);
    assert.equal(
      contentDigest(slave.config.replication.astdb.path),
      contentDigest(master.config.replication.astdb.path),
    );
    assert.equal(master.facts.get(LAST_SENT_ASTDB), contentDigest(master.config.replication.astdb.path));
    assert.deepEqual(
      slave.jobs.map((j) => j.ok),
      [true],
    );
    assert.match(slave.jobs[0].summary, /^astdb copy from pbx1 installed: 50 keys/);
    assert.deepEqual(master.link.sent, ['peer-hello', 'peer-install']);

    const again = await master.replication.copyAstdb(signal());
    assert.match(again.detail, /unchanged since the last copy \(50 keys\)/);
    assert.deepEqual(
      master.link.sent,
      ['peer-hello', 'peer-install', 'peer-hello'],
      'no install of an unchanged file',
    );
    assert.equal(slave.jobs.length, 1);

    const forced = await master.replication.copyAstdb(signal(), true);
    assert.match(forced.detail, /50 keys; /);
    assert.equal(slave.jobs.length, 2);
  } finally {
    pair.close();
  }
});

test('a slave that is not in standby is not sent a copy; asked anyway, it refuses and keeps its data', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(master.config.replication.astdb.path, rowsTagged(5, 'm'));
    makeAstdb(slave.config.replication.astdb.path, rowsTagged(7, 's'));
    const before = contentDigest(slave.config.replication.astdb.path);
    slave.state = 'active';
    await assert.rejects(
      master.replication.copyAstdb(signal()),
      /pbx2 is active: it accepts copies only in standby/,
    );
    assert.deepEqual(master.link.sent, ['peer-hello']);

    // The receiver's own check, for a master that asks without a hello first.
    const channel = await master.link.open();
    const answer = await channel.request({ request: 'peer-install', from: 'pbx1', kind: 'astdb' }, 1000);
    assert.deepEqual(answer, { ok: false, error: 'pbx2 is active: it accepts copies only in standby' });
    assert.equal(slave.log.matching(/refused a astdb copy from "pbx1": pbx2 is active/, 'warn').length, 1);
    assert.equal(contentDigest(slave.config.replication.astdb.path), before);
  } finally {
    pair.close();
  }
});

test('a staged astdb that is not the one the master sent is not installed; the previous file is kept', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(slave.config.replication.astdb.path, rowsTagged(7, 's'));
    const before = contentDigest(slave.config.replication.astdb.path);
    // Staged in the right place, but not the file whose digest comes with the request.
    const staged = stagingPaths(slave.config).astdb;
    mkdirSync(path.dirname(staged), { recursive: true });
    makeAstdb(staged, rowsTagged(3, 'x'));
    const channel = await master.link.open();
    const answer = await channel.request(
      { request: 'peer-install', from: 'pbx1', kind: 'astdb', digest: 'a'.repeat(64) },
      1000,
    );
    assert.equal(answer.ok, false);
    assert.match(
      String(answer.error),
      /astdb copy from pbx1 NOT installed, previous data kept: astdb install refused: the staged astdb is not the one the master sent \(digest [0-9a-f]{8}, announced aaaaaaaa\)/,
    );
    assert.deepEqual(
      slave.jobs.map((j) => j.ok),
      [false],
    );
    assert.equal(contentDigest(slave.config.replication.astdb.path), before);
  } finally {
    pair.close();
  }
});

test('copies go from the active master only, and not when replication is disabled: not applicable, not failed', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    master.state = 'standby';
    await assert.rejects(
      master.replication.copyAstdb(signal()),
      (e) => e instanceof JobNotApplicable && /pbx1 is standby, not active: no astdb copy/.test(e.message),
    );
    await assert.rejects(
      slave.replication.copyAstdb(signal()),
      (e) => e instanceof JobNotApplicable && /copies go from the master; this is the slave/.test(e.message),
    );
    master.state = 'active';
    master.config = { ...master.config, replication: { ...master.config.replication, enabled: false } };
    await assert.rejects(
      master.replication.copyAstdb(signal()),
      (e) => e instanceof JobNotApplicable && /replication is disabled/.test(e.message),
    );
    assert.equal(master.link.opened, 0, 'nothing is asked of the peer');
  } finally {
    pair.close();
  }
});

test('takeover: the slave is asked and takes over; a request no longer wanted once connected is not sent', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    assert.equal(await master.replication.askPeer('peer-takeover', () => false), false);
    assert.deepEqual(slave.asked, []);
    assert.equal(master.log.matching(/peer-takeover not sent: no longer wanted/).length, 1);
    assert.equal(await master.replication.askPeer('peer-takeover'), true);
    assert.deepEqual(slave.asked, ['takeover']);
    assert.equal(slave.state, 'active');
    assert.equal(master.log.matching(/^peer-takeover: pbx2 is now active$/).length, 1);
  } finally {
    pair.close();
  }
});

test('takeover refused: the slave that cannot take over says why, and the master gets an error', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    slave.receiver = new (
      slave.receiver.constructor as typeof import('../../../src/peer/receiver').PeerReceiver
    )({
      config: () => slave.config,
      identity: () => ({ node: 'pbx2', role: 'slave' }),
      state: () => 'fault',
      reason: () => 'eth0 has no carrier',
      log: slave.log,
      recordJob: () => undefined,
      peerAsks: async () => 'fault',
    });
    await assert.rejects(
      master.replication.askPeer('peer-takeover'),
      /the peer refused "peer-takeover": pbx2 did not take over: it is fault \(eth0 has no carrier\)/,
    );
  } finally {
    pair.close();
  }
});

test('a peer that cannot be reached: the request fails with why', async () => {
  const pair = new TwoEnds();
  try {
    pair.master.link.failure = new Error('connect EHOSTUNREACH 192.0.2.12:22');
    await assert.rejects(pair.master.replication.askPeer('peer-release'), /EHOSTUNREACH/);
    await assert.rejects(pair.master.replication.hello(), /EHOSTUNREACH/);
  } finally {
    pair.close();
  }
});

test("failback after the release: the answer carries the slave's astdb digest; an unchanged astdb is kept without a second request", async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(master.config.replication.astdb.path, rowsTagged(20, 'm'));
    await master.replication.copyAstdb(signal());
    master.state = 'standby';
    slave.state = 'active';
    master.link.sent.length = 0;
    assert.equal(await master.replication.askPeer('peer-release'), true);
    assert.deepEqual(slave.asked, ['release']);
    assert.equal(master.replication.releasedDataChanged(), false, 'the slave holds the last copy exchanged');
    let stopped = 0;
    const result = await master.replication.fetchForFailback(
      true,
      () => true,
      async () => void stopped++,
    );
    assert.match(result, /^astdb kept: /);
    assert.deepEqual(master.link.sent, ['peer-release'], 'the digest came with the release answer');
    assert.equal(stopped, 0, 'services are not stopped for nothing');
  } finally {
    pair.close();
  }
});

function rowsOf(file: string): Map<string, string> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return new Map(
      (db.prepare('SELECT key, value FROM astdb').all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
  } finally {
    db.close();
  }
}

function writeRows(file: string, set: Array<[string, string]>, del: string[] = []): void {
  const db = new Database(file);
  try {
    for (const [k, v] of set) db.prepare('INSERT OR REPLACE INTO astdb (key, value) VALUES (?, ?)').run(k, v);
    for (const k of del) db.prepare('DELETE FROM astdb WHERE key = ?').run(k);
  } finally {
    db.close();
  }
}

test("failback while the slave serves: its astdb is merged with the master's (both sides' changes kept), services stopped first, the master's file and the losing values kept", async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    const masterDb = master.config.replication.astdb.path;
    const slaveDb = slave.config.replication.astdb.path;
    makeAstdb(masterDb, rowsTagged(20, 'm'));
    await master.replication.copyAstdb(signal());
    // Written on the master just before its link was cut: never copied.
    writeRows(
      masterDb,
      [
        ['/late/on-master', 'm-late'],
        ['/test/key/3', 'master-3'],
      ],
      ['/test/key/4'],
    );
    // The slave serves and Asterisk changes its astdb.
    slave.state = 'active';
    master.state = 'standby';
    writeRows(
      slaveDb,
      [
        ['/on-slave/1', 's1'],
        ['/test/key/3', 'slave-3'],
        ['/test/key/5', 'slave-5'],
      ],
      ['/test/key/6'],
    );
    const slaveDigest = contentDigest(slaveDb);
    master.link.sent.length = 0;
    let stopped = 0;
    const result = await master.replication.fetchForFailback(
      false,
      () => true,
      async () => void stopped++,
    );
    assert.match(
      result,
      /^astdb merged with the slave's: 3 keys from the slave, 2 kept from the master, 20 keys in all; 1 keys changed on both sides/,
    );
    assert.equal(stopped, 1, "the master's services are stopped before its astdb is replaced");
    assert.deepEqual(
      master.link.sent,
      ['peer-spool-list', 'peer-db-export', 'peer-astdb-info', 'peer-astdb-export'],
      'fetched while the slave serves',
    );
    const merged = rowsOf(masterDb);
    assert.equal(merged.get('/late/on-master'), 'm-late', "the master's uncopied key survives");
    assert.equal(merged.has('/test/key/4'), false, "the master's deletion survives");
    assert.equal(merged.get('/on-slave/1'), 's1', "the slave's new key is there");
    assert.equal(merged.get('/test/key/5'), 'slave-5', "the slave's change is there");
    assert.equal(merged.has('/test/key/6'), false, "the slave's deletion is applied");
    assert.equal(merged.get('/test/key/3'), 'slave-3', 'both changed: the slave, which served last, wins');
    assert.equal(merged.get('/test/key/0'), 'm-0');
    assert.equal(master.facts.get(LAST_SENT_ASTDB), slaveDigest, "the new base is the slave's file");
    assert.equal(
      contentDigest(mergeBasePath(master.config.agent.stateDir)),
      slaveDigest,
      "one base file, the slave's",
    );
    const backups = readdirSync(path.join(master.config.replication.backupDir, 'astdb'));
    const kept = backups.filter((f) => f.endsWith('.sqlite3'));
    assert.equal(kept.length, 1, "the master's previous file is kept");
    assert.equal(
      rowsOf(path.join(master.config.replication.backupDir, 'astdb', kept[0])).get('/late/on-master'),
      'm-late',
    );
    const conflicts = backups.filter((f) => /^astdb-conflicts-.*\.json$/.test(f));
    assert.equal(conflicts.length, 1, 'the losing value is kept');
    const record = JSON.parse(
      readFileSync(path.join(master.config.replication.backupDir, 'astdb', conflicts[0]), 'utf8'),
    ) as { conflicts: unknown[] };
    assert.deepEqual(record.conflicts, [
      { key: '/test/key/3', base: 'm-3', master: 'master-3', slave: 'slave-3', kept: 'slave' },
    ]);

    // The release answer: the slave wrote more since the fetch, so the rest is fetched over the kept channel.
    writeRows(slaveDb, [['/on-slave/2', 's2']]);
    assert.equal(await master.replication.askPeer('peer-release'), true);
    assert.equal(master.replication.releasedDataChanged(), true);
    const opened = master.link.opened;
    const last = await master.replication.fetchForFailback(
      true,
      () => true,
      async () => void stopped++,
    );
    assert.match(last, /its last changes\): 1 keys from the slave/);
    assert.equal(master.link.opened, opened, 'one channel for the release and the last fetch');
    const after = rowsOf(masterDb);
    assert.equal(after.get('/on-slave/2'), 's2');
    assert.equal(after.get('/late/on-master'), 'm-late');
  } finally {
    pair.close();
  }
});

test("a master's first claim, the slave never seen serving: a key both changed keeps the master's value (it served last)", async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    const masterDb = master.config.replication.astdb.path;
    makeAstdb(masterDb, rowsTagged(5, 'm'));
    await master.replication.copyAstdb(signal());
    // The master kept serving and changed a key; the slave's copy changed it too (a stale
    // value, an Asterisk started there by hand): the master boots and claims, never having
    // seen the slave hold the VIPs.
    writeRows(masterDb, [['/test/key/1', 'master-new']]);
    writeRows(slave.config.replication.astdb.path, [
      ['/test/key/1', 'slave-old'],
      ['/on-slave/1', 's1'],
    ]);
    master.state = 'init';
    const result = await master.replication.fetchForFailback(
      true,
      () => true,
      async () => undefined,
      false,
    );
    assert.match(
      result,
      /1 keys changed on both sides, the master's value kept \(it served last\), the slave's in /,
    );
    const merged = rowsOf(masterDb);
    assert.equal(merged.get('/test/key/1'), 'master-new');
    assert.equal(merged.get('/on-slave/1'), 's1', "the slave's own new key still comes across");
  } finally {
    pair.close();
  }
});

test('a failback abandoned during its fetch stops nothing and replaces nothing', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    const masterDb = master.config.replication.astdb.path;
    makeAstdb(masterDb, rowsTagged(5, 'm'));
    await master.replication.copyAstdb(signal());
    slave.state = 'active';
    master.state = 'standby';
    writeRows(slave.config.replication.astdb.path, [['/on-slave/1', 's1']]);
    const before = contentDigest(masterDb);
    let stopped = 0;
    const result = await master.replication.fetchForFailback(
      false,
      () => false,
      async () => void stopped++,
    );
    assert.match(result, /abandoned/);
    assert.equal(stopped, 0);
    assert.equal(contentDigest(masterDb), before);
  } finally {
    pair.close();
  }
});

test('an export is made by an active node too (the failback fetch comes before the release); other requests are refused', async () => {
  const pair = new TwoEnds();
  try {
    makeAstdb(pair.slave.config.replication.astdb.path, rowsTagged(3, 's'));
    pair.slave.state = 'active';
    const channel = await pair.master.link.open();
    const exported = await channel.request({ request: 'peer-astdb-export', from: 'pbx1' }, 1000);
    assert.equal(exported.ok, true);
    assert.equal(exported.keys, 3);
    assert.deepEqual(await channel.request({ request: 'peer-format-disk', from: 'pbx1' }, 1000), {
      ok: false,
      error:
        'request "peer-format-disk" is not one the peer may make (allowed: peer-hello, peer-install, peer-astdb-info, peer-astdb-export, peer-spool-list, peer-spool-export, peer-db-export, peer-takeover, peer-release, peer-pg-state, peer-pg-stop, peer-pg-start, peer-pg-follow, peer-quiesce, peer-resume)',
    });
  } finally {
    pair.close();
  }
});

test('manual failback: the master in standby pulls the serving slave’s astdb; not with failback = auto, nor while the slave stands by', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(master.config.replication.astdb.path, rowsTagged(20, 'm'));
    await master.replication.copyAstdb(signal());
    master.state = 'standby';
    slave.state = 'active';
    writeRows(slave.config.replication.astdb.path, [['/on-slave/1', 's1']]);
    const stop = async () => undefined;
    assert.equal(
      await master.replication.pullFromServingSlave(false, stop),
      null,
      'failback = auto: no pull',
    );
    master.config = { ...master.config, failover: { ...master.config.failover, failback: 'manual' } };
    slave.state = 'standby';
    assert.equal(
      await master.replication.pullFromServingSlave(false, stop),
      null,
      'the slave does not serve',
    );
    slave.state = 'active';
    const pulled = await master.replication.pullFromServingSlave(false, stop);
    assert.match(String(pulled), /^astdb merged with the slave's: 1 keys from the slave/);
    assert.equal(rowsOf(master.config.replication.astdb.path).get('/on-slave/1'), 's1');
    assert.match(String(await master.replication.pullFromServingSlave(false, stop)), /^astdb kept: /);
  } finally {
    pair.close();
  }
});

test("two-phase failback: the quiesce answer carries the slave's final digests; what changed since the first fetch comes over the quiesce's channel, the release too, answered at once", async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    const masterDb = master.config.replication.astdb.path;
    const slaveDb = slave.config.replication.astdb.path;
    makeAstdb(masterDb, rowsTagged(20, 'm'));
    await master.replication.copyAstdb(signal());
    master.state = 'standby';
    slave.state = 'active';
    writeRows(slaveDb, [['/on-slave/1', 's1']]);
    const stop = async () => undefined;
    assert.match(await master.replication.fetchForFailback(false, () => true, stop), /1 keys from the slave/);

    // Nothing written since the first fetch: the quiesce answer says so, nothing more to fetch.
    assert.equal(await master.replication.askPeer('peer-quiesce'), true);
    assert.deepEqual(slave.asked, ['quiesce']);
    assert.deepEqual(master.replication.lastQuiesce(), { quiesced: true, unsupported: false });
    assert.equal(master.replication.releasedDataChanged(), false);
    await master.replication.askPeer('peer-resume');
    assert.deepEqual(slave.asked, ['quiesce', 'resume']);

    // Written between the first fetch and the quiesce: the final fetch brings it, over the
    // quiesce's channel, and the release goes over that channel too.
    writeRows(slaveDb, [['/on-slave/2', 's2']]);
    master.link.sent.length = 0;
    assert.equal(await master.replication.askPeer('peer-quiesce'), true);
    assert.equal(master.replication.releasedDataChanged(), true, 'the digest differs from the fetched one');
    const opened = master.link.opened;
    const last = await master.replication.fetchForFailback(true, () => true, stop);
    assert.match(last, /its last changes\): 1 keys from the slave/);
    assert.equal(rowsOf(masterDb).get('/on-slave/2'), 's2', 'the last change is here before the release');
    assert.equal(await master.replication.askPeer('peer-release'), true);
    assert.equal(master.link.opened, opened, 'one channel for the quiesce, the final fetch and the release');
    assert.deepEqual(master.link.sent, ['peer-quiesce', 'peer-astdb-export', 'peer-release']);
    assert.equal(slave.releasedQuiesced, true);
    assert.equal(
      master.replication.releasedDataChanged(),
      false,
      'quiesced since: the release answer needs no digest, and nothing is fetched after it',
    );
    assert.equal(
      master.log.matching(/^peer-release: pbx2 is now standby \(its services stopped since the quiesce\)/)
        .length,
      1,
    );
  } finally {
    pair.close();
  }
});

test('two-phase failback: a slave that does not serve answers the quiesce as not quiesced; its release answer carries its digest', async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(master.config.replication.astdb.path, rowsTagged(5, 'm'));
    await master.replication.copyAstdb(signal());
    master.state = 'standby';
    slave.state = 'standby';
    assert.equal(await master.replication.askPeer('peer-quiesce'), true);
    assert.deepEqual(master.replication.lastQuiesce(), { quiesced: false, unsupported: false });
    assert.equal(await master.replication.askPeer('peer-release'), true);
    assert.equal(slave.releasedQuiesced, false);
    assert.equal(master.replication.releasedDataChanged(), false, 'its digest is the last copy exchanged');
  } finally {
    pair.close();
  }
});
