import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  endLsn,
  formatLsn,
  lagBytes,
  nextPgStep,
  parseLsn,
  parseTimelineHistory,
  type PgFacts,
  type PgObservation,
} from '../../../src/domain/pg-streaming';

const SYS = '7301234567890123456';

const primary = (timeline: number, lsn: string, history: Array<[number, string]> = []): PgObservation => ({
  kind: 'primary',
  systemId: SYS,
  timeline,
  history: history.map(([t, l]) => ({ timeline: t, switchLsn: parseLsn(l)! })),
  currentLsn: parseLsn(lsn)!,
  standbys: [],
});
const standby = (
  timeline: number,
  replay: string,
  streaming = true,
  receive: string | null = null,
): PgObservation => ({
  kind: 'standby',
  systemId: SYS,
  timeline,
  receiveLsn: receive === null ? null : parseLsn(receive)!,
  replayLsn: parseLsn(replay)!,
  streaming,
});
const stopped = (
  timeline: number,
  checkpoint: string,
  clean = true,
  standbyConfigured = false,
): PgObservation => ({
  kind: 'stopped',
  systemId: SYS,
  timeline,
  checkpointLsn: parseLsn(checkpoint)!,
  cleanShutdown: clean,
  standbyConfigured,
});
const unknown: PgObservation = { kind: 'unknown', reason: 'link down' };
const facts = (local: PgObservation, peer: PgObservation, more: Partial<PgFacts> = {}): PgFacts => ({
  local,
  peer,
  ...more,
});

test('LSNs read and print as PostgreSQL writes them; anything else is refused', () => {
  assert.equal(parseLsn('16/B374D848'), 0x16b374d848n);
  assert.equal(parseLsn(' 0/3000060\n'), 0x3000060n);
  assert.equal(formatLsn(0x16b374d848n), '16/B374D848');
  assert.equal(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF')!), 'FFFFFFFF/FFFFFFFF');
  for (const bad of ['', '0/', '/1', '123456789/0', '0/0x10', '1;2', '0/3000060 or 1'])
    assert.equal(parseLsn(bad), null, bad);
});

test('timeline histories are read line by line; a malformed or disordered one is not trusted', () => {
  assert.deepEqual(parseTimelineHistory('1\t0/3000060\tno recovery target specified\n\n2\t0/5000000\tx\n'), [
    { timeline: 1, switchLsn: 0x3000060n },
    { timeline: 2, switchLsn: 0x5000000n },
  ]);
  assert.deepEqual(parseTimelineHistory('# comment\n'), []);
  assert.equal(parseTimelineHistory('1 0/3000060\n1 0/4000000\n'), null);
  assert.equal(parseTimelineHistory('1 0/5000000\n2 0/4000000\n'), null);
  assert.equal(parseTimelineHistory('one 0/5000000\n'), null);
  assert.equal(parseTimelineHistory('0 0/5000000\n'), null);
});

test('lag is the WAL the standby has not replayed, only on the same timeline', () => {
  assert.equal(lagBytes(primary(1, '0/3000100'), standby(1, '0/3000000')), 0x100n);
  assert.equal(lagBytes(primary(1, '0/3000100'), standby(1, '0/3000100')), 0n);
  assert.equal(lagBytes(primary(2, '0/3000100'), standby(1, '0/3000000')), null);
  assert.equal(lagBytes(standby(1, '0/1'), primary(1, '0/1')), null);
  assert.equal(endLsn(standby(1, '0/10', false, '0/20')), 0x20n);
  assert.equal(endLsn(unknown), null);
});

// ---- serve (takeover) ----------------------------------------------------------------------------

test('serve: a standby whose peer is gone is promoted, before the services start', () => {
  const s = nextPgStep({ kind: 'serve', peerGone: true }, facts(standby(1, '0/3000000'), unknown));
  assert.equal(s.kind, 'promote');
  assert.equal(s.kind === 'promote' && s.behindBytes, null);
});

test('serve: an unknown peer not known to be gone blocks (it may still be primary)', () => {
  assert.equal(
    nextPgStep({ kind: 'serve', peerGone: false }, facts(standby(1, '0/3000000'), unknown)).kind,
    'blocked',
  );
});

test('serve: a peer still primary is stopped cleanly first, never two primaries', () => {
  const s = nextPgStep(
    { kind: 'serve', peerGone: false },
    facts(standby(1, '0/3000000'), primary(1, '0/3000000')),
  );
  assert.equal(s.kind, 'stop-peer');
  const other = { ...primary(1, '0/3000000'), systemId: '1' } as PgObservation;
  assert.equal(
    nextPgStep({ kind: 'serve', peerGone: false }, facts(standby(1, '0/3000000'), other)).kind,
    'blocked',
  );
});

test('serve: after the peer stopped cleanly, the promotion says whether the standby held its last record', () => {
  const got = nextPgStep(
    { kind: 'serve', peerGone: false },
    facts(standby(1, '0/3000100', false, '0/3000200'), stopped(1, '0/3000180')),
  );
  assert.deepEqual(got.kind === 'promote' && got.behindBytes, 0n);
  const short = nextPgStep(
    { kind: 'serve', peerGone: false },
    facts(standby(1, '0/3000100', false), stopped(1, '0/3000180')),
  );
  assert.deepEqual(short.kind === 'promote' && short.behindBytes, 0x80n);
});

test('serve: a stopped local server is started, an already primary one is done, an unknown one blocks', () => {
  assert.equal(
    nextPgStep({ kind: 'serve', peerGone: true }, facts(stopped(1, '0/1', true, true), unknown)).kind,
    'start',
  );
  assert.equal(nextPgStep({ kind: 'serve', peerGone: true }, facts(primary(2, '0/1'), unknown)).kind, 'done');
  assert.equal(nextPgStep({ kind: 'serve', peerGone: true }, facts(unknown, unknown)).kind, 'blocked');
});

test('serve: a stopped old primary is not started beside a peer that is primary', () => {
  const s = nextPgStep(
    { kind: 'serve', peerGone: false },
    facts(stopped(1, '0/1'), primary(2, '0/2', [[1, '0/1']])),
  );
  assert.equal(s.kind, 'blocked');
  assert.match(s.kind === 'blocked' ? s.reason : '', /must first stand by/);
  // Configured as a standby, it may start: it will follow.
  assert.equal(
    nextPgStep({ kind: 'serve', peerGone: false }, facts(stopped(1, '0/1', true, true), primary(2, '0/2')))
      .kind,
    'start',
  );
});

test('serve: this node primary and the peer primary too is a split', () => {
  const s = nextPgStep(
    { kind: 'serve', peerGone: false },
    facts(primary(2, '0/5000000', [[1, '0/4000000']]), primary(2, '0/6000000', [[1, '0/4500000']])),
  );
  assert.equal(s.kind, 'split');
});

// ---- stand-by (an old primary rejoins) -----------------------------------------------------------

const newPrimary = primary(2, '0/6000000', [[1, '0/5000000']]);

test('stand-by: an old primary with nothing past the fork is stopped, then follows as is', () => {
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(primary(1, '0/5000000'), newPrimary)).kind, 'stop');
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/4FFFF00'), newPrimary)).kind, 'follow');
  // A shutdown checkpoint written at the fork itself is not on the new timeline: rewound, not followed.
  assert.equal(
    nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/5000000'), newPrimary)).kind,
    'count-commits',
  );
  assert.equal(
    nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/4FFFF00', true, true), newPrimary)).kind,
    'start',
  );
});

test('stand-by: WAL past the fork is inspected, on a stopped server, before anything is rewound', () => {
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(primary(1, '0/5000100'), newPrimary)).kind, 'stop');
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(standby(1, '0/5000100'), newPrimary)).kind, 'stop');
  const s = nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/5000100'), newPrimary));
  assert.deepEqual(s, { kind: 'count-commits', timeline: 1, fromLsn: 0x5000000n });
  // A count for another fork point does not count.
  const stale = { timeline: 1, fromLsn: 0x4000000n, commits: 0 };
  assert.equal(
    nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/5000100'), newPrimary, { divergence: stale })).kind,
    'count-commits',
  );
});

test('stand-by: no commit past the fork → rewind (a running server is stopped cleanly first)', () => {
  const divergence = { timeline: 1, fromLsn: 0x5000000n, commits: 0 };
  assert.equal(
    nextPgStep({ kind: 'stand-by' }, facts(primary(1, '0/5000100'), newPrimary, { divergence })).kind,
    'stop',
  );
  const s = nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/5000100'), newPrimary, { divergence }));
  assert.deepEqual(s.kind === 'rewind' && s.forkLsn, 0x5000000n);
});

test('stand-by: a failed rewind → a new clone (the old data directory kept aside by the step)', () => {
  const divergence = { timeline: 1, fromLsn: 0x5000000n, commits: 0 };
  assert.equal(
    nextPgStep(
      { kind: 'stand-by' },
      facts(stopped(1, '0/5000100'), newPrimary, { divergence, rewindFailed: true }),
    ).kind,
    'clone',
  );
});

test('stand-by: commits past the fork are two primaries: split, both kept, a way out named', () => {
  const divergence = { timeline: 1, fromLsn: 0x5000000n, commits: 3 };
  const s = nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/5000100'), newPrimary, { divergence }));
  assert.equal(s.kind, 'split');
  assert.match(s.kind === 'split' ? s.reason : '', /committed 3 transaction\(s\) past 0\/5000000/);
  assert.match(s.kind === 'split' ? s.resolve : '', /pg_dumpall/);
});

test('stand-by: both promoted (same timeline number, or lineages apart) is a split', () => {
  assert.equal(
    nextPgStep({ kind: 'stand-by' }, facts(primary(2, '0/5000100', [[1, '0/4000000']]), newPrimary)).kind,
    'split',
  );
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(primary(3, '0/5000100'), newPrimary)).kind, 'split');
  // The peer's history does not go through timeline 2 of this node.
  const peer3 = primary(3, '0/7000000', [[1, '0/5000000']]);
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(stopped(2, '0/5000100'), peer3)).kind, 'split');
});

test('stand-by: another cluster is cloned; an uncleanly stopped server is started to recover first', () => {
  const other = { ...stopped(1, '0/1'), systemId: '42' } as PgObservation;
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(other, newPrimary)).kind, 'clone');
  const otherRunning = { ...primary(1, '0/1'), systemId: '42' } as PgObservation;
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(otherRunning, newPrimary)).kind, 'stop');
  assert.equal(
    nextPgStep({ kind: 'stand-by' }, facts(stopped(1, '0/5000100', false), newPrimary)).kind,
    'start',
  );
});

test('stand-by: a streaming standby waits until lag 0, then is done', () => {
  const w = nextPgStep({ kind: 'stand-by' }, facts(standby(2, '0/5FFFF00'), newPrimary));
  assert.deepEqual(w.kind === 'wait' && w.lagBytes, 0x100n);
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(standby(2, '0/6000000'), newPrimary)).kind, 'done');
  // Still on the old timeline before the fork: following it, not done.
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(standby(1, '0/4000000'), newPrimary)).kind, 'wait');
});

test('stand-by: without a primary to follow, a standby waits and anything else blocks', () => {
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(standby(1, '0/1'), unknown)).kind, 'wait');
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(primary(1, '0/1'), unknown)).kind, 'blocked');
  assert.equal(nextPgStep({ kind: 'stand-by' }, facts(unknown, newPrimary)).kind, 'blocked');
});

// ---- switchover (the failback hands the primary role back) ---------------------------------------

test('switchover: waits for lag 0, then stops the peer cleanly', () => {
  const w = nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/5FFFF00'), newPrimary));
  assert.deepEqual(w.kind === 'wait' && w.lagBytes, 0x100n);
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/6000000'), newPrimary)).kind,
    'stop-peer',
  );
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/6000000', false), newPrimary)).kind,
    'blocked',
  );
});

test("switchover: promotes only once it holds the peer's shutdown checkpoint, else restarts the peer", () => {
  const p = nextPgStep(
    { kind: 'switchover' },
    facts(standby(2, '0/6000000', false, '0/6000098'), stopped(2, '0/6000028')),
  );
  assert.deepEqual(p.kind === 'promote' && p.behindBytes, 0n);
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/6000000', false), stopped(2, '0/6000028'))).kind,
    'start-peer',
  );
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/6000100', false), stopped(2, '0/6000028', false)))
      .kind,
    'start-peer',
  );
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/6000100', false), stopped(3, '0/6000028'))).kind,
    'blocked',
  );
});

test('switchover: done once primary; an unreachable peer or a stopped local server blocks', () => {
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(primary(3, '0/7000000'), stopped(2, '0/6000028', true, true)))
      .kind,
    'done',
  );
  assert.equal(nextPgStep({ kind: 'switchover' }, facts(standby(2, '0/6000000'), unknown)).kind, 'blocked');
  assert.equal(
    nextPgStep({ kind: 'switchover' }, facts(stopped(2, '0/6000000'), newPrimary)).kind,
    'blocked',
  );
  assert.equal(
    nextPgStep(
      { kind: 'switchover' },
      facts(primary(3, '0/7000000', [[2, '0/6000000']]), primary(3, '0/7000000')),
    ).kind,
    'split',
  );
});
