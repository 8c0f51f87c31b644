import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenAddress } from '../../../src/config/listen';

test('IPv4:port and [IPv6]:port are read; the host comes back as server.listen takes it', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9549'), { ok: true, host: '127.0.0.1', port: 9549 });
  assert.deepEqual(parseListenAddress('0.0.0.0:1'), { ok: true, host: '0.0.0.0', port: 1 });
  assert.deepEqual(parseListenAddress('192.0.2.11:65535'), { ok: true, host: '192.0.2.11', port: 65535 });
  assert.deepEqual(parseListenAddress('[::1]:9549'), { ok: true, host: '::1', port: 9549 });
  assert.deepEqual(parseListenAddress('[::]:80'), { ok: true, host: '::', port: 80 });
  assert.deepEqual(parseListenAddress('[2001:db8::10]:9100'), { ok: true, host: '2001:db8::10', port: 9100 });
  assert.deepEqual(parseListenAddress('[fe80::1%eth0]:9549'), { ok: true, host: 'fe80::1%eth0', port: 9549 });
  assert.deepEqual(parseListenAddress('[::ffff:192.0.2.1]:9549'), {
    ok: true,
    host: '::ffff:192.0.2.1',
    port: 9549,
  });
});

test('every refusal says what is wrong', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', 'the port is missing'],
    ['127.0.0.1:', 'the port is missing'],
    ['::1', 'an IPv6 address must be written in brackets, such as [::1]:9549'],
    ['[::1]', 'the port is missing'],
    ['[::1]:', 'the port is missing'],
    ['9549', 'the address is missing'],
    [':9549', 'the address is missing'],
    ['127.0.0.1:0', 'port "0" is not a whole number from 1 to 65535'],
    ['127.0.0.1:65536', 'port "65536" is not a whole number from 1 to 65535'],
    ['127.0.0.1:09549', 'port "09549" is not a whole number from 1 to 65535'],
    ['127.0.0.1:-1', 'port "-1" is not a whole number from 1 to 65535'],
    ['127.0.0.1:http', 'port "http" is not a whole number from 1 to 65535'],
    ['127.0.0.1:9549:1', 'more than one ":" (an IPv6 address goes in brackets, such as [::1]:9549)'],
    ['a:b:9549', 'more than one ":" (an IPv6 address goes in brackets, such as [::1]:9549)'],
    ['localhost:9549', '"localhost" is a host name, not an address'],
    ['pbx1.example.com:9549', '"pbx1.example.com" is a host name, not an address'],
    ['127.0.0.010:9549', '"127.0.0.010" is not an IPv4 address'],
    ['256.0.0.1:9549', '"256.0.0.1" is not an IPv4 address'],
    ['::1:9549', 'an IPv6 address must be written in brackets, such as [::1]:9549'],
    ['2001:db8::10:9100', 'an IPv6 address must be written in brackets, such as [::1]:9549'],
    ['[::1:9549', '"[" without "]"'],
    ['[127.0.0.1]:9549', 'an IPv4 address takes no brackets'],
    ['[localhost]:9549', '"localhost" is not an IPv6 address'],
    ['[::1]9549', '"9549" after "]" (expected ":" and the port)'],
    ['[::1]:95 49', 'port "95 49" is not a whole number from 1 to 65535'],
    ['http://127.0.0.1:9549', 'a URL: write only the address and the port'],
    ['http://[::1]:9549/metrics', 'a URL: write only the address and the port'],
  ];
  for (const [text, problem] of cases) {
    assert.deepEqual(parseListenAddress(text), { ok: false, problem }, text);
  }
  // Nothing recognisable: no particular problem, the expected form says it all.
  assert.deepEqual(parseListenAddress('anywhere'), { ok: false, problem: '' });
});
