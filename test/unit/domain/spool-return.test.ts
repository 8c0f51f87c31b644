// The decision of a failback's spool return (domain/spool-return.ts): by content against the base,
// the slave (it served last) winning a file both changed, nothing removed without a base.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRootReturn, type RootListing } from '../../../src/domain/spool-return';

const R = '/var/spool/asterisk/voicemail';
const l = (entries: Record<string, [number, number]>): RootListing =>
  new Map(Object.entries(entries).map(([p, [size, mtime]]) => [p, { size, mtime }]));
const summary = (base: RootListing | null, slave: RootListing, master: RootListing) =>
  planRootReturn(R, base, slave, master).map((a) => `${a.kind} ${a.path}${a.conflict ? ' conflict' : ''}`);

test('created, changed, deleted on the slave only: applied; unchanged on the slave: the master kept', () => {
  const base = l({ kept: [1, 10], changed: [1, 10], deleted: [1, 10], mine: [1, 10] });
  const slave = l({ kept: [1, 10], changed: [2, 20], new: [3, 30], mine: [1, 10] });
  const master = l({ kept: [1, 10], changed: [1, 10], deleted: [1, 10], mine: [5, 50], ownNew: [1, 1] });
  assert.deepEqual(summary(base, slave, master), ['install changed', 'remove deleted', 'install new']);
});

test('changed on both sides: the slave wins, marked as a conflict; the same on both: nothing to do', () => {
  const base = l({ both: [1, 10], same: [1, 10], delBoth: [1, 10] });
  const slave = l({ both: [2, 20], same: [4, 40] });
  const master = l({ both: [3, 30], same: [4, 40], delBoth: [9, 90] });
  assert.deepEqual(summary(base, slave, master), ['install both conflict', 'remove delBoth conflict']);
});

test('without a base: the slave adds and replaces, never removes', () => {
  const slave = l({ a: [1, 1], b: [2, 2] });
  const master = l({ b: [3, 3], c: [4, 4] });
  assert.deepEqual(summary(null, slave, master), ['install a', 'install b conflict']);
});

test('deleted on both sides, or never on the slave since the base: nothing', () => {
  const base = l({ gone: [1, 1] });
  assert.deepEqual(summary(base, l({}), l({})), []);
  assert.deepEqual(summary(l({}), l({}), l({ masterOnly: [1, 1] })), []);
});
