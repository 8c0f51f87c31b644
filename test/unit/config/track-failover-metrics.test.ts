import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_DEFAULTS } from '../../../src/config/defaults';
import { formatProblem } from '../../../src/config/format';
import type { PbxHaConfig } from '../../../src/config/types';
import { BASE, FILE, ok, one, problems } from './helpers';

const ASTERISK = '/usr/sbin/asterisk -rx "core show uptime"';
const ASTERISK_ARGV = ['/usr/sbin/asterisk', '-rx', 'core show uptime'];

// --- [track.NAME] -------------------------------------------------------------------------------

test('without a [track.*] section there is no check at all', () => {
  assert.deepEqual(ok(BASE).checks, []);
  // [health] track is about ICMP addresses and adds no check either.
  assert.deepEqual(ok(BASE + '[health]\ntrack = 192.0.2.1\n').checks, []);
});

test('a check with only its command gets every default', () => {
  const expected = { intervalMs: 5000, timeoutMs: 3000, rise: 2, fall: 3 };
  assert.deepEqual(CONFIG_DEFAULTS.track, expected);
  assert.deepEqual(ok(`${BASE}[track.asterisk]\ncommand = ${ASTERISK}\n`).checks, [
    { name: 'asterisk', command: ASTERISK_ARGV, ...expected },
  ]);
});

test('checks keep their names, file order and exact values', () => {
  const c = ok(`${BASE}[track.Asterisk_1]
command = ${ASTERISK}   ; comment
interval = 10m
timeout = 9m
rise = 100
fall = 1
[track.sip-5060]
command = '/opt/my checks/sip' --port=5060 "a ; b"
interval = 100ms
timeout = 10ms
rise = 1
fall = 100
[track.0]
command = /bin/true
interval = 1.5s
timeout = 1499ms
`);
  assert.deepEqual(c.checks, [
    {
      name: 'Asterisk_1',
      command: ASTERISK_ARGV,
      intervalMs: 600_000,
      timeoutMs: 540_000,
      rise: 100,
      fall: 1,
    },
    {
      name: 'sip-5060',
      command: ['/opt/my checks/sip', '--port=5060', 'a ; b'],
      intervalMs: 100,
      timeoutMs: 10,
      rise: 1,
      fall: 100,
    },
    { name: '0', command: ['/bin/true'], intervalMs: 1500, timeoutMs: 1499, rise: 2, fall: 3 },
  ]);
});

test('each bad value in [track.NAME] names its section, key and value, and what was expected', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    [
      'command',
      'asterisk -rx "core show uptime"',
      '"asterisk" is not an absolute path',
      /expected an absolute path to the program, such as \/usr\/sbin\/asterisk -rx "core show uptime"/,
    ],
    ['command', './check', '"./check" is not an absolute path', /expected an absolute path to the program/],
    [
      'command',
      '/usr/sbin/asterisk -rx "core show uptime" | grep up',
      'shell metacharacter "|" at character 43 of the command: pbx-ha runs commands directly, no shell is used; quote it to pass it literally, or put the shell logic in a script',
      /expected a program and its arguments, such as \/usr\/sbin\/asterisk/,
    ],
    [
      'command',
      '/usr/sbin/asterisk -rx "core show $x"',
      '"$" inside double quotes at character 35 of the command: pbx-ha runs commands directly, no shell is used, so it would not be expanded; use single quotes to pass it literally',
      /expected a program and its arguments/,
    ],
    [
      'command',
      '/usr/sbin/asterisk -rx "core show uptime',
      'unterminated double quote opened at character 24 of the command',
      /expected a program and its arguments/,
    ],
    ['command', '""', '"" is not an absolute path', /expected an absolute path to the program/],
    ['interval', '5', '', /expected a duration such as 200ms, 1s or 2m/],
    ['interval', '5 s', '', /expected a duration such as/],
    ['interval', '99ms', 'out of range', /expected a duration from 100ms to 10m$/],
    ['interval', '11m', 'out of range', /expected a duration from 100ms to 10m$/],
    ['interval', '0', 'out of range', /expected a duration from 100ms to 10m$/],
    ['timeout', '9ms', 'out of range', /expected a duration from 10ms to 10m$/],
    ['timeout', '0', 'out of range', /expected a duration from 10ms to 10m$/],
    ['timeout', '3', '', /expected a duration such as/],
    ['rise', '0', 'out of range', /expected a whole number from 1 to 100$/],
    ['rise', '101', 'out of range', /expected a whole number from 1 to 100$/],
    ['rise', 'two', '', /expected a whole number from 1 to 100$/],
    ['fall', '0', 'out of range', /expected a whole number from 1 to 100$/],
    ['fall', '1.5', '', /expected a whole number from 1 to 100$/],
    ['fall', '-3', '', /expected a whole number from 1 to 100$/],
  ];
  for (const [key, value, problem, expected] of cases) {
    const label = `${key} = ${value}`;
    const lines = key === 'command' ? [`command = ${value}`] : [`${key} = ${value}`, `command = ${ASTERISK}`];
    const p = one(`${BASE}[track.asterisk]\n${lines.join('\n')}\n`);
    assert.deepEqual([p.section, p.key, p.value, p.line], ['track.asterisk', key, value, 12], label);
    assert.equal(p.problem ?? '', problem, label);
    assert.ok(
      p.message.startsWith(`${FILE}:12: [track.asterisk] ${key} = ${JSON.stringify(value)}: `),
      p.message,
    );
    assert.match(p.message, expected, label);
  }
});

test('the command is required and may not be empty', () => {
  let p = one(BASE + '[track.asterisk]\ninterval = 5s\n');
  assert.deepEqual([p.section, p.key, p.value, p.line], ['track.asterisk', 'command', null, 11]);
  assert.equal(
    p.message,
    `${FILE}:11: [track.asterisk] command: missing required key; expected a program and its arguments, such as ${ASTERISK}`,
  );
  p = one(BASE + '[track.asterisk]\ncommand =\n');
  assert.deepEqual([p.key, p.value, p.line, p.problem], ['command', '', 12, 'empty value']);
  p = one(BASE + '[track.asterisk]\ncommand = ; commented out\n');
  assert.equal(p.problem, 'empty value');
  // An empty section is a check without a command too.
  p = one(BASE + '[track.asterisk]\n');
  assert.deepEqual([p.section, p.key, p.line], ['track.asterisk', 'command', 11]);
});

test('the timeout must be shorter than the interval; the line to fix is the one written', () => {
  // Both written: the timeout is reported.
  let p = one(`${BASE}[track.asterisk]\ncommand = ${ASTERISK}\ninterval = 2s\ntimeout = 2s\n`);
  assert.deepEqual([p.key, p.value, p.line], ['timeout', '2s', 14]);
  assert.equal(p.problem, 'timeout not shorter than interval');
  assert.match(p.message, /expected a duration shorter than interval \(2s\)$/);
  // Only the interval written, not beyond the default timeout (3s): the interval is reported.
  p = one(`${BASE}[track.asterisk]\ncommand = ${ASTERISK}\ninterval = 3s\n`);
  assert.deepEqual([p.key, p.value], ['interval', '3s']);
  assert.equal(p.problem, 'interval not longer than timeout');
  assert.match(
    p.message,
    /expected a duration longer than timeout \(3s, its default\), or a shorter timeout$/,
  );
  // Only the timeout written, not below the default interval (5s): the timeout is reported.
  p = one(`${BASE}[track.asterisk]\ncommand = ${ASTERISK}\ntimeout = 10s\n`);
  assert.deepEqual([p.key, p.value], ['timeout', '10s']);
  assert.match(
    p.message,
    /timeout not shorter than interval; expected a duration shorter than interval \(5s, its default\), or a longer interval$/,
  );
  // A bad interval is reported once, without a second message about the timeout.
  p = one(`${BASE}[track.asterisk]\ncommand = ${ASTERISK}\ninterval = 1\ntimeout = 4s\n`);
  assert.equal(p.key, 'interval');
  // Just shorter is fine, in either spelling.
  assert.equal(
    ok(`${BASE}[track.a]\ncommand = /bin/true\ninterval = 1s\ntimeout = 999ms\n`).checks[0].timeoutMs,
    999,
  );
  assert.equal(
    ok(`${BASE}[track.a]\ncommand = /bin/true\ninterval = 2s\ntimeout = 1s\n`).checks[0].timeoutMs,
    1000,
  );
  assert.equal(ok(`${BASE}[track.a]\ncommand = /bin/true\ntimeout = 4.999s\n`).checks[0].timeoutMs, 4999);
});

test('an unknown key in [track.NAME] suggests the closest one', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'comand',
      /unknown key \(did you mean "command"\?\); expected one of: command, interval, timeout, rise, fall$/,
    ],
    ['intervall', /did you mean "interval"/],
    ['timout', /did you mean "timeout"/],
    ['fal', /did you mean "fall"/],
    ['raise', /did you mean "rise"/],
    ['retries', /unknown key; expected one of: command, interval, timeout, rise, fall$/],
  ];
  for (const [key, message] of cases) {
    const p = one(`${BASE}[track.asterisk]\ncommand = ${ASTERISK}\n${key} = 2\n`);
    assert.deepEqual([p.section, p.key, p.value, p.line], ['track.asterisk', key, '2', 13], key);
    assert.match(p.message, message, key);
  }
});

test('check names: letters, digits, "_" and "-"; each once; close misspellings of [track.NAME]', () => {
  const bad: Array<[string, RegExp]> = [
    [
      'track',
      /\[track\]: \[track\] needs the name of a check; expected \[track\.NAME\] where NAME is 1-32 letters, digits, "_" or "-"/,
    ],
    ['track.', /bad check name; expected \[track\.NAME\]/],
    ['track.core uptime', /bad check name/],
    ['track.asterisk.uptime', /bad check name/],
    ['track.-x', /bad check name/],
    ['track._x', /bad check name/],
    ['track.' + 'a'.repeat(33), /bad check name/],
    ['track.é', /bad check name/],
    [
      'trak.asterisk',
      /unknown section \(did you mean \[track\.asterisk\]\?\); expected one of .*\[health\], \[track\.NAME\], \[failover\]/,
    ],
    ['tracks', /unknown section \(did you mean \[track\.NAME\]\?\)/],
    ['Track.asterisk', /did you mean \[track\.asterisk\]/],
  ];
  for (const [name, message] of bad) {
    const p = one(`${BASE}[${name}]\ncommand = ${ASTERISK}\n`);
    assert.deepEqual([p.section, p.key, p.line], [name, null, 11], name);
    assert.match(p.message, message, name);
  }
  assert.equal(ok(`${BASE}[track.${'a'.repeat(32)}]\ncommand = /bin/true\n`).checks[0].name, 'a'.repeat(32));
  // Section names are compared without case, as for nodes: [track.Asterisk] repeats [track.asterisk].
  const p = one(`${BASE}[track.asterisk]\ncommand = /bin/true\n[track.Asterisk]\ncommand = /bin/false\n`);
  assert.deepEqual([p.section, p.line], ['track.Asterisk', 13]);
  assert.match(p.message, /duplicate section: same as \[track\.asterisk\] on line 11/);
});

test('[health] track takes addresses; a command there points to [track.NAME]', () => {
  let p = one(`${BASE}[health]\ntrack = ${ASTERISK}\n`);
  assert.deepEqual([p.section, p.key, p.value], ['health', 'track', ASTERISK]);
  assert.match(
    p.message,
    /a command, not an address: tracked commands go in a \[track\.NAME\] section; expected comma-separated IPv4 addresses/,
  );
  p = one(`${BASE}[health]\ntrack = 192.0.2.1, /usr/lib/nagios/plugins/check_sip\n`);
  assert.equal(p.value, '/usr/lib/nagios/plugins/check_sip');
  assert.match(p.message, /a command, not an address/);
  // An ordinary bad address gets no such hint.
  p = one(`${BASE}[health]\ntrack = gateway\n`);
  assert.equal(p.problem, undefined);
});

test('every problem of several checks is reported at once, in file order', () => {
  const found = problems(`${BASE}[track.a]
interval = 1m
timeout = 2m
[track.b]
command = check
rise = 0
sise = 1
[track.c d]
command = /bin/true
`);
  assert.deepEqual(
    found.map((p) => [p.line, p.section, p.key]),
    [
      [11, 'track.a', 'command'],
      [13, 'track.a', 'timeout'],
      [15, 'track.b', 'command'],
      [16, 'track.b', 'rise'],
      [17, 'track.b', 'sise'],
      [18, 'track.c d', null],
    ],
    found.map(formatProblem).join('\n'),
  );
  assert.match(formatProblem(found[4]), /did you mean "rise"/);
});

// --- [failover] ---------------------------------------------------------------------------------

test('[failover] defaults: automatic failback, at once', () => {
  const expected = { failback: 'auto', failbackDelayMs: 0 };
  assert.deepEqual(CONFIG_DEFAULTS.failover, expected);
  assert.deepEqual(ok(BASE).failover, expected);
  assert.deepEqual(ok(BASE + '[failover]\n').failover, expected);
});

test('[failover] good values', () => {
  assert.deepEqual(ok(BASE + '[failover]\nfailback = manual\n').failover, {
    failback: 'manual',
    failbackDelayMs: 0,
  });
  assert.deepEqual(ok(BASE + '[failover]\nfailback = MANUAL\nfailback_delay = 0\n').failover, {
    failback: 'manual',
    failbackDelayMs: 0,
  });
  assert.deepEqual(ok(BASE + '[failover]\nfailback = "Auto"\nfailback_delay = 1h\n').failover, {
    failback: 'auto',
    failbackDelayMs: 3_600_000,
  });
  assert.deepEqual(ok(BASE + '[failover]\nfailback_delay = 2.5m\n').failover, {
    failback: 'auto',
    failbackDelayMs: 150_000,
  });
  assert.deepEqual(ok(BASE + '[failover]\nfailback_delay = 1ms\n').failover, {
    failback: 'auto',
    failbackDelayMs: 1,
  });
});

test('each bad value in [failover] names its key and value, and what was expected', () => {
  const modes =
    /expected auto \(the master takes the VIPs back once it is healthy again\) or manual \(the slave keeps them until `pbx-ha failback`\)$/;
  const cases: Array<[string, string, string, RegExp]> = [
    ['failback', 'manuel', 'unknown failback mode (did you mean "manual"?)', modes],
    ['failback', 'aut', 'unknown failback mode (did you mean "auto"?)', modes],
    ['failback', 'yes', 'unknown failback mode', modes],
    ['failback', 'preempt', 'unknown failback mode', modes],
    ['failback', '""', 'empty value', modes],
    ['failback_delay', '30', '', /expected a duration such as 200ms, 1s or 2m/],
    ['failback_delay', '-1s', '', /expected a duration such as/],
    ['failback_delay', '61m', 'out of range', /expected a duration from 0 to 1h$/],
    ['failback_delay', '1d', '', /expected a duration such as/],
  ];
  for (const [key, value, problem, expected] of cases) {
    const label = `${key} = ${value}`;
    const p = one(`${BASE}[failover]\n${key} = ${value}\n`);
    const shown = value === '""' ? '' : value;
    assert.deepEqual(
      [p.section, p.key, p.value === '""' ? '' : p.value, p.line],
      ['failover', key, shown, 12],
      label,
    );
    assert.equal(p.problem ?? '', problem, label);
    assert.match(p.message, expected, label);
  }
});

test('a failback delay with manual failback would never apply and is refused', () => {
  let p = one(BASE + '[failover]\nfailback = manual\nfailback_delay = 5m\n');
  assert.deepEqual([p.section, p.key, p.value, p.line], ['failover', 'failback_delay', '5m', 13]);
  assert.equal(
    p.message,
    `${FILE}:13: [failover] failback_delay = "5m": failback_delay applies only to failback = auto; ` +
      'expected 0, or no failback_delay: with failback = manual the VIPs go back only on `pbx-ha failback`, at once',
  );
  // Order in the section does not matter.
  p = one(BASE + '[failover]\nfailback_delay = 5m\nfailback = manual\n');
  assert.deepEqual([p.key, p.line], ['failback_delay', 12]);
  // A bad mode is reported alone.
  p = one(BASE + '[failover]\nfailback = manuel\nfailback_delay = 5m\n');
  assert.equal(p.key, 'failback');
});

test('unknown keys and misspelt names of [failover]', () => {
  let p = one(BASE + '[failover]\nfailback_dealy = 1m\n');
  assert.deepEqual([p.section, p.key, p.value], ['failover', 'failback_dealy', '1m']);
  assert.match(
    p.message,
    /unknown key \(did you mean "failback_delay"\?\); expected one of: failback, failback_delay$/,
  );
  p = one(BASE + '[failover]\nfailbak = auto\n');
  assert.match(p.message, /did you mean "failback"/);
  p = one(BASE + '[failover]\npreempt = no\n');
  assert.match(p.message, /unknown key; expected one of: failback, failback_delay$/);
  p = one(BASE + '[failovr]\n');
  assert.match(p.message, /unknown section \(did you mean \[failover\]\?\)/);
  p = one(BASE + '[failover.x]\n');
  assert.match(p.message, /\[failover\] takes no name/);
});

// --- [metrics] ----------------------------------------------------------------------------------

test('[metrics] defaults: off, loopback', () => {
  const expected = { enabled: false, host: '127.0.0.1', port: 9549 };
  assert.deepEqual(CONFIG_DEFAULTS.metrics, expected);
  assert.deepEqual(ok(BASE).metrics, expected);
  assert.deepEqual(ok(BASE + '[metrics]\n').metrics, expected);
  assert.deepEqual(ok(BASE + '[metrics]\nenabled = yes\n').metrics, { ...expected, enabled: true });
});

test('[metrics] good values: any IPv4 address, or an IPv6 one in brackets', () => {
  const listen = (text: string): PbxHaConfig['metrics'] =>
    ok(`${BASE}[metrics]\nenabled = true\nlisten = ${text}\n`).metrics;
  assert.deepEqual(listen('192.0.2.11:9100'), { enabled: true, host: '192.0.2.11', port: 9100 });
  assert.deepEqual(listen('0.0.0.0:1'), { enabled: true, host: '0.0.0.0', port: 1 });
  assert.deepEqual(listen('"127.0.0.1:65535"'), { enabled: true, host: '127.0.0.1', port: 65535 });
  assert.deepEqual(listen('[::1]:9549'), { enabled: true, host: '::1', port: 9549 });
  assert.deepEqual(listen('[::]:9549'), { enabled: true, host: '::', port: 9549 });
  assert.deepEqual(listen('[2001:db8::10]:80'), { enabled: true, host: '2001:db8::10', port: 80 });
});

test('each bad value in [metrics] names its key and value, and what was expected', () => {
  const listen =
    /expected an IPv4 address and a port such as 127\.0\.0\.1:9549, or an IPv6 address in brackets and a port such as \[::1\]:9549$/;
  const cases: Array<[string, string, string, RegExp]> = [
    ['enabled', 'maybe', '', /expected yes, no, true or false$/],
    ['enabled', '1', '', /expected yes, no, true or false$/],
    ['listen', '127.0.0.1', 'the port is missing', listen],
    ['listen', '9549', 'the address is missing', listen],
    ['listen', ':9549', 'the address is missing', listen],
    ['listen', '127.0.0.1:0', 'port "0" is not a whole number from 1 to 65535', listen],
    ['listen', '127.0.0.1:70000', 'port "70000" is not a whole number from 1 to 65535', listen],
    ['listen', 'localhost:9549', '"localhost" is a host name, not an address', listen],
    ['listen', '192.0.2.300:9549', '"192.0.2.300" is not an IPv4 address', listen],
    ['listen', '::1:9549', 'an IPv6 address must be written in brackets, such as [::1]:9549', listen],
    ['listen', '[::1:9549', '"[" without "]"', listen],
    ['listen', '[192.0.2.1]:9549', 'an IPv4 address takes no brackets', listen],
    ['listen', '[::g]:9549', '"::g" is not an IPv6 address', listen],
    ['listen', 'anywhere', '', listen],
  ];
  for (const [key, value, problem, expected] of cases) {
    const label = `${key} = ${value}`;
    const p = one(`${BASE}[metrics]\n${key} = ${value}\n`);
    assert.deepEqual([p.section, p.key, p.value, p.line], ['metrics', key, value, 12], label);
    assert.equal(p.problem ?? '', problem, label);
    assert.ok(p.message.startsWith(`${FILE}:12: [metrics] ${key} = ${JSON.stringify(value)}: `), p.message);
    assert.match(p.message, expected, label);
  }
  const p = one(BASE + '[metrics]\nlisten =\n');
  assert.deepEqual([p.key, p.value, p.problem], ['listen', '', 'empty value']);
});

test('listen is checked even while the endpoint is off', () => {
  const p = one(BASE + '[metrics]\nenabled = no\nlisten = localhost:9549\n');
  assert.deepEqual([p.key, p.line], ['listen', 13]);
});

test('unknown keys and misspelt names of [metrics]', () => {
  let p = one(BASE + '[metrics]\nlisen = 127.0.0.1:9549\n');
  assert.deepEqual([p.section, p.key], ['metrics', 'lisen']);
  assert.match(p.message, /unknown key \(did you mean "listen"\?\); expected one of: enabled, listen$/);
  p = one(BASE + '[metrics]\nenable = yes\n');
  assert.match(p.message, /did you mean "enabled"/);
  p = one(BASE + '[metrics]\nport = 9549\n');
  assert.match(p.message, /unknown key; expected one of: enabled, listen$/);
  p = one(BASE + '[metric]\nenabled = yes\n');
  assert.match(p.message, /unknown section \(did you mean \[metrics\]\?\)/);
  p = one(BASE + '[metrics.prometheus]\n');
  assert.match(p.message, /\[metrics\] takes no name/);
});

test('problems of the three new kinds of section come together, in file order', () => {
  const found = problems(`${BASE}[track.asterisk]
command = asterisk -rx "core show uptime"
[failover]
failback = sometimes
[metrics]
listen = localhost:9549
`);
  assert.deepEqual(
    found.map((p) => [p.line, p.section, p.key]),
    [
      [12, 'track.asterisk', 'command'],
      [14, 'failover', 'failback'],
      [16, 'metrics', 'listen'],
    ],
    found.map(formatProblem).join('\n'),
  );
});
