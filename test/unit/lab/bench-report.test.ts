import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whatRan } from '../../../scripts/bench-lib/report';
import type { BenchResults } from '../../../scripts/bench-lib/types';

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
