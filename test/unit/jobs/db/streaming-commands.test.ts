import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DbSettingError } from '../../../../src/jobs/db/commands';
import {
  basebackupCommand,
  commitsAfterCommand,
  controlCommand,
  rewindCommand,
  sourceConninfo,
  type PgClusterLayout,
  type ReplicationSource,
} from '../../../../src/jobs/db/streaming-commands';
import {
  newReplicationSecret,
  splitResolution,
  HBA_BEGIN,
  HBA_END,
  passfileLine,
  serverSettings,
  standbySettings,
  withReplicationHba,
} from '../../../../src/jobs/db/streaming-files';
import { includesConfD } from '../../../../src/jobs/db/streaming-node';
import {
  parseIdentifySystem,
  parseTimelineHistoryAnswer,
  replicationCommand,
} from '../../../../src/jobs/db/streaming-remote';
import {
  countCommits,
  isEndOfWal,
  parseControlData,
  parseServerState,
  PgStateError,
} from '../../../../src/jobs/db/streaming-state';

const DEBIAN: PgClusterLayout = {
  dataDir: '/var/lib/postgresql/15/main',
  configDir: '/etc/postgresql/15/main',
  binDir: '/usr/lib/postgresql/15/bin',
  socketDir: '/run/postgresql',
  port: 5432,
  osUser: 'postgres',
  control: { kind: 'pg_ctlcluster', version: '15', name: 'main' },
};
const SOURCE: ReplicationSource = {
  host: '192.0.2.11',
  port: 5432,
  role: 'pbx_ha_replica',
  passfile: '/etc/postgresql/15/main/pbx-ha.pgpass',
  slot: 'pbx_ha_slave',
};

test("Debian's clusters are driven with pg_ctlcluster, a clean fast stop", () => {
  assert.deepEqual(controlCommand(DEBIAN, 'promote'), ['pg_ctlcluster', '15', 'main', 'promote']);
  assert.deepEqual(controlCommand(DEBIAN, 'stop'), ['pg_ctlcluster', '--mode', 'fast', '15', 'main', 'stop']);
  const bare = { ...DEBIAN, control: { kind: 'pg_ctl' as const, logFile: '/tmp/pg.log' } };
  assert.deepEqual(controlCommand(bare, 'stop').slice(0, 5), [
    'runuser',
    '-u',
    'postgres',
    '--',
    '/usr/lib/postgresql/15/bin/pg_ctl',
  ]);
  assert.ok(controlCommand(bare, 'stop').includes('fast'));
});

test('pg_basebackup and pg_rewind read the secret from the passfile, never from their arguments', () => {
  const clone = basebackupCommand(DEBIAN, SOURCE, DEBIAN.dataDir);
  assert.ok(
    clone.includes('--wal-method=stream') &&
      clone.includes('--slot=pbx_ha_slave') &&
      clone.includes('--no-password'),
  );
  assert.ok(
    clone.includes(
      'host=192.0.2.11 port=5432 user=pbx_ha_replica passfile=/etc/postgresql/15/main/pbx-ha.pgpass application_name=pbx_ha_clone connect_timeout=10 sslmode=prefer',
    ),
  );
  const rewind = rewindCommand(DEBIAN, SOURCE);
  assert.deepEqual(rewind.slice(4, 7), [
    '/usr/lib/postgresql/15/bin/pg_rewind',
    '--target-pgdata',
    DEBIAN.dataDir,
  ]);
  assert.ok(rewind.includes('--no-ensure-shutdown'));
  assert.ok(!rewind.join(' ').includes('password='));
});

test('no setting can add a keyword, an option or a path: each is refused', () => {
  const bad: Array<() => unknown> = [
    () => sourceConninfo({ ...SOURCE, host: '192.0.2.11 sslmode=disable' }, 'x'),
    () => sourceConninfo({ ...SOURCE, role: "pbx' or" }, 'x'),
    () => sourceConninfo({ ...SOURCE, slot: 'Slot-1' }, 'x'),
    () => sourceConninfo({ ...SOURCE, passfile: 'relative' }, 'x'),
    () => sourceConninfo({ ...SOURCE, passfile: '/etc/../tmp/x' }, 'x'),
    () => sourceConninfo(SOURCE, 'name with space'),
    () => controlCommand({ ...DEBIAN, dataDir: '/var/lib/postgresql/15/main dir' }, 'start'),
    () =>
      controlCommand(
        { ...DEBIAN, control: { kind: 'pg_ctlcluster', version: '15', name: '--foreground' } },
        'start',
      ),
    () => controlCommand({ ...DEBIAN, osUser: '-u' }, 'start'),
    () => commitsAfterCommand(DEBIAN, 0, '0/1'),
    () => commitsAfterCommand(DEBIAN, 1, '0/1 --end=0/2'),
  ];
  for (const f of bad) assert.throws(f, DbSettingError);
});

test("pg_hba.conf: pbx-ha's block first, for the peer's address only; replaced, never doubled", () => {
  const debian = 'local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n';
  const once = withReplicationHba(debian, 'pbx_ha_replica', '192.0.2.11');
  assert.deepEqual(once.split('\n').slice(0, 4), [
    HBA_BEGIN,
    'host replication pbx_ha_replica 192.0.2.11/32 scram-sha-256',
    'host postgres pbx_ha_replica 192.0.2.11/32 scram-sha-256',
    HBA_END,
  ]);
  assert.ok(once.endsWith(debian));
  const moved = withReplicationHba(once, 'pbx_ha_replica', '192.0.2.12');
  assert.equal(moved.split(HBA_BEGIN).length, 2);
  assert.ok(moved.includes('192.0.2.12/32') && !moved.includes('192.0.2.11/32'));
  assert.equal(withReplicationHba(once, 'pbx_ha_replica', '192.0.2.11'), once);
  assert.throws(() => withReplicationHba(debian, 'pbx_ha_replica', '0.0.0.0/0'), DbSettingError);
  assert.throws(() => withReplicationHba(debian, 'pbx_ha_replica', '192.0.2.11 trust'), DbSettingError);
  assert.throws(() => withReplicationHba(`${HBA_BEGIN}\n${debian}`, 'pbx_ha_replica', '192.0.2.11'), /half/);
});

test('settings and passfile: bounded, quoted, one line', () => {
  assert.match(serverSettings(2048), /^max_slot_wal_keep_size = 2048MB$/m);
  assert.match(serverSettings(2048), /^wal_log_hints = on$/m);
  assert.throws(() => serverSettings(0), DbSettingError);
  assert.match(
    standbySettings('host=192.0.2.11 port=5432', 'pbx_ha_slave'),
    /^primary_conninfo = 'host=192.0.2.11 port=5432'$/m,
  );
  assert.throws(() => standbySettings("host=x' primary_slot_name='y", 'pbx_ha_slave'), DbSettingError);
  assert.equal(
    passfileLine('192.0.2.11', 5432, 'pbx_ha_replica', 'abcdefghijklmnop_-1'),
    '192.0.2.11:5432:*:pbx_ha_replica:abcdefghijklmnop_-1\n',
  );
  assert.throws(() => passfileLine('192.0.2.11', 5432, 'pbx_ha_replica', 'short'), DbSettingError);
  assert.throws(
    () => passfileLine('192.0.2.11', 5432, 'pbx_ha_replica', 'has:colon:and\nnewline!'),
    DbSettingError,
  );
});

const STATE = (o: Record<string, unknown>) =>
  JSON.stringify({
    system_id: '7301234567890123456',
    in_recovery: false,
    timeline: 2,
    current_lsn: '0/3000248',
    receive_lsn: null,
    replay_lsn: null,
    streaming: false,
    history: '1\t0/3000218\tno recovery target specified\n',
    standbys: [
      { application_name: 'pbx_ha_master', state: 'streaming', replay_lsn: '0/3000248', replay_lag: 0.002 },
    ],
    ...o,
  });

test('the server state query is read into an observation; a malformed answer is refused', () => {
  const p = parseServerState(STATE({}));
  assert.equal(p.kind, 'primary');
  assert.deepEqual(p.kind === 'primary' && p.history, [{ timeline: 1, switchLsn: 0x3000218n }]);
  assert.deepEqual(p.kind === 'primary' && p.standbys[0].replayLagSeconds, 0.002);
  const s = parseServerState(
    STATE({
      in_recovery: true,
      current_lsn: null,
      receive_lsn: '0/3000300',
      replay_lsn: '0/3000248',
      streaming: true,
    }),
  );
  assert.deepEqual(s, {
    kind: 'standby',
    systemId: '7301234567890123456',
    timeline: 2,
    receiveLsn: 0x3000300n,
    replayLsn: 0x3000248n,
    streaming: true,
  });
  for (const bad of [
    'not json',
    STATE({ system_id: 'x' }),
    STATE({ timeline: 0 }),
    STATE({ current_lsn: "0/1'; DROP" }),
    STATE({ history: '2 0/1\n1 0/2\n' }),
    STATE({ history: null }),
    STATE({ standbys: 'many' }),
    'x'.repeat(300_000),
  ])
    assert.throws(() => parseServerState(bad), PgStateError, bad.slice(0, 60));
});

const CONTROL = (state: string) =>
  [
    'pg_control version number:            1300',
    'Database system identifier:           7301234567890123456',
    `Database cluster state:               ${state}`,
    'Latest checkpoint location:           0/3000A90',
    "Latest checkpoint's TimeLineID:       3",
    '',
  ].join('\n');

test('pg_controldata: a clean stop or a crash, the last checkpoint and its timeline', () => {
  assert.deepEqual(parseControlData(CONTROL('shut down'), false), {
    kind: 'stopped',
    systemId: '7301234567890123456',
    timeline: 3,
    checkpointLsn: 0x3000a90n,
    cleanShutdown: true,
    standbyConfigured: false,
  });
  const crashed = parseControlData(CONTROL('in production'), true);
  assert.equal(crashed.kind === 'stopped' && crashed.cleanShutdown, false);
  assert.throws(() => parseControlData('Database cluster state: shut down\n', false), PgStateError);
});

test('pg_waldump: commits counted; only the end of the valid WAL counts as its end', () => {
  const out = [
    'rmgr: Transaction len (rec/tot):     34/    34, tx:        735, lsn: 0/03000AC8, prev 0/03000A90, desc: COMMIT 2026-11-30 08:18:50.1 UTC',
    'rmgr: Transaction len (rec/tot):     34/    34, tx:        736, lsn: 0/03000B08, prev 0/03000AC8, desc: ABORT 2026-11-30 08:18:50.2 UTC',
    'rmgr: Transaction len (rec/tot):     34/    34, tx:        737, lsn: 0/03000B48, prev 0/03000B08, desc: COMMIT_PREPARED 2026-11-30',
  ].join('\n');
  assert.equal(countCommits(out), 2);
  assert.equal(countCommits(''), 0);
  assert.ok(
    isEndOfWal(
      'pg_waldump: error: error in WAL record at 0/3000B40: invalid record length at 0/3000BB8: wanted 24, got 0',
    ),
  );
  assert.ok(
    !isEndOfWal(
      'pg_waldump: error: could not find file "000000030000000000000003": No such file or directory',
    ),
  );
});

test("postgresql.conf must include conf.d, as Debian's does", () => {
  assert.ok(
    includesConfD("data_directory = '/x'\ninclude_dir = 'conf.d'\t# include files ending in '.conf'\n"),
  );
  assert.ok(!includesConfD("#include_dir = 'conf.d'\n"));
  assert.ok(!includesConfD("include_dir = 'other'\n"));
});

test('the replication protocol: IDENTIFY_SYSTEM and TIMELINE_HISTORY answers checked, commands fixed', () => {
  assert.deepEqual(parseIdentifySystem('7301234567890123456|2|0/3000248|\n'), {
    systemId: '7301234567890123456',
    timeline: 2,
    lsn: 0x3000248n,
  });
  for (const bad of ['', '7301|0|0/1|', 'x|2|0/1|', '7301|2|0/1|\n7301|2|0/1|', '7301|2|0/1'])
    assert.throws(() => parseIdentifySystem(bad), PgStateError, bad);
  assert.deepEqual(
    parseTimelineHistoryAnswer('00000002.history|1\t0/3000218\tno recovery target specified\n', 2),
    [{ timeline: 1, switchLsn: 0x3000218n }],
  );
  assert.throws(() => parseTimelineHistoryAnswer('00000003.history|1\t0/1\n', 2), PgStateError);
  assert.throws(() => parseTimelineHistoryAnswer('00000002.history|1\tzz\n', 2), PgStateError);
  const argv = replicationCommand(DEBIAN, SOURCE, { timelineHistory: 10 });
  assert.equal(argv[argv.length - 1], 'TIMELINE_HISTORY 10');
  assert.ok(argv.includes('-d') && argv[argv.indexOf('-d') + 1].includes('replication=true'));
  assert.throws(() => replicationCommand(DEBIAN, SOURCE, { timelineHistory: 1 }), PgStateError);
});

test('a split is resolved by commands named in full: dump kept, data moved aside, clone, start', () => {
  const text = splitResolution(DEBIAN, SOURCE, '/var/lib/pbx-ha/backup/postgresql-split.sql');
  const parts = text.split('; ');
  assert.match(
    parts[0],
    /pg_dumpall -h \/run\/postgresql -p 5432 -f \/var\/lib\/pbx-ha\/backup\/postgresql-split\.sql$/,
  );
  assert.deepEqual(parts.slice(1, 3), [
    'pg_ctlcluster --mode fast 15 main stop',
    'mv /var/lib/postgresql/15/main /var/lib/postgresql/15/main.split',
  ]);
  assert.match(
    parts[4],
    /pg_basebackup --pgdata \/var\/lib\/postgresql\/15\/main --dbname 'host=192\.0\.2\.11 .*' .*--write-recovery-conf$/,
  );
  assert.equal(parts[5], 'pg_ctlcluster 15 main start');
  assert.ok(!/\brm\b/.test(text), 'nothing deleted');
  const a = newReplicationSecret();
  assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, newReplicationSecret());
  assert.doesNotThrow(() => passfileLine('192.0.2.11', 5432, 'pbx_ha_replica', a));
});
