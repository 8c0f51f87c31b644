import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport, targets, whatRan } from '../../../scripts/bench-lib/report';
import { dbReportLines, dbTarget } from '../../../scripts/bench-lib/db-loss';
import { failbackDataTarget } from '../../../scripts/bench-lib/failback-data';
import type {
  BenchResults,
  DbRun,
  FailbackDataRun,
  FailbackKind,
  OutageRun,
} from '../../../scripts/bench-lib/types';

function withOptions(options: BenchResults['options']): BenchResults {
  return { options } as BenchResults;
}

test('bench report: a partial run says what it ran, and claims no soak it did not run', () => {
  const partial = whatRan(
    withOptions({
      runs: 3,
      soakMinutes: 10,
      idleSeconds: 60,
      only: ['cut-link', 'dead-host', 'failback', 'idle'],
      timings: ['100ms'],
    }),
  );
  assert.equal(
    partial,
    'only cut-link, dead-host, failback, idle, 3 runs per figure, timings 100ms, idle use over 60 s, no soak',
  );
  assert.doesNotMatch(partial, /minute soak/);
  assert.equal(
    whatRan(
      withOptions({ runs: 10, soakMinutes: 2, idleSeconds: 30, only: ['soak'], timings: ['1s', '100ms'] }),
    ),
    'only soak, 2-minute soak at 100 ms',
  );
});

test('bench report: a full run names its runs, timings, idle window and soak', () => {
  assert.equal(
    whatRan(withOptions({ runs: 10, soakMinutes: 10, idleSeconds: 60, only: [], timings: ['1s', '100ms'] })),
    '10 runs per figure, timings 1s and 100ms, idle use over 60 s, 10-minute soak at 100 ms',
  );
});

test('bench report: a partial run of the database and failback-data parts says their modes, schedule and timing', () => {
  const r = {
    options: {
      runs: 3,
      soakMinutes: 10,
      idleSeconds: 60,
      only: ['db', 'failback-data'],
      timings: ['1s', '100ms'],
      dbModes: ['dump'],
    },
    failbackData: [],
  } as unknown as BenchResults;
  assert.equal(
    whatRan(r),
    'only db, failback-data, 3 runs per figure, database mode dump (dump `schedule = */15 * * * * *`) at timing 1s, ' +
      'failbacks with an astdb key, a spool file, a database row or nothing to bring back, at timing 1s, no soak',
  );
  // A results file from before these parts: nothing said about them.
  assert.doesNotMatch(
    whatRan(withOptions({ runs: 10, soakMinutes: 10, idleSeconds: 60, only: [], timings: ['1s', '100ms'] })),
    /database|failback/,
  );
});

test('bench report: a failback that left an item on the slave is a missed target, naming its kind; a refused streaming mode is no figure', () => {
  const run = (kind: FailbackKind, broughtBack: boolean | null): FailbackDataRun => ({
    kind,
    round: 1,
    at: '',
    returnToClaimMs: 4000,
    noHolderMs: 40,
    broughtBack,
  });
  const lost = failbackDataTarget([
    run('none', null),
    run('astdb', true),
    run('spool', false),
    run('db', false),
  ]);
  assert.equal(lost.ok, false);
  assert.equal(lost.measured, '2 of 3 items not on the master: a spool file (voicemail), a database row');
  assert.equal(failbackDataTarget([run('none', null), run('astdb', true)]).ok, true);
  assert.equal(failbackDataTarget([run('none', null)]).ok, null, 'nothing written: nothing judged');

  const refused: DbRun = {
    mode: 'streaming',
    round: 1,
    at: '',
    lossS: null,
    error: '[sync.db] mode = streaming: check-config refused the configuration: …',
  };
  const t = dbTarget([refused, { mode: 'dump', round: 1, at: '', lossS: 7.5 }]);
  assert.equal(t.ok, null);
  assert.match(t.measured, /^FAILED: \[sync\.db\] mode = streaming: check-config refused/);
  assert.match(
    dbReportLines([refused]).join('\n'),
    /streaming mode: median – s, worst – s \(0 runs\); 1 run\(s\) FAILED/,
  );
  assert.equal(dbTarget([{ mode: 'streaming', round: 1, at: '', lossS: 0.4 }]).ok, true);
  assert.equal(dbTarget([{ mode: 'streaming', round: 1, at: '', lossS: 1.4 }]).ok, false);
});

test("bench report: the failback target needs keepalived's median, a worst run ≤ 20 ms and no long double holding; idle memory is judged apart from CPU", () => {
  const outage = (agent: 'pbx-ha' | 'keepalived', outageMs: number, twoHoldersMs?: number): OutageRun => ({
    scenario: 'failback',
    timing: '100ms',
    agent,
    round: 1,
    at: '',
    outageMs,
    ...(twoHoldersMs === undefined ? {} : { twoHoldersMs }),
  });
  const results = (outages: OutageRun[], rssKbMean = 50 * 1024): BenchResults =>
    ({
      options: { runs: 1, soakMinutes: 0, idleSeconds: 60, only: [], timings: ['100ms'] },
      outages,
      astdb: [],
      idle: [
        {
          timing: '100ms',
          use: {
            'pbx-ha': {
              pbx1: { processes: [], cpuPercent: 0.3, rssKbMean, rssKbMax: rssKbMean, windowS: 60 },
              pbx2: { processes: [], cpuPercent: 0.2, rssKbMean, rssKbMax: rssKbMean, windowS: 60 },
            },
          },
        },
      ],
      soak: null,
      errors: [],
    }) as unknown as BenchResults;
  const find = (r: BenchResults, re: RegExp) => targets(r).find((t) => re.test(t.target))!;
  const fast = results([outage('pbx-ha', 8, 0), outage('keepalived', 9)]);
  assert.equal(find(fast, /failback.*worst ≤ 20 ms/).status, 'met');
  assert.equal(find(fast, /failback.*two holders/).status, 'met');
  assert.equal(find(fast, /idle CPU/).status, 'met');
  assert.equal(find(fast, /idle memory/).status, 'met');

  const slow = results([outage('pbx-ha', 12, 150), outage('keepalived', 9)], 80 * 1024);
  assert.equal(find(slow, /failback.*worst ≤ 20 ms/).status, 'missed', "above keepalived's median");
  assert.equal(
    find(slow, /failback.*two holders/).status,
    'missed',
    'two holders for 150 ms at 100 ms probes',
  );
  assert.equal(find(slow, /idle memory/).status, 'missed');
  assert.equal(find(slow, /idle CPU/).status, 'met', 'memory is judged apart from CPU');
  // The median alone is not enough: a worst run over 20 ms misses too; so does 0.5 % of a core.
  const slowWorst = results([
    outage('pbx-ha', 8, 0),
    outage('pbx-ha', 8, 0),
    outage('pbx-ha', 25, 0),
    outage('keepalived', 9),
  ]);
  assert.equal(find(slowWorst, /failback.*worst ≤ 20 ms/).status, 'missed', 'worst run 25 ms');
  const busy = results([outage('pbx-ha', 8, 0), outage('keepalived', 9)]);
  busy.idle[0].use['pbx-ha']!.pbx1!.cpuPercent = 0.5;
  assert.equal(find(busy, /idle CPU/).status, 'missed', '0.5 % of a core is over 0.4 %');
  // A run from before the sampler: no double-holding figure, no verdict.
  assert.equal(
    find(results([outage('pbx-ha', 8), outage('keepalived', 9)]), /two holders/).status,
    'not measured',
  );
});

test('bench report: notes said of a run after it ended are printed as they are, figures unchanged', () => {
  const base = {
    startedAt: '2026-11-30T14:58:00.000Z',
    durationS: 60,
    command: 'scripts/bench',
    machine: { cpus: 2, cpuModel: 'x', kernel: 'k', node: 'v20', keepalived: 'K', commit: 'c' },
    options: { runs: 1, soakMinutes: 0, idleSeconds: 0, only: ['db'], timings: ['1s'] },
    configs: {},
    pingIntervalMs: 10,
    outages: [],
    astdb: [],
    db: [{ mode: 'streaming', round: 1, at: '', lossS: 0.25 }],
    idle: [],
    soak: null,
    errors: [],
  } as unknown as BenchResults;
  const files = { chart: 'c.svg', resultsFile: 'r.json', performanceDoc: '../docs/performance.md' };
  const plain = renderReport(base, files);
  assert.doesNotMatch(plain, /Notes on this run/);
  const noted = renderReport({ ...base, notes: ['the dump rounds ran with extra writers'] }, files);
  assert.match(noted, /## Notes on this run\n\n- the dump rounds ran with extra writers\n/);
  assert.equal(noted.replace(/## Notes on this run\n\n- [^\n]*\n\n/, ''), plain);
});
