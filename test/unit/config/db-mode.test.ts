import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, FILE, ok, one } from './helpers';

test('[sync.db] mode = dump is the default and is accepted when written', () => {
  const absent = ok(BASE).replication.db;
  assert.deepEqual(ok(BASE + '[sync.db]\nmode = dump\n').replication.db, absent);
  assert.deepEqual(ok(BASE + '[sync.db]\nmode = Dump\n').replication.db, absent);
});

test('[sync.db] mode = streaming is refused by name, never run as dump in its place', () => {
  const p = one(BASE + '[sync.db]\nmode = streaming\n');
  assert.equal(
    p.message,
    `${FILE}:12: [sync.db] mode = "streaming": streaming replication is not yet supported; ` +
      'expected dump (the only mode supported)',
  );
  const q = one(BASE + '[sync.db]\nmode = replica\n');
  assert.deepEqual([q.key, q.value, q.problem], ['mode', 'replica', 'unknown database copy mode']);
});
