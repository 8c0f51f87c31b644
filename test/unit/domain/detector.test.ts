import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detector, DetectorTiming } from '../../../src/domain/detector';
import {
  allowBlind,
  downDeadlineMs,
  evaluate,
  newDetector,
  recordAnswer,
  recordMiss,
  recordProofOfLife,
  resetBaseline,
} from '../../../src/domain/detector';

// interval 1s, fall 3, rise 3
const INTERVAL = 1000;
const T: DetectorTiming = { downAfterMs: 3 * INTERVAL, rise: 3 };

/** Answers to probes sent at `times`, each answered 2 ms later. */
function answered(d: Detector, ...times: number[]): Detector {
  for (const t of times) d = recordAnswer(d, T, t, t + 2);
  return d;
}

test('down exactly fall × interval after the last answer, not a moment before', () => {
  let d = answered(newDetector(0), 0, 1000, 2000);
  assert.equal(d.status, 'up');
  assert.equal(d.lastAnswerMs, 2002);
  assert.equal(downDeadlineMs(d, T), 5002);
  assert.equal(evaluate(d, T, 5001).status, 'up');
  d = evaluate(d, T, 5002);
  assert.equal(d.status, 'down');
  assert.equal(downDeadlineMs(d, T), null, 'no deadline once down');
});

test('with a probe timeout longer than the interval, still down on time (time since the last answer, not timeouts counted)', () => {
  const timeoutMs = 2500;
  let d = answered(newDetector(0), 0, 1000, 2000); // last answer at 2002
  // Probes sent at 3000, 4000 and 5000 time out at 5500, 6500 and 7500: counting three
  // timeouts would say "down" at 7500. No timeout is even in by the deadline (5002).
  assert.equal(evaluate(d, T, 5001).status, 'up');
  d = evaluate(d, T, 5002);
  assert.equal(d.status, 'down', 'down at lastAnswer + fall × interval, before any probe timed out');
  d = recordMiss(d, T, 3000, 3000 + timeoutMs);
  assert.equal(d.status, 'down', 'the late timeout changes nothing');
  assert.equal(d.lastAnswerMs, 2002);
});

test('a miss alone declares down only once the silence is long enough', () => {
  let d = answered(newDetector(0), 0, 1000, 2000); // last answer 2002
  d = recordMiss(d, T, 2000, 3000);
  d = recordMiss(d, T, 3000, 4000);
  assert.equal(d.status, 'up');
  d = recordMiss(d, T, 4000, 5002);
  assert.equal(d.status, 'down');
});

test('rise: up only after `rise` answers in a row', () => {
  let d = newDetector(0);
  assert.equal(d.status, 'unknown');
  d = answered(d, 0, 1000);
  assert.equal(d.status, 'unknown', 'two answers are not enough');
  assert.equal(d.answersInRow, 2);
  d = answered(d, 2000);
  assert.equal(d.status, 'up');
  assert.equal(d.everAnswered, true);
  assert.equal(d.lastRttMs, 2);
});

test('rise: a miss resets the count, so a flapping peer stays down', () => {
  let d = evaluate(newDetector(0), T, 3000);
  assert.equal(d.status, 'down');
  d = answered(d, 4000, 5000);
  d = recordMiss(d, T, 6000, 7000);
  assert.equal(d.answersInRow, 0);
  d = answered(d, 7000, 8000);
  assert.equal(d.status, 'down', 'answer, answer, miss, answer, answer: still down');
  d = answered(d, 9000);
  assert.equal(d.status, 'up', 'three in a row after the miss');
});

test('an answer while down pushes the deadline but the status stays down until rise', () => {
  let d = evaluate(newDetector(0), T, 3000);
  d = answered(d, 3500);
  assert.equal(d.status, 'down');
  assert.equal(d.lastAnswerMs, 3502);
  assert.equal(evaluate(d, T, 100_000).status, 'down');
});

test('resetBaseline: replies to probes sent before the reset are ignored', () => {
  let d = answered(newDetector(0), 0, 1000); // two answers in a row
  d = resetBaseline(d, 5000);
  assert.equal(d.status, 'unknown');
  assert.equal(d.answersInRow, 0);
  const late = recordAnswer(d, T, 4999, 5010);
  assert.deepEqual(late, d, 'an answer to a probe sent before the reset changes nothing');
  const lateMiss = recordMiss(d, T, 4000, 9000);
  assert.deepEqual(lateMiss, d, 'a miss of a probe sent before the reset changes nothing');
  d = recordAnswer(d, T, 5000, 5002);
  assert.equal(d.answersInRow, 1, 'a probe sent at the reset instant counts');
});

test('resetBaseline: the silence counts from the reset, not from the last answer', () => {
  let d = answered(newDetector(0), 0, 1000, 2000); // up, last answer 2002
  d = evaluate(d, T, 20_000);
  assert.equal(d.status, 'down');
  d = resetBaseline(d, 20_000);
  assert.equal(downDeadlineMs(d, T), 23_000);
  assert.equal(evaluate(d, T, 22_999).status, 'unknown');
  assert.equal(evaluate(d, T, 23_000).status, 'down');
});

test('allowBlind: time the agent could not run is not silence; the deadline moves by it', () => {
  let d = answered(newDetector(0), 0, 1000, 2000); // last answer at 2002, deadline 5002
  d = allowBlind(d, 1500);
  assert.equal(downDeadlineMs(d, T), 6502);
  assert.equal(evaluate(d, T, 6501).status, 'up');
  assert.equal(evaluate(d, T, 6502).status, 'down');
  // An answer ends the silence, and with it the allowance.
  d = recordAnswer(d, T, 3000, 3002);
  assert.equal(d.blindMs, 0);
  assert.equal(downDeadlineMs(d, T), 6002);
});

test('allowBlind: an agent often late still detects a death, after fall × interval of listening', () => {
  let d = answered(newDetector(0), 0, 1000, 2000); // last answer at 2002
  // Blind 500 ms in every second that follows: 3 s of listening take 6 s.
  let now = 2002;
  while (d.status !== 'down') {
    now += 500;
    d = evaluate(d, T, now); // listening
    if (d.status === 'down') break;
    now += 500;
    d = evaluate(allowBlind(d, 500), T, now); // blind, reported when it ends
    assert.ok(now < 20_000, 'never declared down');
  }
  assert.equal(now, 2002 + 2 * T.downAfterMs - 500);
  assert.equal(allowBlind(d, 500).status, 'down', 'nothing to allow once down');
});

test('proof of life: a down address is up at once, and down again fall × interval later if nothing answers', () => {
  let d = evaluate(answered(newDetector(0), 0, 1000, 2000), T, 5002);
  assert.equal(d.status, 'down');
  d = recordAnswer(d, T, 9000, 9002); // one answer of `rise`: still down
  assert.equal(d.status, 'down');
  d = recordProofOfLife(d, 9500);
  assert.equal(d.status, 'up');
  assert.equal(downDeadlineMs(d, T), 9500 + T.downAfterMs);
  // A probe sent before the proof times out after it: the count restarts, nothing is down.
  d = recordMiss(d, T, 9200, 10_200);
  assert.equal(d.status, 'up');
  assert.equal(evaluate(d, T, 9500 + T.downAfterMs - 1).status, 'up');
  assert.equal(evaluate(d, T, 9500 + T.downAfterMs).status, 'down');
  // Answers after it push the deadline on as usual.
  d = recordAnswer(d, T, 11_000, 11_002);
  assert.equal(downDeadlineMs(d, T), 11_002 + T.downAfterMs);
});
