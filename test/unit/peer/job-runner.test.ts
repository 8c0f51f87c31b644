// The job runner and the schedule running the master's real copy jobs through the in-memory
// peer link: results recorded, failures retried with backoff and alerted, no overlap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { JobRunner, type JobRecord } from '../../../src/jobs/runner';
import { JobSchedule } from '../../../src/jobs/schedule';
import { FakeClock, flushPromises, RecordingLogger } from '../../fakes';
import { makeAstdb, rowsTagged } from '../jobs/astdb/helpers';
import { TwoEnds } from './two-ends';

/** Waits (real time: the copies do real file I/O) until no copy runs. */
async function idle(runner: JobRunner): Promise<void> {
  for (let i = 0; i < 500 && runner.state().some((j) => j.running); i++)
    await new Promise((res) => setTimeout(res, 10));
  await flushPromises();
}

function runnerFor(pair: TwoEnds, clock: FakeClock) {
  const records: JobRecord[] = [];
  const alerts: string[] = [];
  const log = new RecordingLogger();
  const settings = { retryMinMs: 1000, retryMaxMs: 8000, alertAfter: 3 };
  const astdbOnly = pair.master.replication.jobs().filter((j) => j.kind === 'astdb');
  const runner = new JobRunner(
    astdbOnly,
    clock,
    log,
    () => settings,
    (r) => records.push(r),
    (m) => alerts.push(m),
  );
  return { runner, records, alerts, log };
}

test('job runner: a copy through the link is recorded; a peer that cannot be reached is retried with backoff, alerted at the third failure, and its recovery alerted', async () => {
  const pair = new TwoEnds();
  const clock = new FakeClock();
  try {
    makeAstdb(pair.master.config.replication.astdb.path, rowsTagged(10, 'm'));
    const { runner, records, alerts } = runnerFor(pair, clock);
    const ok = await runner.run('astdb', 'manual');
    assert.equal(ok.ran && ok.record.ok, true);
    assert.equal(pair.slave.jobs.length, 1, 'installed on the slave');

    pair.master.link.failure = new Error('connect ECONNREFUSED 192.0.2.12:22');
    const failed = await runner.run('astdb', 'forced');
    assert.equal(failed.ran && failed.record.error, 'connect ECONNREFUSED 192.0.2.12:22');
    assert.equal(runner.state()[0].consecutiveFailures, 1);
    // Retries after 1 s, then 2 s: the third failure in a row is alerted, once.
    await clock.advance(1000);
    await idle(runner);
    await clock.advance(2000);
    await idle(runner);
    assert.equal(runner.state()[0].consecutiveFailures, 3);
    assert.deepEqual(alerts, ['astdb copy failed 3 times in a row: connect ECONNREFUSED 192.0.2.12:22']);
    assert.deepEqual(
      records.map((r) => [r.trigger, r.ok]),
      [
        ['manual', true],
        ['forced', false],
        ['retry', false],
        ['retry', false],
      ],
    );

    pair.master.link.failure = null;
    await clock.advance(4000);
    await idle(runner);
    assert.equal(runner.state()[0].consecutiveFailures, 0);
    assert.equal(alerts[1], 'astdb copy works again after 3 failures');
    runner.stop();
  } finally {
    pair.close();
  }
});

test('job runner: a copy that does not apply (the slave is active) is not run, not failed, not retried', async () => {
  const pair = new TwoEnds();
  const clock = new FakeClock();
  try {
    pair.master.state = 'standby';
    const { runner, records } = runnerFor(pair, clock);
    const result = await runner.run('astdb', 'schedule');
    assert.deepEqual(result, { ran: false, reason: 'pbx1 is standby, not active: no astdb copy' });
    assert.equal(records.length, 0);
    assert.equal(clock.pendingTimers(), 0, 'no retry');
  } finally {
    pair.close();
  }
});

test("job runner: two runs of one copy never overlap; an administrator's copy waits for the running one", async () => {
  const pair = new TwoEnds();
  const clock = new FakeClock();
  try {
    makeAstdb(pair.master.config.replication.astdb.path, rowsTagged(10, 'm'));
    const { runner } = runnerFor(pair, clock);
    const first = runner.run('astdb', 'schedule');
    const second = runner.run('astdb', 'change');
    const manual = runner.run('astdb', 'forced');
    assert.deepEqual(await second, { ran: false, reason: 'a astdb copy was already running' });
    assert.equal((await first).ran, true);
    const m = await manual;
    assert.equal(m.ran && m.record.trigger, 'forced');
    assert.equal(pair.slave.jobs.length, 2, 'the scheduled copy and the forced one');
  } finally {
    pair.close();
  }
});

test('schedule: a change of the astdb is copied within the debounce, and the copy reaches the slave', async () => {
  const pair = new TwoEnds();
  const clock = new FakeClock();
  try {
    const file = pair.master.config.replication.astdb.path;
    makeAstdb(file, rowsTagged(10, 'm'));
    const { runner, records } = runnerFor(pair, clock);
    const schedule = new JobSchedule(runner, clock, new RecordingLogger());
    const r = pair.master.config.replication;
    schedule.start({ ...r, astdb: { ...r.astdb, debounceMs: 500 } });
    try {
      assert.match(String(schedule.nextRuns().astdb), /^\d{4}-\d\d-\d\dT/, 'the cron schedule is armed');
      // Asterisk writes a key.
      const db = new Database(file);
      db.prepare('INSERT INTO astdb (key, value) VALUES (?, ?)').run('/new/key', 'v');
      db.close();
      // fs.watch reports the change on a later turn of the event loop.
      for (let i = 0; i < 50 && clock.pendingTimers() === 0; i++)
        await new Promise((res) => setTimeout(res, 20));
      await clock.advance(499);
      assert.equal(records.length, 0, 'not before the debounce');
      await clock.advance(1);
      for (let i = 0; i < 100 && records.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
      assert.deepEqual(
        records.map((x) => [x.trigger, x.ok, x.error]),
        [['change', true, null]],
      );
      assert.equal(pair.slave.jobs.length, 1);
    } finally {
      schedule.stop();
    }
    assert.deepEqual(schedule.nextRuns(), { astdb: null, db: null, files: null });
  } finally {
    pair.close();
  }
});

test('schedule: a change seen when its copy is refused because another astdb copy runs is copied once that one ended', async () => {
  const pair = new TwoEnds();
  const clock = new FakeClock();
  try {
    const file = pair.master.config.replication.astdb.path;
    makeAstdb(file, rowsTagged(10, 'm'));
    const { runner, records } = runnerFor(pair, clock);
    const schedule = new JobSchedule(runner, clock, new RecordingLogger());
    const r = pair.master.config.replication;
    schedule.start({ ...r, astdb: { ...r.astdb, debounceMs: 500 } });
    try {
      const db = new Database(file);
      db.prepare('INSERT INTO astdb (key, value) VALUES (?, ?)').run('/new/key', 'v');
      db.close();
      for (let i = 0; i < 50 && clock.pendingTimers() === 0; i++)
        await new Promise((res) => setTimeout(res, 20));
      // The scheduled copy starts just before the debounce ends: the change copy is refused.
      const scheduled = runner.run('astdb', 'schedule');
      await clock.advance(500);
      assert.equal((await scheduled).ran, true);
      await idle(runner);
      // Armed again once the scheduled copy ended.
      for (let i = 0; i < 50 && clock.pendingTimers() === 0; i++)
        await new Promise((res) => setTimeout(res, 20));
      await clock.advance(500);
      for (let i = 0; i < 100 && records.length < 2; i++) await new Promise((res) => setTimeout(res, 10));
      await idle(runner);
      assert.deepEqual(
        records.map((x) => [x.trigger, x.ok]),
        [
          ['schedule', true],
          ['change', true],
        ],
      );
    } finally {
      schedule.stop();
    }
  } finally {
    pair.close();
  }
});
