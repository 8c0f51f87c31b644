import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DbSettingError,
  dumpCommand,
  listTablesCommand,
  pgEnvironment,
  restoreCommand,
} from '../../../../src/jobs/db/commands';
import { LIST_TABLES_SQL } from '../../../../src/jobs/db/listing';

const conn = { host: '/run/postgresql', port: 5432, user: 'postgres', database: 'asterisk' };

test('dumpCommand: data only, plain, triggers disabled, excluded tables, into a file', () => {
  assert.deepEqual(
    dumpCommand({ ...conn, excludeTableData: ['cel', 'stat_*'], file: '/tmp/x/asterisk.sql' }),
    [
      'pg_dump',
      '--data-only',
      '--no-owner',
      '--no-privileges',
      '--format=plain',
      '--disable-triggers',
      '--no-blobs',
      '--no-password',
      '-h',
      '/run/postgresql',
      '-p',
      '5432',
      '-U',
      'postgres',
      '--exclude-table-data=cel',
      '--exclude-table-data=stat_*',
      '--file=/tmp/x/asterisk.sql',
      'asterisk',
    ],
  );
});

test('dumpCommand: binDir, osUser and lock wait timeout', () => {
  const argv = dumpCommand({
    ...conn,
    host: '192.0.2.11',
    excludeTableData: [],
    file: '/d.sql',
    binDir: '/usr/lib/postgresql/15/bin',
    osUser: 'postgres',
    lockWaitTimeoutMs: 60_000,
  });
  assert.deepEqual(argv.slice(0, 5), [
    'runuser',
    '-u',
    'postgres',
    '--',
    '/usr/lib/postgresql/15/bin/pg_dump',
  ]);
  assert.ok(argv.includes('--lock-wait-timeout=60000ms'));
  assert.deepEqual(argv.slice(-8), [
    '-h',
    '192.0.2.11',
    '-p',
    '5432',
    '-U',
    'postgres',
    '--file=/d.sql',
    'asterisk',
  ]);
});

test('listTablesCommand: psql without psqlrc or prompt, unaligned, tuples only, the listing query', () => {
  assert.deepEqual(listTablesCommand(conn), [
    'psql',
    '-X',
    '--no-password',
    '-v',
    'ON_ERROR_STOP=1',
    '-A',
    '-t',
    '-h',
    '/run/postgresql',
    '-p',
    '5432',
    '-U',
    'postgres',
    '-d',
    'asterisk',
    '-c',
    LIST_TABLES_SQL,
  ]);
});

test('restoreCommand: one transaction, stop at the first error, quiet', () => {
  assert.deepEqual(restoreCommand({ ...conn, file: '/var/lib/pbx-ha/backup/db/.restore.sql' }), [
    'psql',
    '-X',
    '--no-password',
    '-v',
    'ON_ERROR_STOP=1',
    '-q',
    '--single-transaction',
    '-h',
    '/run/postgresql',
    '-p',
    '5432',
    '-U',
    'postgres',
    '-d',
    'asterisk',
    '-f',
    '/var/lib/pbx-ha/backup/db/.restore.sql',
  ]);
});

test('settings that could become options or connection strings are refused', () => {
  const bad: Array<Record<string, unknown>> = [
    { database: 'dbname=x host=evil' },
    { database: '-x' },
    { database: '' },
    { user: '-U' },
    { user: 'a b' },
    { port: 0 },
    { port: 70000 },
    { port: 5432.5 },
    { host: '-h' },
    { host: 'relative/dir' },
    { host: '' },
    { host: 'host=evil' },
    { binDir: 'bin' },
    { osUser: 'root;x' },
    { file: 'relative.sql' },
    { excludeTableData: ['-t'] },
    { excludeTableData: ['cel[0-9]'] },
  ];
  for (const b of bad) {
    assert.throws(
      () => dumpCommand({ ...conn, excludeTableData: [], file: '/d.sql', ...b } as never),
      Error,
      JSON.stringify(b),
    );
  }
  assert.throws(() => listTablesCommand({ ...conn, database: 'a=b' }), DbSettingError);
  assert.throws(() => restoreCommand({ ...conn, file: 'x.sql' }), DbSettingError);
});

test('pgEnvironment bounds the connection time and names the client', () => {
  const env = pgEnvironment({ PATH: '/usr/bin' });
  assert.deepEqual(env, { PATH: '/usr/bin', PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'pbx-ha' });
});
