import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchLine,
  failedLines,
  parseAddrJson,
  parseRouteJson,
  splitBatchJson,
} from '../../../src/adapters/iproute2';
import type { NetChange } from '../../../src/domain/actions';

// Captured with iproute2 6.1.0 (Debian 12) in a throwaway network namespace: eth0 and eth1
// are veth ends; eth0 has its peer up (carrier), eth1's peer is down (UP but NO-CARRIER).
// eth0 holds the node address 192.0.2.11/24, the VIP 192.0.2.10/24 (secondary) and an IPv6
// address; the VIP's routes have src 192.0.2.10.
const ADDR_JSON = `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"link":"eth0","ifname":"eth0p","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"2e:15:66:e2:36:20","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::2c15:66ff:fee2:3620","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"link":"eth0p","ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"ce:75:db:1e:2c:b9","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"192.0.2.11","prefixlen":24,"scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet","local":"192.0.2.10","prefixlen":24,"scope":"global","secondary":true,"label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"2001:db8::1","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::cc75:dbff:fe1e:2cb9","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"link":"eth1","ifname":"eth1p","flags":["BROADCAST","MULTICAST"],"mtu":1500,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"fa:cd:fa:6f:ec:24","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]},{"ifindex":5,"link":"eth1p","ifname":"eth1","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP","M-DOWN"],"mtu":1500,"qdisc":"noqueue","operstate":"LOWERLAYERDOWN","group":"default","txqlen":1000,"link_type":"ether","address":"26:10:b4:ef:7d:b8","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"198.51.100.11","prefixlen":24,"scope":"global","label":"eth1","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`;

const ROUTE_JSON = `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},{"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.11","flags":[]},{"dst":"198.51.100.0/24","dev":"eth1","protocol":"kernel","scope":"link","prefsrc":"198.51.100.11","flags":["linkdown"]},{"dst":"203.0.113.0/24","gateway":"192.0.2.1","dev":"eth0","prefsrc":"192.0.2.10","flags":[]},{"dst":"203.0.113.7","dev":"eth0","scope":"link","prefsrc":"192.0.2.10","flags":[]}]`;

// The same namespace's answer to this batch, run with `ip -force -batch -`:
//   1 address del 192.0.2.99/24 dev eth0                                  (absent address)
//   2 route del 203.0.113.0/24 via 192.0.2.1 dev eth0 src 192.0.2.99      (absent route)
//   3 address replace 192.0.2.10/24 dev nosuch0                           (no such device)
//   4 route replace 10.9.9.0/24 via 203.0.113.1 dev eth0                  (gateway not on-link)
//   5 address replace 192.0.2.10/24 dev eth0                              (fine)
//   6 route del 198.18.0.0/24 dev eth0                                    (absent route)
//   7 route replace 198.18.0.0/24 dev eth0 src 192.0.2.99                 (src not local)
const BATCH_STDERR = `Error: ipv4: Address not found.
Command failed -:1
RTNETLINK answers: No such process
Command failed -:2
Cannot find device "nosuch0"
Command failed -:3
Error: Nexthop has invalid gateway.
Command failed -:4
RTNETLINK answers: No such process
Command failed -:6
Error: Invalid prefsrc address.
Command failed -:7
`;

test('parseAddrJson: IPv4 addresses by interface, IPv6 ignored', () => {
  const { addresses } = parseAddrJson(ADDR_JSON);
  assert.deepEqual(addresses, [
    { ifname: 'lo', address: '127.0.0.1', prefixLength: 8 },
    { ifname: 'eth0', address: '192.0.2.11', prefixLength: 24 },
    { ifname: 'eth0', address: '192.0.2.10', prefixLength: 24 },
    { ifname: 'eth1', address: '198.51.100.11', prefixLength: 24 },
  ]);
});

test('parseAddrJson: carrier is LOWER_UP, not UP (eth1 is administratively up without carrier)', () => {
  const { carrier } = parseAddrJson(ADDR_JSON);
  assert.deepEqual(carrier, { lo: true, eth0p: true, eth0: true, eth1p: false, eth1: false });
});

test('parseAddrJson: a link without flags or addresses', () => {
  assert.deepEqual(parseAddrJson('[{"ifindex":7,"ifname":"eth9"}]'), {
    addresses: [],
    carrier: { eth9: false },
    macs: {},
  });
  assert.deepEqual(parseAddrJson('[]'), { addresses: [], carrier: {}, macs: {} });
});

test('parseAddrJson: text that is not JSON throws', () => {
  assert.throws(() => parseAddrJson('Device "eth0" does not exist.'));
});

test('parseRouteJson: destination, gateway, device and preferred source; host routes without /32', () => {
  assert.deepEqual(parseRouteJson(ROUTE_JSON), [
    { destination: 'default', via: '192.0.2.1', ifname: 'eth0', source: null },
    { destination: '192.0.2.0/24', via: null, ifname: 'eth0', source: '192.0.2.11' },
    { destination: '198.51.100.0/24', via: null, ifname: 'eth1', source: '198.51.100.11' },
    { destination: '203.0.113.0/24', via: '192.0.2.1', ifname: 'eth0', source: '192.0.2.10' },
    { destination: '203.0.113.7', via: null, ifname: 'eth0', source: '192.0.2.10' },
  ]);
  assert.deepEqual(parseRouteJson('[]'), []);
});

test('batchLine: one iproute2 batch line for each kind of change', () => {
  const table: Array<[NetChange, string]> = [
    [
      { kind: 'add-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
      'address replace 192.0.2.10/24 dev eth0',
    ],
    [
      { kind: 'delete-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
      'address del 192.0.2.10/24 dev eth0',
    ],
    [
      {
        kind: 'add-route',
        vip: 'voip',
        destination: '203.0.113.0/24',
        via: '192.0.2.1',
        ifname: 'eth0',
        source: '192.0.2.10',
      },
      'route replace 203.0.113.0/24 via 192.0.2.1 dev eth0 src 192.0.2.10',
    ],
    [
      {
        kind: 'add-route',
        vip: 'voip',
        destination: '203.0.113.7/32',
        via: null,
        ifname: 'eth0',
        source: '192.0.2.10',
      },
      'route replace 203.0.113.7/32 dev eth0 src 192.0.2.10',
    ],
    [
      {
        kind: 'delete-route',
        vip: 'data',
        destination: 'default',
        via: '198.51.100.1',
        ifname: 'eth1',
        source: '198.51.100.10',
      },
      'route del default via 198.51.100.1 dev eth1 src 198.51.100.10',
    ],
    [
      {
        kind: 'delete-route',
        vip: 'data',
        destination: '203.0.113.0/24',
        via: null,
        ifname: 'eth1',
        source: '198.51.100.10',
      },
      'route del 203.0.113.0/24 dev eth1 src 198.51.100.10',
    ],
  ];
  for (const [change, line] of table) assert.equal(batchLine(change), line, change.kind);
});

test('failedLines: each failure with its line number and the kernel message before it', () => {
  assert.deepEqual(failedLines('RTNETLINK answers: No such process\nCommand failed -:2\n'), [
    { line: 2, message: 'RTNETLINK answers: No such process' },
  ]);
  assert.deepEqual(failedLines(BATCH_STDERR), [
    { line: 1, message: 'Error: ipv4: Address not found.' },
    { line: 2, message: 'RTNETLINK answers: No such process' },
    { line: 3, message: 'Cannot find device "nosuch0"' },
    { line: 4, message: 'Error: Nexthop has invalid gateway.' },
    { line: 6, message: 'RTNETLINK answers: No such process' },
    { line: 7, message: 'Error: Invalid prefsrc address.' },
  ]);
});

test('failedLines: a failure without a message, and stderr without failures', () => {
  assert.deepEqual(failedLines('Command failed -:5\n'), [{ line: 5, message: '' }]);
  assert.deepEqual(failedLines(''), []);
  assert.deepEqual(failedLines('Warning: something harmless\n'), []);
  assert.deepEqual(failedLines('two\nlines\nCommand failed -:3'), [{ line: 3, message: 'two lines' }]);
});

test('splitBatchJson: one document per command of an `ip -json -batch`, an empty list included', () => {
  // What `ip -json -batch -` prints for "address show" and "route show table main" in a
  // namespace without routes (iproute2 6.1.0).
  const [addr, route] = splitBatchJson(`${ADDR_JSON}\n[]\n`, 2);
  assert.equal(parseAddrJson(addr).addresses.length > 0, true);
  assert.deepEqual(parseRouteJson(route), []);
  assert.throws(() => splitBatchJson(`${ADDR_JSON}\n`, 2), /printed 1 JSON documents, 2 expected/);
});

test('parseAddrJson: the MAC of each link that has one', () => {
  const { macs } = parseAddrJson(ADDR_JSON);
  assert.equal(macs.eth0, 'ce:75:db:1e:2c:b9');
  assert.equal(macs.eth1, '26:10:b4:ef:7d:b8');
  assert.equal(macs.lo, '00:00:00:00:00:00');
});
