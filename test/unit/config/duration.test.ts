import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDurationMs, parseDurationMs } from '../../../src/config/duration';

test('parseDurationMs reads numbers with a unit, and a bare 0', () => {
  const table: Array<[string, number]> = [
    ['0', 0],
    ['0ms', 0],
    ['0s', 0],
    ['10ms', 10],
    ['200ms', 200],
    ['1s', 1000],
    ['1.5s', 1500],
    ['1.1s', 1100],
    ['0.25s', 250],
    ['2m', 120_000],
    ['1.5m', 90_000],
    ['1h', 3_600_000],
    [' 5s ', 5000],
  ];
  for (const [text, ms] of table) assert.equal(parseDurationMs(text), ms, text);
});

test('parseDurationMs refuses everything else', () => {
  const bad = [
    '',
    '1',
    '10',
    '1 sec',
    '1 s',
    '-1s',
    '+1s',
    'abc',
    's',
    '1sec',
    '1S',
    '1M',
    '.5s',
    '1.s',
    '0.5ms',
    '1e3ms',
    '1d',
    '1s2',
    '1,5s',
    'Infinity',
    'NaN',
    '00',
    '99999999999999999h',
  ];
  for (const text of bad) assert.equal(parseDurationMs(text), null, JSON.stringify(text));
});

test('formatDurationMs writes the shortest exact spelling, which reads back', () => {
  const table: Array<[number, string]> = [
    [0, '0'],
    [1, '1ms'],
    [200, '200ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1234, '1.234s'],
    [60_000, '1m'],
    [90_000, '90s'],
    [3_600_000, '1h'],
    [7_200_000, '2h'],
  ];
  for (const [ms, text] of table) {
    assert.equal(formatDurationMs(ms), text);
    assert.equal(parseDurationMs(text), ms, `${text} reads back`);
  }
  assert.equal(formatDurationMs(-1500), '-1.5s');
});
