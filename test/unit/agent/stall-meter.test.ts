import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallMeter, stallMarginMs } from '../../../src/agent/stall-meter';

test('stallMarginMs: a quarter of the probe interval, at least 25 ms', () => {
  assert.equal(stallMarginMs(1000), 250);
  assert.equal(stallMarginMs(100), 25);
  assert.equal(stallMarginMs(50), 25);
});

test('StallMeter: on time or within the margin is no stall', () => {
  const m = new StallMeter(25);
  assert.equal(m.fired(1000, 1000), 0);
  assert.equal(m.fired(1000, 1025), 0);
  assert.equal(m.fired(1000, 1026), 26);
});

test('StallMeter: overdue timers of one stall count it once, the earliest-due one in full', () => {
  const m = new StallMeter(25);
  // Not running from 10 500 to 15 500: the probe round was due at 11 000, the deadline at 13 002.
  assert.equal(m.fired(11_000, 15_500), 4500);
  assert.equal(m.fired(13_002, 15_500), 0, 'the same span, already reported');
  assert.equal(m.fired(14_000, 15_501), 1, 'only what was not reported yet');
  // A later stall is new.
  assert.equal(m.fired(20_000, 20_300), 300);
});
