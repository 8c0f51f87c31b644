import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arpFrame,
  decodeArp,
  formatMac,
  gratuitousArpRequest,
  parseMac,
} from '../../../src/adapters/arp-packet';

test('gratuitous ARP request: byte-exact 42-byte frame (RFC 5227 §3 announcement, request form)', () => {
  const frame = gratuitousArpRequest('52:54:00:12:34:5A', '192.0.2.10');
  const expected =
    'ffffffffffff' + // destination: broadcast
    '52540012345a' + // source
    '0806' + // ethertype ARP
    '0001' + // htype Ethernet
    '0800' + // ptype IPv4
    '06' + // hlen
    '04' + // plen
    '0001' + // oper request
    '52540012345a' + // sender MAC
    'c000020a' + // sender IP 192.0.2.10
    '000000000000' + // target MAC
    'c000020a'; // target IP 192.0.2.10
  assert.equal(frame.length, 42);
  assert.equal(frame.toString('hex'), expected);
});

test('decodeArp reads back what gratuitousArpRequest built', () => {
  assert.deepEqual(decodeArp(gratuitousArpRequest('02:00:00:aa:bb:cc', '198.51.100.1')), {
    destination: 'ff:ff:ff:ff:ff:ff',
    source: '02:00:00:aa:bb:cc',
    operation: 1,
    senderMac: '02:00:00:aa:bb:cc',
    senderIp: '198.51.100.1',
    targetMac: '00:00:00:00:00:00',
    targetIp: '198.51.100.1',
  });
});

test('arpFrame/decodeArp round trip of a reply', () => {
  const fields = {
    destination: '02:00:00:00:00:01',
    source: '02:00:00:00:00:02',
    operation: 2 as const,
    senderMac: '02:00:00:00:00:02',
    senderIp: '203.0.113.2',
    targetMac: '02:00:00:00:00:01',
    targetIp: '0.0.0.0',
  };
  assert.deepEqual(decodeArp(arpFrame(fields)), fields);
  // Trailing padding (a 60-byte frame off the wire) is ignored.
  assert.deepEqual(decodeArp(Buffer.concat([arpFrame(fields), Buffer.alloc(18)])), fields);
});

test('decodeArp refuses what is not Ethernet/IPv4 ARP', () => {
  assert.throws(() => decodeArp(Buffer.alloc(41)), /at least 42 bytes/);
  const ipv4 = gratuitousArpRequest('02:00:00:00:00:01', '192.0.2.1');
  ipv4.writeUInt16BE(0x0800, 12);
  assert.throws(() => decodeArp(ipv4), /ethertype 0x0800 is not ARP/);
  const ipv6 = gratuitousArpRequest('02:00:00:00:00:01', '192.0.2.1');
  ipv6.writeUInt16BE(0x86dd, 16);
  assert.throws(() => decodeArp(ipv6), /not ARP for IPv4/);
  const op = gratuitousArpRequest('02:00:00:00:00:01', '192.0.2.1');
  op.writeUInt16BE(3, 20);
  assert.throws(() => decodeArp(op), /unknown ARP operation 3/);
});

test('parseMac and formatMac', () => {
  assert.deepEqual([...parseMac('AA:bb:0c:00:01:ff')], [0xaa, 0xbb, 0x0c, 0x00, 0x01, 0xff]);
  assert.deepEqual([...parseMac('aa-bb-cc-dd-ee-ff')], [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
  assert.equal(formatMac(Buffer.from([0xaa, 0xbb, 0x0c, 0, 1, 0xff])), 'aa:bb:0c:00:01:ff');
  for (const bad of [
    '',
    'aa:bb:cc:dd:ee',
    'aa:bb:cc:dd:ee:ff:00',
    'aa:bb-cc:dd:ee:ff',
    'gg:bb:cc:dd:ee:ff',
    'a:b:c:d:e:f',
  ]) {
    assert.throws(() => parseMac(bad), /not a MAC address/, bad);
  }
  assert.throws(() => formatMac(Buffer.alloc(5)), /6 bytes/);
});

test('gratuitousArpRequest refuses a bad address', () => {
  assert.throws(() => gratuitousArpRequest('02:00:00:00:00:01', '192.0.2'), /not an IPv4 address/);
  assert.throws(() => gratuitousArpRequest('02:00:00:00:00:01', '2001:db8::1'), /not an IPv4 address/);
  assert.throws(() => gratuitousArpRequest('nope', '192.0.2.1'), /not a MAC address/);
});
