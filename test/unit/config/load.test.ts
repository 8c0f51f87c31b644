import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_DEFAULTS } from '../../../src/config/defaults';
import { formatProblem } from '../../../src/config/format';
import { loadConfigFile } from '../../../src/config/load';
import type { PbxHaConfig } from '../../../src/config/types';
import { BASE, ok, one, problems } from './helpers';

// Tests run from dist/test/unit/config; fixtures and etc/ are read from the source tree.
const ROOT = path.join(__dirname, '../../../..');
const FIXTURES = path.join(ROOT, 'test/unit/config/fixtures');

function replace(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `base text contains ${from}`);
  return text.replace(from, to);
}

const DEFAULTS_AFTER_BASE = {
  health: { intervalMs: 1000, fall: 3, rise: 3, timeoutMs: 1000, track: [] },
  // No [track.*] section, no check: a plain file works on a machine without Asterisk.
  checks: [],
  failover: { failback: 'auto' as const, failbackDelayMs: 0 },
  metrics: { enabled: false, host: '127.0.0.1', port: 9549 },
  garp: { count: 5, intervalMs: 200, repeatAfterMs: 5000, refreshMs: 0 },
  services: { start: null, stop: null },
  notify: { script: null },
  agent: {
    reconcileIntervalMs: 5000,
    socketPath: '/run/pbx-ha/pbx-ha.sock',
    stateDir: '/var/lib/pbx-ha',
    releaseOnStop: true,
  },
  replication: {
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
    files: {
      schedule: '0 * * * *',
      timeoutMs: 1_800_000,
      paths: [
        '/etc/asterisk',
        '/etc/xivo',
        '/var/lib/asterisk/sounds',
        '/var/lib/asterisk/moh',
        '/var/lib/asterisk/agi-bin',
        '/var/spool/asterisk/voicemail',
        '/var/spool/asterisk/monitor',
      ],
      spool: ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor'],
    },
    db: {
      schedule: '10 * * * *',
      timeoutMs: 1_800_000,
      database: 'asterisk',
      host: '/run/postgresql',
      port: 5432,
      user: 'postgres',
      excludeTables: ['cel', 'queue_log', 'call_log', 'stat_*'],
      mode: 'dump' as const,
      streaming: CONFIG_DEFAULTS.replication.db.streaming,
    },
    astdb: {
      schedule: '*/2 * * * *',
      timeoutMs: 120_000,
      path: '/var/lib/asterisk/astdb.sqlite3',
      debounceMs: 2000,
    },
  },
};

test('a minimal file gets every default', () => {
  const file = path.join(FIXTURES, 'minimal.conf');
  const result = loadConfigFile(file);
  assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
  assert.deepEqual(result.config, {
    file,
    master: 'pbx1',
    slave: 'pbx2',
    nodes: [
      { name: 'pbx1', address: '192.0.2.11' },
      { name: 'pbx2', address: '192.0.2.12' },
    ],
    vips: [{ name: 'voip', address: '192.0.2.10', prefixLength: 24, interface: 'eth0', routes: [] }],
    ...DEFAULTS_AFTER_BASE,
  } satisfies PbxHaConfig);
});

test('a full file parses to exactly the values written', () => {
  const file = path.join(FIXTURES, 'full.conf');
  const result = loadConfigFile(file);
  assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
  assert.deepEqual(result.config, {
    file,
    master: 'pbx-a', // spelt as its section, although [cluster] wrote PBX-A
    slave: 'pbx-b',
    nodes: [
      { name: 'pbx-a', address: '192.0.2.11' },
      { name: 'pbx-b', address: '192.0.2.12' },
    ],
    vips: [
      {
        name: 'voip',
        address: '192.0.2.10',
        prefixLength: 24,
        interface: 'eth0',
        routes: [
          { destination: '203.0.113.0/24', via: '192.0.2.1', text: '203.0.113.7/24 via 192.0.2.1' },
          { destination: '198.18.0.0/15', via: null, text: '198.18.0.0/15' },
          { destination: 'default', via: '192.0.2.254', text: 'default via 192.0.2.254' },
        ],
      },
      { name: 'data', address: '198.51.100.10', prefixLength: 31, interface: 'eth1.100', routes: [] },
    ],
    health: { intervalMs: 500, fall: 4, rise: 2, timeoutMs: 1500, track: ['192.0.2.1', '198.51.100.11'] },
    checks: [
      {
        name: 'asterisk',
        command: ['/usr/sbin/asterisk', '-rx', 'core show uptime'],
        intervalMs: 10_000,
        timeoutMs: 9500,
        rise: 1,
        fall: 5,
      },
      {
        name: 'sip_port-5060',
        command: ['/usr/local/lib/pbx checks/sip', '--port=5060'],
        intervalMs: 100,
        timeoutMs: 10,
        rise: 100,
        fall: 100,
      },
    ],
    // The one default value left: failback_delay must be 0 with manual (see failover-metrics tests).
    failover: { failback: 'manual', failbackDelayMs: 0 },
    garp: { count: 3, intervalMs: 0, repeatAfterMs: 0, refreshMs: 120_000 },
    services: {
      start: { argv: ['/usr/local/bin/pbx', 'start all', '--reason=fail over'], timeoutMs: 120_000 },
      stop: { argv: ['/usr/local/bin/pbx', 'stop'], timeoutMs: 120_000 },
    },
    notify: { script: { argv: ['/etc/pbx-ha/my notify', '--mail=root@example.com'], timeoutMs: 3000 } },
    agent: {
      reconcileIntervalMs: 1500,
      socketPath: '/run/pbx-ha/test.sock',
      stateDir: '/srv/pbx-ha',
      releaseOnStop: false,
    },
    replication: {
      enabled: false,
      user: 'pbxsync',
      port: 2222,
      keyPath: '/srv/pbx-ha/ssh/key',
      knownHostsPath: '/srv/pbx-ha/ssh/known_hosts',
      connectTimeoutMs: 5000,
      retryMinMs: 10_000,
      retryMaxMs: 3_600_000,
      alertAfter: 1,
      exchangeDir: '/srv/pbx-ha/exchange',
      backupDir: '/srv/backup/pbx-ha',
      keepBackups: 20,
      files: {
        schedule: '15 3 * * *',
        timeoutMs: 7_200_000,
        paths: ['/etc/asterisk', '/usr/share/asterisk/sounds', '/var/spool/asterisk'],
        spool: ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor'],
      },
      db: {
        schedule: '*/30 * * * *',
        timeoutMs: 600_000,
        database: 'wazo_db',
        host: 'db.example.com',
        port: 5433,
        user: 'asterisk_sync',
        excludeTables: ['public.cel', '*_log', 'stat_call_on_queue'],
        mode: 'dump',
        streaming: CONFIG_DEFAULTS.replication.db.streaming,
      },
      astdb: {
        schedule: '*/30 * * * * *',
        timeoutMs: 30_000,
        path: '/srv/asterisk/astdb.sqlite3',
        debounceMs: 0,
      },
    },
    metrics: { enabled: true, host: '2001:db8::10', port: 9100 },
  } satisfies PbxHaConfig);
});

test('the shipped etc/pbx-ha.conf is valid and matches the documented shape', () => {
  const file = path.join(ROOT, 'etc/pbx-ha.conf');
  const result = loadConfigFile(file);
  assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
  const c = result.config;
  assert.equal(c.master, 'pbx1');
  assert.equal(c.slave, 'pbx2');
  assert.deepEqual(
    c.vips.map((v) => `${v.name} ${v.address}/${v.prefixLength} ${v.interface}`),
    ['voip 192.0.2.10/24 eth0', 'data 198.51.100.10/24 eth1'],
  );
  assert.deepEqual(c.health, { intervalMs: 1000, fall: 3, rise: 3, timeoutMs: 1000, track: ['192.0.2.1'] });
  // Where the shipped file writes a default, it must be the default the code applies.
  assert.deepEqual(c.garp, DEFAULTS_AFTER_BASE.garp);
  assert.deepEqual(c.agent, DEFAULTS_AFTER_BASE.agent);
  assert.equal(c.services.start?.timeoutMs, 60_000);
  assert.deepEqual(c.services.start?.argv, ['/usr/bin/xivo-service', 'start']);
  assert.equal(c.notify.script, null);
  assert.deepEqual(c.replication, DEFAULTS_AFTER_BASE.replication);
  // The Asterisk check is shown commented out: the shipped file tracks no command.
  assert.deepEqual(c.checks, []);
  assert.deepEqual(c.failover, DEFAULTS_AFTER_BASE.failover);
  assert.deepEqual(c.metrics, DEFAULTS_AFTER_BASE.metrics);
});

test('the commented-out [track.asterisk] of etc/pbx-ha.conf is valid once uncommented, at the defaults', () => {
  const text = readFileSync(path.join(ROOT, 'etc/pbx-ha.conf'), 'utf8');
  const lines = text.split('\n');
  const start = lines.indexOf(';[track.asterisk]');
  assert.ok(start >= 0, 'etc/pbx-ha.conf shows ;[track.asterisk]');
  // Uncomment the header and the `;key = value` lines after it, as an administrator would.
  let end = start + 1;
  while (end < lines.length && lines[end].startsWith(';') && !lines[end].startsWith(';[')) end++;
  const block = lines
    .slice(start, end)
    .filter((l) => /^;(\[|[a-z_]+ = )/.test(l))
    .map((l) => l.slice(1));
  assert.deepEqual(
    block.map((l) => l.split(' ')[0]),
    ['[track.asterisk]', 'command', 'interval', 'timeout', 'rise', 'fall'],
  );
  const c = ok(BASE + block.join('\n') + '\n');
  assert.deepEqual(c.checks, [
    {
      name: 'asterisk',
      command: ['/usr/sbin/asterisk', '-rx', 'core show uptime'],
      ...CONFIG_DEFAULTS.track,
    },
  ]);
  // And uncommented in place, the whole shipped file still loads.
  const uncommented = [
    ...lines.slice(0, start),
    ...lines.slice(start, end).map((l) => (/^;(\[|[a-z_]+ = )/.test(l) ? l.slice(1) : l)),
    ...lines.slice(end),
  ];
  assert.equal(ok(uncommented.join('\n')).checks.length, 1);
});

test('CONFIG_DEFAULTS holds the defaults the validator applies', () => {
  const c = ok(BASE);
  assert.deepEqual(c.replication, CONFIG_DEFAULTS.replication);
  assert.deepEqual(c.garp, CONFIG_DEFAULTS.garp);
  assert.deepEqual(c.agent, CONFIG_DEFAULTS.agent);
  assert.deepEqual(c.failover, CONFIG_DEFAULTS.failover);
  assert.deepEqual(c.metrics, CONFIG_DEFAULTS.metrics);
  const check = ok(BASE + '[track.x]\ncommand = /bin/true\n').checks[0];
  assert.deepEqual(check, { name: 'x', command: ['/bin/true'], ...CONFIG_DEFAULTS.track });
});

test('a file with six different mistakes gets six problems, in file order', () => {
  const result = loadConfigFile(path.join(FIXTURES, 'six-mistakes.conf'));
  assert.equal(result.ok, false);
  const found = result.ok ? [] : result.problems;
  assert.deepEqual(
    found.map((p) => [p.line, p.section, p.key, p.value]),
    [
      [10, 'node.pbx2', 'address', '192.0.2.12/24'],
      [14, 'vip.voip', 'address', '192.0.2.255/24'],
      [19, 'health', 'interval', '1 sec'],
      [21, 'health', 'intreval', '1s'],
      [25, 'garp', 'count', '0'],
      [29, 'services', 'start', '/usr/bin/xivo-service start | logger'],
    ],
    found.map(formatProblem).join('\n'),
  );
  const messages = found.map(formatProblem);
  assert.match(messages[0], /prefix length is not allowed/);
  assert.match(messages[1], /broadcast address/);
  assert.match(messages[2], /expected a duration such as 200ms, 1s or 2m/);
  assert.match(messages[3], /did you mean "interval"/);
  assert.match(messages[4], /expected a whole number from 1 to 100/);
  assert.match(messages[5], /no shell is used/);
});

test('the message names file, line, section, key, value and what was expected', () => {
  const p = one(BASE + '[health]\ninterval = 1 sec\n');
  assert.deepEqual([p.section, p.key, p.value, p.line], ['health', 'interval', '1 sec', 12]);
  assert.equal(
    p.message,
    '/etc/pbx-ha/pbx-ha.conf:12: [health] interval = "1 sec": expected a duration such as 200ms, 1s or 2m (units ms, s, m, h; 0 for zero)',
  );
});

test('unknown sections, with a suggestion when one is close', () => {
  let p = one(BASE + '[helth]\ninterval = 1s\n');
  assert.deepEqual([p.section, p.key, p.line], ['helth', null, 11]);
  assert.match(
    p.message,
    /unknown section \(did you mean \[health\]\?\); expected one of \[cluster\], \[node\.NAME\]/,
  );
  p = one(BASE + '[nodes.pbx3]\naddress = 192.0.2.13\n');
  assert.match(p.message, /did you mean \[node\.pbx3\]/);
  p = one(BASE + '[firewall]\n');
  assert.match(p.message, /unknown section; expected one of/);
  p = one(BASE + '[health.extra]\n');
  assert.match(p.message, /\[health\] takes no name/);
  p = one(BASE + '[vip.bad name]\naddress = 192.0.2.20/24\n');
  assert.match(p.message, /bad VIP name/);
  p = one(BASE + '[node.under_score]\naddress = 192.0.2.20\n');
  assert.match(p.message, /bad node name/);
});

test('unknown keys, with a suggestion when one is close', () => {
  let p = one(BASE + '[health]\nintreval = 1s\n');
  assert.deepEqual([p.section, p.key, p.value], ['health', 'intreval', '1s']);
  assert.match(
    p.message,
    /unknown key \(did you mean "interval"\?\); expected one of: interval, fall, rise, timeout, track/,
  );
  p = one(BASE + '[agent]\nrelease_on_stp = no\n');
  assert.match(p.message, /did you mean "release_on_stop"/);
  p = one(replace(BASE, 'interface = eth0', 'interface = eth0\ncolour = blue'));
  assert.deepEqual([p.section, p.key], ['vip.voip', 'colour']);
  assert.match(p.message, /unknown key; expected one of: address, interface, route/);
});

test('missing required keys and sections', () => {
  let p = one(replace(BASE, 'interface = eth0\n', ''));
  assert.deepEqual([p.section, p.key, p.value, p.line], ['vip.voip', 'interface', null, 8]);
  assert.match(
    p.message,
    /:8: \[vip\.voip\] interface: missing required key; expected a Linux interface name/,
  );
  p = one(replace(BASE, 'address = 192.0.2.12\n', ''));
  assert.deepEqual([p.section, p.key], ['node.pbx2', 'address']);
  p = one(replace(BASE, 'slave = pbx2\n', ''));
  assert.deepEqual([p.section, p.key], ['cluster', 'slave']);
  p = one(replace(BASE, 'slave = pbx2\n', 'slave =\n'));
  assert.match(p.message, /slave = "": empty value/);
  p = one(BASE.slice(BASE.indexOf('[node.pbx1]')));
  assert.deepEqual([p.section, p.key, p.line], ['cluster', null, undefined]);
  assert.match(p.message, /^\/etc\/pbx-ha\/pbx-ha\.conf: \[cluster\]: missing section/);
  p = one(BASE.slice(0, BASE.indexOf('[vip.voip]')));
  assert.equal(p.section, 'vip.NAME');
  assert.match(p.message, /at least one \[vip\.NAME\] section/);
});

test('bad durations and numbers, and their ranges', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['[health]\ninterval = 1', 'interval', /expected a duration such as/],
    ['[health]\ninterval = -1s', 'interval', /expected a duration such as/],
    ['[health]\ninterval = abc', 'interval', /expected a duration such as/],
    ['[health]\ninterval = 5ms', 'interval', /out of range; expected a duration from 10ms to 1m/],
    ['[health]\ninterval = 0', 'interval', /out of range/],
    ['[health]\nfall = three', 'fall', /expected a whole number from 1 to 100/],
    ['[health]\nfall = 1.5', 'fall', /expected a whole number from 1 to 100/],
    ['[health]\nrise = 101', 'rise', /out of range; expected a whole number from 1 to 100/],
    ['[garp]\ncount = -1', 'count', /whole number from 1 to 100/],
    ['[garp]\nrefresh = 500ms', 'refresh', /expected 0 or a duration from 1s to 24h/],
    ['[services]\ntimeout = 0', 'timeout', /from 1s to 1h/],
    ['[agent]\nreconcile_interval = 2 s', 'reconcile_interval', /duration/],
    ['[agent]\nrelease_on_stop = maybe', 'release_on_stop', /expected yes, no, true or false/],
  ];
  for (const [text, key, message] of cases) {
    const p = one(BASE + text + '\n');
    assert.equal(p.key, key, text);
    assert.equal(p.value, text.split(' = ')[1], text);
    assert.match(p.message, message, text);
  }
});

test('the probe timeout may not exceed fall × interval; by default it is the interval', () => {
  const p = one(BASE + '[health]\ninterval = 100ms\nfall = 2\ntimeout = 300ms\n');
  assert.deepEqual([p.section, p.key, p.value], ['health', 'timeout', '300ms']);
  assert.match(
    p.message,
    /timeout longer than the detection time; expected at most fall × interval = 2 × 100ms = 200ms/,
  );
  assert.equal(ok(BASE + '[health]\ninterval = 250ms\n').health.timeoutMs, 250);
  assert.equal(ok(BASE + '[health]\ninterval = 100ms\nfall = 2\ntimeout = 200ms\n').health.timeoutMs, 200);
});

test('bad IPv4 addresses and CIDRs', () => {
  let p = one(replace(BASE, 'address = 192.0.2.11', 'address = 192.0.2.300'));
  assert.deepEqual([p.section, p.key, p.value], ['node.pbx1', 'address', '192.0.2.300']);
  assert.match(p.message, /expected the IPv4 address the peer probes, without prefix/);
  p = one(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.10'));
  assert.match(p.message, /the prefix length is missing; expected an IPv4 address with its prefix length/);
  p = one(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.10/33'));
  assert.equal(p.value, '192.0.2.10/33');
  p = one(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.10/0'));
  assert.match(p.message, /prefix length from 1 to 32/);
  p = one(BASE + '[health]\ntrack = 192.0.2.1, 192.0.2.x\n');
  assert.deepEqual([p.key, p.value], ['track', '192.0.2.x']);
  assert.match(p.message, /comma-separated IPv4 addresses/);
});

test('a VIP may not be the network or broadcast address of its prefix', () => {
  let p = one(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.0/24'));
  assert.match(
    p.message,
    /\[vip\.voip\] address = "192\.0\.2\.0\/24": this is the network address of its subnet; expected a host address inside 192\.0\.2\.0\/24/,
  );
  p = one(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.127/25'));
  assert.match(p.message, /broadcast address/);
  // /31 and /32 have neither (RFC 3021).
  ok(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.10/31'));
  ok(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.10/32'));
});

test('routes: syntax, gateway inside the VIP subnet, no duplicates', () => {
  const withRoute = (route: string, more = ''): string =>
    replace(BASE, 'interface = eth0\n', `interface = eth0\nroute = ${route}\n`) + more;
  let p = one(withRoute('203.0.113.0/24 via 198.51.100.1'));
  assert.deepEqual([p.section, p.key, p.value], ['vip.voip', 'route', '203.0.113.0/24 via 198.51.100.1']);
  assert.match(
    p.message,
    /gateway not reachable from the VIP; expected a gateway inside the VIP's subnet 192\.0\.2\.0\/24/,
  );
  p = one(withRoute('default via 192.0.2.10'));
  assert.match(p.message, /other than the VIP itself/);
  p = one(withRoute('203.0.113.0/24 gw 192.0.2.1'));
  assert.match(p.message, /expected routes such as "default via 192\.0\.2\.1"/);
  p = one(withRoute('203.0.113.9 via 192.0.2.1'));
  assert.match(p.message, /203\.0\.113\.9\/32 for one host/);
  p = one(withRoute('default via 192.0.2.1x'));
  assert.match(p.message, /IPv4 gateway after "via"/);
  p = one(withRoute('192.0.2.0/24'));
  assert.match(p.message, /route to the VIP's own subnet/);
  p = one(
    withRoute(
      'default via 192.0.2.1',
      '[vip.data]\naddress = 198.51.100.10/24\ninterface = eth1\nroute = default via 198.51.100.1\n',
    ),
  );
  assert.deepEqual([p.section, p.value], ['vip.data', 'default via 198.51.100.1']);
  assert.match(p.message, /destination already routed by \[vip\.voip\]/);
  // Several problems in one route list are each reported.
  assert.equal(problems(withRoute('bad, default via 10.0.0.1, 203.0.113.0/24 via 192.0.2.1')).length, 2);
});

test('cluster roles: master and slave name two different existing nodes', () => {
  let p = one(
    replace(BASE, 'slave = pbx2', 'slave = PBX1').replace('[node.pbx2]\naddress = 192.0.2.12\n', ''),
  );
  assert.deepEqual([p.section, p.key, p.value], ['cluster', 'slave', 'PBX1']);
  assert.match(p.message, /master and slave are the same node/);
  p = one(replace(BASE, 'master = pbx1', 'master = pbx3').replace('[node.pbx1]\naddress = 192.0.2.11\n', ''));
  assert.deepEqual([p.section, p.key, p.value], ['cluster', 'master', 'pbx3']);
  assert.match(
    p.message,
    /no \[node\.pbx3\] section; expected a name with a \[node\.NAME\] section \(found: pbx2\)/,
  );
  p = one(BASE + '[node.pbx3]\naddress = 192.0.2.13\n');
  assert.deepEqual([p.section, p.key, p.line], ['node.pbx3', null, 11]);
  assert.match(p.message, /node is neither the master nor the slave/);
  p = one(replace(BASE, 'master = pbx1', 'master = pbx_1'));
  assert.match(p.message, /expected the host name of the master node/);
});

test('duplicate sections, also when only the case differs; duplicate keys', () => {
  let p = one(BASE + '[node.PBX1]\naddress = 192.0.2.13\n');
  assert.deepEqual([p.section, p.line], ['node.PBX1', 11]);
  assert.match(
    p.message,
    /duplicate section: same as \[node\.pbx1\] on line 4 \(section names are compared without case; node names are hostnames\)/,
  );
  p = one(BASE + '[health]\nfall = 2\n[health]\nrise = 2\n');
  assert.match(p.message, /:13: \[health\]: duplicate section \(first on line 11\)/);
  p = one(replace(BASE, 'interface = eth0', 'interface = eth0\ninterface = eth1'));
  assert.deepEqual([p.section, p.key, p.value, p.line], ['vip.voip', 'interface', 'eth1', 11]);
  assert.match(
    p.message,
    /duplicate key \(first set on line 10 to "eth0"\); expected each key once per section/,
  );
});

test('addresses must be distinct: nodes, VIPs, and VIP vs node', () => {
  let p = one(replace(BASE, 'address = 192.0.2.12', 'address = 192.0.2.11'));
  assert.deepEqual([p.section, p.key, p.value], ['node.pbx2', 'address', '192.0.2.11']);
  assert.match(p.message, /same address as \[node\.pbx1\]/);
  p = one(BASE + '[vip.data]\naddress = 192.0.2.10/25\ninterface = eth1\n');
  assert.deepEqual([p.section, p.value], ['vip.data', '192.0.2.10/25']);
  assert.match(p.message, /same address as \[vip\.voip\]/);
  p = one(replace(BASE, 'address = 192.0.2.10/24', 'address = 192.0.2.12/24'));
  assert.match(p.message, /same address as \[node\.pbx2\]/);
  p = one(BASE + '[health]\ntrack = 192.0.2.1, 192.0.2.11\n');
  assert.deepEqual([p.key, p.value], ['track', '192.0.2.11']);
  assert.match(p.message, /this is the address of \[node\.pbx1\]; expected addresses outside the pair/);
});

test('interface names follow the kernel rules', () => {
  for (const name of ['eth0-is-too-long', 'eth0/1', 'eth0:1', '..']) {
    const p = one(replace(BASE, 'interface = eth0', `interface = ${name}`));
    assert.deepEqual([p.key, p.value], ['interface', name]);
  }
  ok(replace(BASE, 'interface = eth0', 'interface = enp0s31f6.100'));
});

test('commands: argv, absolute program, no shell', () => {
  const c = ok(BASE + '[services]\nstart = /usr/bin/xivo-service start\n');
  assert.deepEqual(c.services.start, { argv: ['/usr/bin/xivo-service', 'start'], timeoutMs: 60_000 });
  assert.equal(c.services.stop, null);
  let p = one(BASE + '[services]\nstart = xivo-service start\n');
  assert.match(p.message, /"xivo-service" is not an absolute path; expected an absolute path to the program/);
  p = one(BASE + '[services]\nstop = /usr/bin/xivo-service stop && echo done\n');
  assert.match(p.message, /shell metacharacter "&".*no shell is used/);
  p = one(BASE + '[services]\nstop = /usr/bin/xivo-service stop;start\n');
  assert.match(p.message, /shell metacharacter ";"/);
  p = one(BASE + '[notify]\nscript = "/etc/pbx-ha/my notify\n');
  assert.deepEqual([p.section, p.key], ['notify', 'script']);
  assert.match(p.message, /unterminated double quote/);
  // Quoted ; and # are not comments.
  const q = ok(BASE + `[notify]\nscript = /bin/echo 'a ; b' "#c" ; real comment\n`);
  assert.deepEqual(q.notify.script?.argv, ['/bin/echo', 'a ; b', '#c']);
  assert.equal(q.notify.script?.timeoutMs, 10_000);
});

test('paths, quoting of plain values, booleans', () => {
  const c = ok(
    BASE +
      '[agent]\nsocket = "/run/pbx-ha/x.sock"\nstate_dir = \'/srv/pbx-ha state\'\nrelease_on_stop = FALSE\n',
  );
  assert.deepEqual(
    [c.agent.socketPath, c.agent.stateDir, c.agent.releaseOnStop],
    ['/run/pbx-ha/x.sock', '/srv/pbx-ha state', false],
  );
  let p = one(BASE + '[agent]\nstate_dir = var/lib/pbx-ha\n');
  assert.match(p.message, /not an absolute path; expected a directory of pbx-ha's own/);
  p = one(BASE + `[agent]\nsocket = /run/pbx-ha/${'x'.repeat(110)}.sock\n`);
  assert.match(
    p.message,
    /path too long \(the limit of a Unix socket address\); expected .*at most 107 bytes/,
  );
  p = one(BASE + '[agent]\nsocket = "/run/pbx-ha/x.sock\n');
  assert.match(p.message, /unterminated quote/);
});

test('lines the scanner does not understand', () => {
  let p = one('master = pbx1\n' + BASE);
  assert.deepEqual([p.line, p.section, p.key], [1, null, 'master']);
  assert.match(p.message, /key outside any section; expected a \[section\] header before the first key/);
  p = one(BASE + '[health]\nthis line has no equals sign\n');
  assert.match(p.message, /:12: \[health\] "this line has no equals sign": line is not understood/);
  p = one(BASE + '[health\n');
  assert.match(p.message, /malformed section header/);
  p = one(BASE + '[health]\n= 1s\n');
  assert.match(p.message, /value without a key/);
});

test('comments, blank lines, CRLF and a byte-order mark are accepted', () => {
  const text =
    '\uFEFF; comment\r\n# another\r\n\r\n' +
    BASE.replace(/\n/g, '\r\n') +
    '[health]   ; trailing\r\n  fall = 2   # why\r\n';
  assert.equal(ok(text).health.fall, 2);
});

test('an empty file, or one with only comments, is one problem', () => {
  for (const text of ['', '\n\n  \n', '; nothing\n# here\n']) {
    const p = one(text);
    assert.match(
      p.message,
      /^\/etc\/pbx-ha\/pbx-ha\.conf: the file is empty \(only blank lines and comments\); expected at least \[cluster\]/,
    );
  }
});

test('a file that is not text', () => {
  const p = one(BASE + '[health]\nfall = 2\0\n');
  assert.equal(p.line, 12);
  assert.match(p.message, /:12: the file is not text \(NUL byte\); expected a UTF-8 text file/);

  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-config-'));
  try {
    const file = path.join(dir, 'pbx-ha.conf');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from(BASE + '[health]\n'), Buffer.from([0x66, 0xff, 0xfe, 0x0a])]),
    );
    const result = loadConfigFile(file);
    assert.equal(result.ok, false);
    const found = result.ok ? [] : result.problems;
    assert.equal(found.length, 1);
    assert.equal(
      formatProblem(found[0]),
      `${file}:12: invalid UTF-8; expected a UTF-8 text file (pbx-ha.conf is INI text)`,
    );

    // A good file on disk loads, and the result names that file.
    writeFileSync(file, readFileSync(path.join(FIXTURES, 'minimal.conf')));
    const good = loadConfigFile(file);
    assert.ok(good.ok);
    assert.equal(good.config.file, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing or unreadable file is a problem carrying the OS error', () => {
  const missing = path.join(tmpdir(), `pbx-ha-no-such-dir-${process.pid}`, 'pbx-ha.conf');
  let result = loadConfigFile(missing);
  assert.equal(result.ok, false);
  let found = result.ok ? [] : result.problems;
  assert.equal(found.length, 1);
  assert.match(
    formatProblem(found[0]),
    new RegExp(`^${missing}: cannot read the file \\(ENOENT: no such file or directory`),
  );

  result = loadConfigFile(FIXTURES); // a directory: refused before it is opened
  found = result.ok ? [] : result.problems;
  assert.equal(found.length, 1);
  assert.match(
    formatProblem(found[0]),
    /not a regular file \(a directory\); expected a regular configuration file/,
  );
});

test('every problem is reported at once, sorted by line, missing sections last', () => {
  const text = `[cluster]
master = pbx1
slave = pbx1
[node.pbx1]
address = 192.0.2.256
[health]
interval = 1x
fall = 0
rise = x
timeout = 1 s
track = nope
[garp]
count = 1000
[agent]
release_on_stop = perhaps
`;
  const found = problems(text);
  assert.deepEqual(
    found.map((p) => [p.line ?? null, p.section, p.key]),
    [
      [3, 'cluster', 'slave'],
      [5, 'node.pbx1', 'address'],
      [7, 'health', 'interval'],
      [8, 'health', 'fall'],
      [9, 'health', 'rise'],
      [10, 'health', 'timeout'],
      [11, 'health', 'track'],
      [13, 'garp', 'count'],
      [15, 'agent', 'release_on_stop'],
      [null, 'vip.NAME', null],
    ],
    found.map(formatProblem).join('\n'),
  );
});
