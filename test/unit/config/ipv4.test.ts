import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  broadcastAddress,
  formatIpv4,
  inSubnet,
  isIpv4,
  networkAddress,
  parseCidr,
  parseIpv4,
} from '../../../src/config/ipv4';

test('parseIpv4 accepts strict dotted quads only', () => {
  assert.equal(parseIpv4('0.0.0.0'), 0);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4('192.0.2.10'), 0xc000020a);
  for (const bad of [
    '',
    '192.0.2',
    '192.0.2.1.5',
    '192.0.2.256',
    '192.0.2.010',
    '192.0.2.-1',
    '0x7f.0.0.1',
    '192.0.2.1/24',
    ' 192.0.2.1',
    '192.0.2.',
    'a.b.c.d',
  ]) {
    assert.equal(parseIpv4(bad), null, bad);
    assert.equal(isIpv4(bad), false, bad);
  }
  assert.equal(formatIpv4(0xc000020a), '192.0.2.10');
  assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
});

test('parseCidr splits address and prefix and refuses bad prefixes', () => {
  assert.deepEqual(parseCidr('192.0.2.10/24'), { address: '192.0.2.10', prefixLength: 24 });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', prefixLength: 0 });
  assert.deepEqual(parseCidr('192.0.2.10/32'), { address: '192.0.2.10', prefixLength: 32 });
  for (const bad of [
    '192.0.2.10',
    '192.0.2.10/33',
    '192.0.2.10/',
    '192.0.2.10/024',
    '192.0.2.10/2a',
    '192.0.2/24',
    '/24',
  ]) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

test('network and broadcast addresses', () => {
  assert.equal(networkAddress('192.0.2.10', 24), '192.0.2.0');
  assert.equal(broadcastAddress('192.0.2.10', 24), '192.0.2.255');
  assert.equal(networkAddress('198.51.100.77', 26), '198.51.100.64');
  assert.equal(broadcastAddress('198.51.100.77', 26), '198.51.100.127');
  assert.equal(networkAddress('203.0.113.9', 32), '203.0.113.9');
  assert.equal(networkAddress('203.0.113.9', 0), '0.0.0.0');
  assert.equal(broadcastAddress('203.0.113.9', 0), '255.255.255.255');
  assert.throws(() => networkAddress('nope', 24), RangeError);
});

test('inSubnet', () => {
  assert.equal(inSubnet('192.0.2.200', '192.0.2.0', 24), true);
  assert.equal(inSubnet('192.0.3.1', '192.0.2.0', 24), false);
  // Host bits of the network are ignored, so an interface address can be passed as is.
  assert.equal(inSubnet('192.0.2.10', '192.0.2.11', 24), true);
  assert.equal(inSubnet('198.51.100.11', '198.51.100.10', 31), true);
  assert.equal(inSubnet('198.51.100.12', '198.51.100.10', 31), false);
  assert.equal(inSubnet('10.1.2.3', '192.0.2.0', 0), true);
  assert.equal(inSubnet('bad', '192.0.2.0', 24), false);
});
