import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, ok, one } from './helpers';

test('[sync.db] mode = dump is the default and is accepted when written', () => {
  const absent = ok(BASE).replication.db;
  assert.deepEqual(ok(BASE + '[sync.db]\nmode = dump\n').replication.db, absent);
  assert.deepEqual(ok(BASE + '[sync.db]\nmode = Dump\n').replication.db, absent);
});

test("[sync.db] mode = streaming: Debian's cluster by default, or a pg_ctl layout key by key", () => {
  const db = ok(BASE + '[sync.db]\nmode = streaming\n').replication.db;
  assert.equal(db.mode, 'streaming');
  assert.deepEqual(db.streaming, {
    dataDir: '/var/lib/postgresql/15/main',
    configDir: '/etc/postgresql/15/main',
    binDir: '/usr/lib/postgresql/15/bin',
    control: { kind: 'pg_ctlcluster', version: '15', name: 'main' },
    role: 'pbx_ha_replica',
    maxSlotWalKeepMb: 1024,
    promoteTimeoutMs: 60_000,
    rejoinTimeoutMs: 900_000,
  });
  const other = ok(BASE + '[sync.db]\nmode = streaming\ncluster = 13/pbx\n').replication.db.streaming;
  assert.deepEqual(
    [other.dataDir, other.configDir, other.binDir],
    ['/var/lib/postgresql/13/pbx', '/etc/postgresql/13/pbx', '/usr/lib/postgresql/13/bin'],
  );
  const bare = ok(
    BASE +
      '[sync.db]\nmode = streaming\ncontrol = pg_ctl\ndata_directory = /srv/pg/data\nconfig_directory = /srv/pg/conf\nserver_log = /srv/pg/log\n',
  ).replication.db.streaming;
  assert.deepEqual(bare.control, { kind: 'pg_ctl', logFile: '/srv/pg/log' });
  assert.equal(bare.dataDir, '/srv/pg/data');
});

test('[sync.db] streaming keys: a bad value is named; an unknown mode is refused', () => {
  const q = one(BASE + '[sync.db]\nmode = replica\n');
  assert.deepEqual([q.key, q.value, q.problem], ['mode', 'replica', 'unknown database copy mode']);
  const r = one(BASE + '[sync.db]\nmode = streaming\ndata_directory = /srv/my data\n');
  assert.deepEqual([r.key, r.problem], ['data_directory', 'a space, quote or backslash in it']);
  const role = one(BASE + '[sync.db]\nmode = streaming\nreplication_role = Replica\n');
  assert.equal(role.key, 'replication_role');
  const host = one(BASE + '[sync.db]\nmode = streaming\nhost = 192.0.2.20\n');
  assert.equal(host.key, 'host');
});
