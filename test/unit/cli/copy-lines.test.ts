import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../../src/cli/status';
import type { JobState, StatusAnswer } from '../../../src/ports/status';

const NOW = Date.parse('2026-11-30T08:00:00.000Z');

function job(kind: JobState['kind'], lastSuccessAt: number | null): JobState {
  return {
    kind,
    running: false,
    lastSuccess:
      lastSuccessAt === null
        ? null
        : {
            kind,
            trigger: 'schedule',
            startedAtWallMs: lastSuccessAt,
            durationMs: 120,
            ok: true,
            bytes: 4096,
            detail: '',
            error: null,
          },
    lastError: null,
    consecutiveFailures: 0,
    nextRetryWallMs: null,
  };
}

function status(over: Partial<StatusAnswer>): StatusAnswer {
  return {
    node: 'pbx1',
    role: 'master',
    state: 'active',
    since: '2026-11-30T07:00:00.000Z',
    reason: 'r',
    pid: 1,
    configFile: '/etc/pbx-ha/pbx-ha.conf',
    peer: { name: 'pbx2', address: '192.0.2.2', reachability: 'up', lastAnswer: null, rttMs: null },
    vips: [],
    tracks: [],
    links: {},
    transitions: [],
    jobs: [job('files', NOW - 60_000), job('db', null), job('astdb', NOW - 5000)],
    nextRuns: { files: '2026-11-30T09:00:00.000Z', db: '2026-11-30T08:10:00.000Z', astdb: null },
    ...over,
  };
}

const copyLines = (text: string) => text.split('\n').filter((l) => /^copy |^spool /.test(l));

test('the node that sends shows, per kind, the last copy sent with its next run, and what it received', () => {
  const text = formatStatus(
    status({
      sends: true,
      received: [
        {
          kind: 'astdb',
          from: 'pbx2',
          atWallMs: NOW - 3_600_000,
          ok: true,
          detail: '12 keys',
          lastInstalledAtWallMs: null,
        },
      ],
      spool: { roots: ['/var/spool/asterisk/voicemail'], watching: true, restarts: 0, lastProblem: null },
    }),
    NOW,
  );
  assert.deepEqual(copyLines(text), [
    'copy files  sent     last success 2026-11-30T07:59:00.000Z (60 s ago), 120 ms, 4096 bytes; next 2026-11-30T09:00:00.000Z',
    'copy files  received none since the agent started',
    'copy db     sent     none since the agent started; next 2026-11-30T08:10:00.000Z',
    'copy db     received none since the agent started',
    'copy astdb  sent     last success 2026-11-30T07:59:55.000Z (5.0 s ago), 120 ms, 4096 bytes; next not scheduled',
    'copy astdb  received last 2026-11-30T07:00:00.000Z (3600 s ago) from pbx2: installed',
    'spool       copied on change: /var/spool/asterisk/voicemail',
  ]);
});

test('the node that stands by shows the copies it received, and no next run for jobs that do not run there', () => {
  const text = formatStatus(
    status({
      node: 'pbx2',
      role: 'slave',
      state: 'standby',
      jobs: [job('files', null), job('db', null), job('astdb', null)],
      sends: false,
      received: [
        {
          kind: 'files',
          from: 'pbx1',
          atWallMs: NOW - 2000,
          ok: true,
          detail: '1 paths installed',
          lastInstalledAtWallMs: NOW - 2000,
        },
        {
          kind: 'db',
          from: 'pbx1',
          atWallMs: NOW - 1000,
          ok: false,
          detail: 'db copy from pbx1 NOT installed, previous data kept: psql failed',
          lastInstalledAtWallMs: NOW - 3_600_000,
        },
      ],
      spool: { roots: [], watching: false, restarts: 0, lastProblem: null },
    }),
    NOW,
  );
  const lines = copyLines(text);
  assert.deepEqual(lines, [
    'copy files  sent     none since the agent started; no run here: this node sends no copies while standby',
    'copy files  received last 2026-11-30T07:59:58.000Z (2.0 s ago) from pbx1: installed',
    'copy db     sent     none since the agent started; no run here: this node sends no copies while standby',
    'copy db     received last 2026-11-30T07:59:59.000Z (1.0 s ago) from pbx1: NOT installed (db copy from pbx1 NOT installed, previous data kept: psql failed); last installed 2026-11-30T07:00:00.000Z (3600 s ago)',
    'copy astdb  sent     none since the agent started; no run here: this node sends no copies while standby',
    'copy astdb  received none since the agent started',
  ]);
  assert.doesNotMatch(text, /no success yet|next 20/);
});

test('a watcher that keeps dying is visible in status', () => {
  const text = formatStatus(
    status({
      sends: true,
      received: [],
      spool: {
        roots: ['/a', '/b'],
        watching: false,
        restarts: 3,
        lastProblem: 'inotifywait exited with code 1',
      },
    }),
    NOW,
  );
  assert.match(
    text,
    /^spool {7}NOT watched \(scheduled copy only\): \/a, \/b; watcher restarted 3 times, last: inotifywait exited with code 1$/m,
  );
});
