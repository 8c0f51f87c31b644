// The master's copies, the takeover and release requests and the failback's astdb fetch,
// run through the in-memory peer link against the slave's real receiver and real files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
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

test("failback: the release answer carries the slave's astdb digest; an unchanged astdb is kept without a second request", async () => {
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
    let stopped = 0;
    const result = await master.replication.pullAstdbIfNewer(async () => void stopped++);
    assert.match(result, /^astdb kept: /);
    assert.deepEqual(master.link.sent, ['peer-release'], 'the digest came with the release answer');
    assert.equal(stopped, 0, 'services are not stopped for nothing');
  } finally {
    pair.close();
  }
});

test("failback: an astdb the slave changed while it served is fetched over the kept channel, services stopped first, the master's file kept", async () => {
  const pair = new TwoEnds();
  try {
    const { master, slave } = pair;
    makeAstdb(master.config.replication.astdb.path, rowsTagged(20, 'm'));
    await master.replication.copyAstdb(signal());
    // The slave serves and Asterisk changes its astdb.
    slave.state = 'active';
    master.state = 'standby';
    rmSync(slave.config.replication.astdb.path);
    makeAstdb(slave.config.replication.astdb.path, rowsTagged(25, 's'));
    const slaveDigest = contentDigest(slave.config.replication.astdb.path);
    master.link.sent.length = 0;
    const opened = master.link.opened;
    await master.replication.askPeer('peer-release');
    let stopped = 0;
    const result = await master.replication.pullAstdbIfNewer(async () => void stopped++);
    assert.match(result, /^astdb fetched from the slave \(.*\); 25 keys; the master's previous file kept$/);
    assert.equal(stopped, 1);
    assert.equal(contentDigest(master.config.replication.astdb.path), slaveDigest);
    assert.equal(master.facts.get(LAST_SENT_ASTDB), slaveDigest, 'the common base is the fetched file');
    assert.deepEqual(master.link.sent, ['peer-release', 'peer-astdb-export']);
    assert.equal(master.link.opened, opened + 1, 'one channel for the release and the fetch');
    assert.ok(existsSync(master.config.replication.backupDir), "the master's previous file is kept");
  } finally {
    pair.close();
  }
});

test('an export is refused by an active node: its astdb is still changing', async () => {
  const pair = new TwoEnds();
  try {
    makeAstdb(pair.slave.config.replication.astdb.path, rowsTagged(3, 's'));
    pair.slave.state = 'active';
    const channel = await pair.master.link.open();
    assert.deepEqual(await channel.request({ request: 'peer-astdb-export', from: 'pbx1' }, 1000), {
      ok: false,
      error: 'pbx2 is active: its astdb is still changing',
    });
    assert.deepEqual(await channel.request({ request: 'peer-format-disk', from: 'pbx1' }, 1000), {
      ok: false,
      error:
        'request "peer-format-disk" is not one the peer may make (allowed: peer-hello, peer-install, peer-astdb-info, peer-astdb-export, peer-takeover, peer-release)',
    });
  } finally {
    pair.close();
  }
});
