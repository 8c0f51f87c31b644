import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_DEFAULTS } from '../../../src/config/defaults';
import { formatProblem } from '../../../src/config/format';
import { BASE, FILE, ok, one, problems } from './helpers';

const DEFAULT_PATHS = [
  '/etc/asterisk',
  '/etc/xivo',
  '/var/lib/asterisk/sounds',
  '/var/lib/asterisk/moh',
  '/var/lib/asterisk/agi-bin',
  '/var/spool/asterisk/voicemail',
  '/var/spool/asterisk/monitor',
];
const DEFAULT_SPOOL = ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor'];

test('without the replication sections, every replication default applies', () => {
  const expected = {
    enabled: true,
    user: 'root',
    port: 22,
    keyPath: '/etc/pbx-ha/ssh/id_ed25519',
    knownHostsPath: '/etc/pbx-ha/ssh/known_hosts',
    connectTimeoutMs: 10_000,
    retryMinMs: 30_000,
    retryMaxMs: 600_000,
    alertAfter: 3,
    exchangeDir: '/var/lib/pbx-ha/exchange',
    backupDir: '/var/lib/pbx-ha/backup',
    keepBackups: 5,
    files: { schedule: '0 * * * *', timeoutMs: 1_800_000, paths: DEFAULT_PATHS, spool: DEFAULT_SPOOL },
    db: {
      schedule: '10 * * * *',
      timeoutMs: 1_800_000,
      database: 'asterisk',
      host: '/run/postgresql',
      port: 5432,
      user: 'postgres',
      excludeTables: ['cel', 'queue_log', 'call_log', 'stat_*'],
      mode: 'dump',
      streaming: CONFIG_DEFAULTS.replication.db.streaming,
    },
    astdb: {
      schedule: '*/2 * * * *',
      timeoutMs: 120_000,
      path: '/var/lib/asterisk/astdb.sqlite3',
      debounceMs: 2000,
    },
  };
  assert.deepEqual(ok(BASE).replication, expected);
  assert.deepEqual(CONFIG_DEFAULTS.replication, expected);
  // Empty sections are the same as absent ones.
  assert.deepEqual(ok(BASE + '[replication]\n[sync.files]\n[sync.db]\n[sync.astdb]\n').replication, expected);
  // The default lists are copies: changing one configuration's list does not change the defaults.
  const c = ok(BASE);
  c.replication.files.paths.push('/srv');
  assert.deepEqual(ok(BASE).replication.files.paths, DEFAULT_PATHS);
});

test('good values are read, normalised where they are paths', () => {
  const c = ok(
    BASE +
      `[replication]
enabled = False
user = pbx-sync.1
port = 65535
key = /etc//pbx-ha/ssh/id_ed25519/
connect_timeout = 5m
retry_min = 1h
retry_max = 1h
alert_after = 1000
keep_backups = 1
[sync.files]
schedule = 0 9 * * mon-fri
timeout = 24h
paths = "/etc/asterisk, /srv/my sounds"
[sync.db]
schedule = 0 0 * * * *
host = 192.0.2.20
port = 1
user = _sync
exclude_tables =
[sync.astdb]
schedule = 0  */4  *  *  *
timeout = 1s
debounce = 100ms
`,
  );
  const r = c.replication;
  assert.deepEqual(
    [
      r.enabled,
      r.user,
      r.port,
      r.keyPath,
      r.connectTimeoutMs,
      r.retryMinMs,
      r.retryMaxMs,
      r.alertAfter,
      r.keepBackups,
    ],
    [false, 'pbx-sync.1', 65535, '/etc/pbx-ha/ssh/id_ed25519', 300_000, 3_600_000, 3_600_000, 1000, 1],
  );
  assert.deepEqual(r.files, {
    schedule: '0 9 * * mon-fri',
    timeoutMs: 86_400_000,
    paths: ['/etc/asterisk', '/srv/my sounds'],
    // The default spool directories are not among these paths: no change-driven copy of them.
    spool: [],
  });
  assert.deepEqual(
    [r.db.schedule, r.db.host, r.db.port, r.db.user, r.db.excludeTables],
    ['0 0 * * * *', '192.0.2.20', 1, '_sync', []],
  );
  assert.deepEqual(r.astdb, {
    schedule: '0  */4  *  *  *',
    timeoutMs: 1000,
    path: '/var/lib/asterisk/astdb.sqlite3',
    debounceMs: 100,
  });
  assert.equal(ok(BASE + '[sync.astdb]\ndebounce = 1m\n').replication.astdb.debounceMs, 60_000);
  assert.equal(ok(BASE + '[sync.db]\nhost = localhost\n').replication.db.host, 'localhost');
});

test('each bad value names its section, key and value, and what was expected', () => {
  const cases: Array<[string, string, string, string, RegExp]> = [
    ['replication', 'enabled', 'maybe', '', /expected yes, no, true or false/],
    ['replication', 'user', '-oProxyCommand=x', '', /expected a user name on the peer: letters, digits/],
    ['replication', 'user', 'root@pbx2', '', /expected a user name on the peer/],
    ['replication', 'user', 'a'.repeat(33), '', /at most 32 characters/],
    ['replication', 'port', '0', 'out of range', /expected a whole number from 1 to 65535/],
    ['replication', 'port', '65536', 'out of range', /expected a whole number from 1 to 65535/],
    ['replication', 'port', 'ssh', '', /expected a whole number from 1 to 65535/],
    [
      'replication',
      'key',
      'id_ed25519',
      'not an absolute path',
      /expected an absolute path to pbx-ha's private key made of .*, such as \/etc\/pbx-ha\/ssh\/id_ed25519/,
    ],
    [
      'replication',
      'known_hosts',
      '/etc/pbx-ha/../known_hosts',
      '"." or ".." component in the path',
      /expected an absolute path to pbx-ha's known_hosts file/,
    ],
    ['replication', 'connect_timeout', '500ms', 'out of range', /expected a duration from 1s to 5m/],
    ['replication', 'connect_timeout', '10', '', /expected a duration such as 200ms, 1s or 2m/],
    ['replication', 'retry_min', '0', 'out of range', /expected a duration from 1s to 1h/],
    ['replication', 'retry_max', '25h', 'out of range', /expected a duration from 1s to 24h/],
    ['replication', 'retry_max', '2d', '', /expected a duration such as/],
    ['replication', 'alert_after', '0', 'out of range', /expected a whole number from 1 to 1000/],
    ['replication', 'alert_after', '1001', 'out of range', /expected a whole number from 1 to 1000/],
    [
      'replication',
      'exchange_dir',
      '/',
      'the root directory "/"',
      /expected a directory of pbx-ha's own: .*such as \/var\/lib\/pbx-ha\/exchange/,
    ],
    [
      'replication',
      'backup_dir',
      'backup',
      'not an absolute path',
      /expected a directory of pbx-ha.s own: .*such as \/var\/lib\/pbx-ha\/backup/,
    ],
    ['replication', 'keep_backups', '0', 'out of range', /expected a whole number from 1 to 1000/],
    ['replication', 'keep_backups', 'all', '', /expected a whole number from 1 to 1000/],
    ['sync.files', 'timeout', '0', 'out of range', /expected a duration from 1s to 24h/],
    ['sync.files', 'timeout', '25h', 'out of range', /expected a duration from 1s to 24h/],
    ['sync.db', 'timeout', '30 m', '', /expected a duration such as/],
    [
      'sync.db',
      'database',
      'asterisk-db',
      '',
      /expected a PostgreSQL database name: letters, digits and "_", not starting with a digit/,
    ],
    ['sync.db', 'database', '1db', '', /expected a PostgreSQL database name/],
    ['sync.db', 'database', 'dbname=x', '', /expected a PostgreSQL database name/],
    [
      'sync.db',
      'host',
      '-hevil',
      '',
      /expected a socket directory such as \/run\/postgresql, or a host name or IPv4 address/,
    ],
    ['sync.db', 'host', 'db..example.com', '', /expected a socket directory/],
    ['sync.db', 'host', '/run/../tmp', '"." or ".." component in the path', /expected a socket directory/],
    ['sync.db', 'port', '0', 'out of range', /expected a whole number from 1 to 65535/],
    ['sync.db', 'user', 'post gres', '', /expected a PostgreSQL role name/],
    ['sync.astdb', 'timeout', '2 m', '', /expected a duration such as/],
    [
      'sync.astdb',
      'path',
      'astdb.sqlite3',
      'not an absolute path',
      /expected an absolute path such as \/var\/lib\/asterisk\/astdb\.sqlite3/,
    ],
    ['sync.astdb', 'debounce', '50ms', 'out of range', /expected 0 or a duration from 100ms to 1m/],
    ['sync.astdb', 'debounce', '2m', 'out of range', /expected 0 or a duration from 100ms to 1m/],
  ];
  for (const [section, key, value, problem, expected] of cases) {
    const label = `[${section}] ${key} = ${value}`;
    const p = one(`${BASE}[${section}]\n${key} = ${value}\n`);
    assert.deepEqual([p.section, p.key, p.value, p.line], [section, key, value, 12], label);
    assert.equal(p.problem ?? '', problem, label);
    assert.ok(
      p.message.startsWith(`${FILE}:12: [${section}] ${key} = ${JSON.stringify(value)}: `),
      p.message,
    );
    assert.match(p.message, expected, label);
  }
});

test('one whole message, as an administrator sees it', () => {
  const p = one(BASE + '[sync.files]\npaths = /etc/asterisk, etc/xivo\n');
  assert.equal(
    p.message,
    '/etc/pbx-ha/pbx-ha.conf:12: [sync.files] paths = "etc/xivo": not an absolute path; ' +
      'expected comma-separated absolute paths such as /etc/asterisk, /var/spool/asterisk/voicemail',
  );
});

test('schedules are checked by node-cron', () => {
  const cases: Array<[string, RegExp]> = [
    ['0 * * *', /not a valid cron expression \(expected 5 or 6 fields but got 4\)/],
    ['61 * * * *', /not a valid cron expression \(bad minute field "61"\)/],
    ['0 25 * * *', /bad hour field "25"/],
    ['0 0 * * someday', /bad day-of-week field "someday"/],
    ['hourly', /not a valid cron expression/],
    ['*/0 * * * *', /bad minute field "\*\/0": a step of 0/],
    ['0 1-5/00 * * *', /bad hour field "1-5\/00": a step of 0/],
  ];
  for (const section of ['sync.files', 'sync.db', 'sync.astdb']) {
    for (const [schedule, problem] of cases) {
      const p = one(`${BASE}[${section}]\nschedule = ${schedule}\n`);
      assert.deepEqual([p.section, p.key, p.value], [section, 'schedule', schedule]);
      assert.match(p.message, problem, schedule);
      assert.match(
        p.message,
        /expected a cron expression: minute hour day-of-month month day-of-week, such as "0 \* \* \* \*"/,
      );
    }
  }
  const p = one(BASE + '[sync.files]\nschedule =\n');
  assert.match(p.message, /schedule = "": empty value; expected a cron expression/);
});

test('retry_max may not be shorter than retry_min', () => {
  let p = one(BASE + '[replication]\nretry_min = 5m\nretry_max = 1m\n');
  assert.deepEqual([p.section, p.key, p.value, p.line], ['replication', 'retry_max', '1m', 13]);
  assert.match(p.message, /retry_max shorter than retry_min; expected a duration at least retry_min \(5m\)/);
  // Only retry_min written, beyond retry_max's default of 10m: retry_min is the line to fix.
  p = one(BASE + '[replication]\nretry_min = 30m\n');
  assert.deepEqual([p.key, p.value], ['retry_min', '30m']);
  assert.match(
    p.message,
    /retry_min longer than retry_max; expected a duration at most retry_max \(10m, its default\), or a longer retry_max/,
  );
  ok(BASE + '[replication]\nretry_min = 30m\nretry_max = 30m\n');
  ok(BASE + '[replication]\nretry_max = 30s\n');
});

test('synced paths: absolute, no "." or "..", not "/", each once, none inside another', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['/etc/asterisk, asterisk', 'asterisk', /not an absolute path; expected comma-separated absolute paths/],
    ['./etc/asterisk', './etc/asterisk', /not an absolute path/],
    ['/etc/asterisk/../xivo', '/etc/asterisk/../xivo', /"\." or "\.\." component in the path/],
    ['/etc/./asterisk', '/etc/./asterisk', /"\." or "\.\." component in the path/],
    ['/', '/', /the root directory "\/"/],
    ['//', '//', /the root directory "\/"/],
    [
      '/etc/asterisk, /etc/asterisk',
      '/etc/asterisk',
      /path listed twice; expected each path once, none inside another/,
    ],
    ['/etc/asterisk, /etc//asterisk/', '/etc//asterisk/', /path listed twice/],
    [
      '/etc/asterisk, /etc/asterisk/sip.conf',
      '/etc/asterisk/sip.conf',
      /inside \/etc\/asterisk, listed before/,
    ],
    [
      '/etc/asterisk/sip.conf, /etc/asterisk',
      '/etc/asterisk',
      /contains \/etc\/asterisk\/sip\.conf, listed before/,
    ],
  ];
  for (const [paths, value, message] of cases) {
    const p = one(`${BASE}[sync.files]\npaths = ${paths}\n`);
    assert.deepEqual([p.section, p.key, p.value], ['sync.files', 'paths', value], paths);
    assert.match(p.message, message, paths);
  }
  // Names that merely start alike are not inside each other.
  assert.deepEqual(
    ok(BASE + '[sync.files]\npaths = /etc/asterisk, /etc/asterisk2\n').replication.files.paths,
    ['/etc/asterisk', '/etc/asterisk2'],
  );
  let p = one(BASE + '[sync.files]\npaths =\n');
  assert.match(p.message, /paths = "": empty value; expected comma-separated absolute paths/);
  p = one(BASE + '[sync.files]\npaths = " , "\n');
  assert.match(p.message, /empty value/);
  // Several bad items are each reported.
  assert.equal(problems(BASE + '[sync.files]\npaths = a, /b/../c, /srv, /srv\n').length, 3);
});

test('synced paths stay clear of system, pbx-ha, PostgreSQL and astdb areas, and of the SSH key', () => {
  const cases: Array<[string, RegExp]> = [
    [
      '/proc/sys',
      /inside \/proc \(not ordinary files\); expected paths of ordinary files, outside \/proc, \/sys, \/dev and \/run/,
    ],
    ['/sys', /is \/sys \(not ordinary files\)/],
    ['/dev/shm', /inside \/dev/],
    ['/run/asterisk', /inside \/run/],
    ['/var/run/asterisk', /inside \/var\/run/],
    [
      '/var/lib/pbx-ha',
      /is \/var\/lib\/pbx-ha \(pbx-ha's state directory\); expected paths apart from pbx-ha's own directories/,
    ],
    ['/var/lib/pbx-ha/exchange/incoming', /inside \/var\/lib\/pbx-ha \(pbx-ha's state directory\)/],
    ['/var/lib', /contains \/var\/lib\/pbx-ha \(pbx-ha's state directory\)/],
    [
      '/var/lib/postgresql/15/main',
      /inside \/var\/lib\/postgresql \(PostgreSQL's data directory\); expected paths apart from \/var\/lib\/postgresql/,
    ],
    [
      '/var/lib/asterisk',
      /contains \/var\/lib\/asterisk\/astdb\.sqlite3 \(\[sync\.astdb\] path\); expected paths that leave out astdb/,
    ],
    ['/var/lib/asterisk/astdb.sqlite3', /is \/var\/lib\/asterisk\/astdb\.sqlite3/],
    [
      '/etc/pbx-ha',
      /contains \/etc\/pbx-ha\/ssh\/id_ed25519 \(\[replication\] key\); expected paths that leave out pbx-ha's SSH key/,
    ],
  ];
  for (const [path, message] of cases) {
    const p = one(`${BASE}[sync.files]\npaths = /etc/asterisk, ${path}\n`);
    assert.deepEqual([p.section, p.key, p.value], ['sync.files', 'paths', path], path);
    assert.match(p.message, message, path);
  }
  // The areas follow the configured directories.
  let p = one(BASE + '[agent]\nstate_dir = /srv//pbx-ha/\n[sync.files]\npaths = /srv\n');
  assert.deepEqual([p.section, p.key, p.value], ['sync.files', 'paths', '/srv']);
  assert.match(p.message, /contains \/srv\/pbx-ha \(\[agent\] state_dir\)/);
  assert.deepEqual(
    problems(
      BASE +
        '[replication]\nbackup_dir = /srv/pbx-ha-backup\nknown_hosts = /root/pbx-ha/known_hosts\n[sync.files]\npaths = /srv/pbx-ha-backup/files, /root\n',
    ).map((x) => x.value),
    ['/srv/pbx-ha-backup/files', '/root'],
  );
  ok(BASE + '[sync.astdb]\npath = /srv/astdb.sqlite3\n[sync.files]\npaths = /var/lib/asterisk\n');
  // With the default paths, the key that moved into them is the one reported.
  p = one(BASE + '[agent]\nstate_dir = /var/lib/asterisk/sounds/pbx-ha\n');
  assert.deepEqual([p.section, p.key, p.value], ['agent', 'state_dir', '/var/lib/asterisk/sounds/pbx-ha']);
  assert.match(
    p.message,
    /inside \/var\/lib\/asterisk\/sounds, which \[sync\.files\] copies; expected a path apart from the \[sync\.files\] paths \(by default \/etc\/asterisk, \/etc\/xivo/,
  );
  p = one(BASE + '[sync.astdb]\npath = /etc/asterisk/astdb.sqlite3\n');
  assert.deepEqual([p.section, p.key], ['sync.astdb', 'path']);
  assert.match(p.message, /inside \/etc\/asterisk, which \[sync\.files\] copies/);
  p = one(BASE + '[replication]\nexchange_dir = /var/lib/asterisk/moh/pbx-ha\n');
  assert.deepEqual([p.section, p.key], ['replication', 'exchange_dir']);
  assert.match(p.message, /inside \/var\/lib\/asterisk\/moh, which \[sync\.files\] copies/);
});

test('the staging area and the backups are apart', () => {
  let p = one(BASE + '[replication]\nexchange_dir = /srv/pbx-ha-x\nbackup_dir = /srv/pbx-ha-x/\n');
  assert.deepEqual([p.key, p.value], ['backup_dir', '/srv/pbx-ha-x/']);
  assert.match(
    p.message,
    /same directory as exchange_dir; expected a directory apart from the staging area \(exchange_dir\)/,
  );
  p = one(BASE + '[replication]\nbackup_dir = /var/lib/pbx-ha/exchange/backup\n');
  assert.match(
    p.message,
    /backup_dir = "\/var\/lib\/pbx-ha\/exchange\/backup": inside exchange_dir \/var\/lib\/pbx-ha\/exchange/,
  );
  // Only exchange_dir written: it is the one reported.
  p = one(BASE + '[replication]\nexchange_dir = /var/lib/pbx-ha/backup/exchange\n');
  assert.deepEqual([p.key, p.value], ['exchange_dir', '/var/lib/pbx-ha/backup/exchange']);
  assert.match(p.message, /contains exchange_dir/);
  p = one(BASE + '[replication]\nbackup_dir = /var/lib/pbx-ha\n');
  assert.match(p.message, /contains exchange_dir \/var\/lib\/pbx-ha\/exchange/);
  ok(BASE + '[replication]\nexchange_dir = /srv/pbx-ha-exchange\nbackup_dir = /srv/pbx-ha-backup\n');
});

test('excluded tables: names or pg_dump patterns, each once', () => {
  assert.deepEqual(
    ok(BASE + '[sync.db]\nexclude_tables = cel, public.queue_log, stat_*, *_log, _x9\n').replication.db
      .excludeTables,
    ['cel', 'public.queue_log', 'stat_*', '*_log', '_x9'],
  );
  const cases: Array<[string, string, RegExp]> = [
    ['cel, *', '*', /expected comma-separated table names or pg_dump patterns .*not "\*" alone/],
    ['public.*', 'public.*', /not "\*" alone/],
    ['cel;drop', 'cel;drop', /table names or pg_dump patterns/],
    ['"cel"', 'cel', /./], // quotes around the whole value are removed: this one is good, see below
    ['queue-log', 'queue-log', /table names or pg_dump patterns/],
    ['a.b.c', 'a.b.c', /table names or pg_dump patterns/],
    ['stat_*.cel', 'stat_*.cel', /table names or pg_dump patterns/],
    ['cel, cel', 'cel', /listed twice; expected each item once/],
  ];
  for (const [list, value, message] of cases) {
    const text = `${BASE}[sync.db]\nexclude_tables = ${list}\n`;
    if (list === '"cel"') {
      assert.deepEqual(ok(text).replication.db.excludeTables, ['cel']);
      continue;
    }
    const p = one(text);
    assert.deepEqual([p.section, p.key, p.value], ['sync.db', 'exclude_tables', value], list);
    assert.match(p.message, message, list);
  }
});

test('unknown keys and sections, with a suggestion when one is close', () => {
  const keys: Array<[string, string, RegExp]> = [
    [
      'replication',
      'retry_mx',
      /unknown key \(did you mean "retry_max"\?\); expected one of: enabled, user, port, key, known_hosts, connect_timeout/,
    ],
    ['replication', 'enable', /did you mean "enabled"/],
    ['replication', 'identity', /unknown key; expected one of: enabled/],
    ['sync.files', 'path', /did you mean "paths"\?\); expected one of: schedule, timeout, paths/],
    [
      'sync.db',
      'timout',
      /did you mean "timeout"\?\); expected one of: schedule, timeout, database, host, port, user, exclude_tables/,
    ],
    ['sync.db', 'exclude_table', /did you mean "exclude_tables"/],
    [
      'sync.astdb',
      'debounse',
      /did you mean "debounce"\?\); expected one of: schedule, timeout, path, debounce/,
    ],
  ];
  for (const [section, key, message] of keys) {
    const p = one(`${BASE}[${section}]\n${key} = 1\n`);
    assert.deepEqual([p.section, p.key, p.value], [section, key, '1']);
    assert.match(p.message, message, key);
  }
  const sections: Array<[string, RegExp]> = [
    [
      'replicaton',
      /unknown section \(did you mean \[replication\]\?\); expected one of .*\[replication\], \[sync\.files\], \[sync\.db\], \[sync\.astdb\]/,
    ],
    [
      'sync.file',
      /unknown sync job \(did you mean \[sync\.files\]\?\); expected one of \[sync\.files\], \[sync\.db\], \[sync\.astdb\]/,
    ],
    ['sync.Astdb', /did you mean \[sync\.astdb\]/],
    ['sync.ldap', /unknown sync job; expected one of \[sync\.files\]/],
    ['sync', /\[sync\] needs the name of a job/],
    ['sync_db', /unknown section \(did you mean \[sync\.db\]\?\)/],
    ['synk.files', /did you mean \[sync\.files\]/],
    ['replication.main', /\[replication\] takes no name/],
  ];
  for (const [name, message] of sections) {
    const p = one(`${BASE}[${name}]\nenabled = yes\n`);
    assert.deepEqual([p.section, p.key, p.line], [name, null, 11]);
    assert.match(p.message, message, name);
  }
  // Older suggestions still work with the new sections around.
  assert.match(one(BASE + '[helth]\n').message, /did you mean \[health\]/);
  assert.match(one(BASE + '[nodes.pbx3]\naddress = 192.0.2.13\n').message, /did you mean \[node\.pbx3\]/);
});

test('every replication problem is reported at once, in file order', () => {
  const found = problems(
    BASE +
      `[replication]
port = 0
retry_min = 2m
retry_max = 1m
[sync.files]
schedule = every hour
paths = /etc/asterisk, /etc/asterisk
[sync.db]
database = my-db
exclude_tables = *
[sync.astdb]
path = astdb.sqlite3
debounce = 10ms
`,
  );
  assert.deepEqual(
    found.map((p) => [p.line, p.section, p.key]),
    [
      [12, 'replication', 'port'],
      [14, 'replication', 'retry_max'],
      [16, 'sync.files', 'schedule'],
      [17, 'sync.files', 'paths'],
      [19, 'sync.db', 'database'],
      [20, 'sync.db', 'exclude_tables'],
      [22, 'sync.astdb', 'path'],
      [23, 'sync.astdb', 'debounce'],
    ],
    found.map(formatProblem).join('\n'),
  );
});

test('[sync.files] spool: each one of the paths or inside one; empty turns the change copy off', () => {
  const files = (lines: string) =>
    ok(`${BASE}[sync.files]\npaths = /etc/asterisk, /var/spool/asterisk\n${lines}`).replication.files;
  assert.deepEqual(files('').spool, ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor']);
  assert.deepEqual(files('spool = /var/spool/asterisk/fax/\n').spool, ['/var/spool/asterisk/fax']);
  assert.deepEqual(files('spool = /var/spool/asterisk\n').spool, ['/var/spool/asterisk']);
  assert.deepEqual(files('spool =\n').spool, []);
  const p = one(`${BASE}[sync.files]\npaths = /etc/asterisk\nspool = /var/spool/asterisk/voicemail\n`);
  assert.deepEqual([p.section, p.key, p.value], ['sync.files', 'spool', '/var/spool/asterisk/voicemail']);
  assert.match(
    p.message,
    /not under any of the \[sync\.files\] paths; expected comma-separated absolute paths, each one of the \[sync\.files\] paths or inside one/,
  );
  const twice = one(
    `${BASE}[sync.files]\nspool = /var/spool/asterisk/voicemail, /var/spool/asterisk/voicemail/x\n`,
  );
  assert.match(twice.message, /inside \/var\/spool\/asterisk\/voicemail, listed before/);
});
