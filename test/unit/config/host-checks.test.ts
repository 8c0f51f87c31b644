import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../../src/config/format';
import { checkHost, type IpAddrInterface } from '../../../src/config/host-checks';
import { parseConfigText } from '../../../src/config/load';
import type { PbxHaConfig } from '../../../src/config/types';

const FILE = '/etc/pbx-ha/pbx-ha.conf';

function config(): PbxHaConfig {
  const result = parseConfigText(
    `[cluster]
master = pbx1
slave = pbx2
[node.pbx1]
address = 192.0.2.11
[node.pbx2]
address = 192.0.2.12
[vip.voip]
address = 192.0.2.10/24
interface = eth0
[vip.data]
address = 198.51.100.10/24
interface = eth1
`,
    FILE,
  );
  assert.ok(result.ok);
  return result.config;
}

const inet = (local: string, prefixlen: number) => ({ family: 'inet', local, prefixlen });
const lo: IpAddrInterface = {
  ifname: 'lo',
  operstate: 'UNKNOWN',
  addr_info: [inet('127.0.0.1', 8), { family: 'inet6', local: '::1', prefixlen: 128 }],
};

function host(eth0: IpAddrInterface['addr_info'], eth1: IpAddrInterface['addr_info']): IpAddrInterface[] {
  return [
    lo,
    { ifname: 'eth0', operstate: 'UP', addr_info: eth0 },
    { ifname: 'eth1', operstate: 'UP', addr_info: eth1 },
  ];
}

test('a host that fits the configuration has no problem', () => {
  assert.deepEqual(
    checkHost(config(), 'pbx1', host([inet('192.0.2.11', 24)], [inet('198.51.100.11', 24)])),
    [],
  );
});

test('a VIP already held on its interface is ignored when computing subnets', () => {
  // The VIP itself (here with the same /24) must not make its own subnet: eth1 only has the VIP.
  assert.deepEqual(
    checkHost(
      config(),
      'pbx1',
      host(
        [inet('192.0.2.11', 24), inet('192.0.2.10', 24)],
        [inet('198.51.100.11', 24), inet('198.51.100.10', 24)],
      ),
    ),
    [],
  );
  const problems = checkHost(config(), 'pbx1', host([inet('192.0.2.11', 24)], [inet('198.51.100.10', 24)]));
  assert.equal(problems.length, 1);
  assert.deepEqual(
    [problems[0].section, problems[0].key, problems[0].value],
    ['vip.data', 'address', '198.51.100.10/24'],
  );
  assert.match(
    formatProblem(problems[0]),
    /VIP outside its interface's subnet \(eth1 on pbx1\); expected an IPv4 address on eth1 besides the VIP/,
  );
});

test('a VIP outside every subnet of its interface', () => {
  const problems = checkHost(
    config(),
    'pbx1',
    host(
      [inet('192.0.2.11', 24)],
      [
        inet('203.0.113.5', 24),
        inet('203.0.114.5', 25),
        { family: 'inet6', local: '2001:db8::1', prefixlen: 64 },
      ],
    ),
  );
  assert.equal(problems.length, 1);
  assert.equal(
    formatProblem(problems[0]),
    '/etc/pbx-ha/pbx-ha.conf: [vip.data] address = "198.51.100.10/24": VIP outside its interface\'s subnet (eth1 on pbx1); ' +
      "expected an address inside one of the interface's subnets: 203.0.113.0/24, 203.0.114.0/25",
  );
});

test('a VIP interface that does not exist on this node', () => {
  const interfaces = [
    lo,
    { ifname: 'eth0', addr_info: [inet('192.0.2.11', 24)] },
    { ifname: 'ens4', addr_info: [] },
  ];
  const problems = checkHost(config(), 'pbx1', interfaces);
  assert.equal(problems.length, 1);
  assert.deepEqual(
    [problems[0].section, problems[0].key, problems[0].value],
    ['vip.data', 'interface', 'eth1'],
  );
  assert.match(
    formatProblem(problems[0]),
    /no interface eth1 on this node \(pbx1\); expected one of this node's interfaces: lo, eth0, ens4/,
  );
});

test("the node's own address must be configured here, and the peer's must not", () => {
  let problems = checkHost(config(), 'pbx2', host([inet('192.0.2.11', 24)], [inet('198.51.100.11', 24)]));
  assert.deepEqual(
    problems.map((p) => [p.section, p.key, p.value]),
    [
      ['node.pbx2', 'address', '192.0.2.12'],
      ['node.pbx1', 'address', '192.0.2.11'],
    ],
  );
  assert.match(
    formatProblem(problems[0]),
    /address not configured on this node \(pbx2\); expected one of this node's addresses: 127\.0\.0\.1 \(lo\), 192\.0\.2\.11 \(eth0\), 198\.51\.100\.11 \(eth1\)/,
  );
  assert.match(formatProblem(problems[1]), /swapped/);
  problems = checkHost(config(), 'pbx9', []);
  assert.equal(problems.length, 1);
  assert.match(formatProblem(problems[0]), /no such node; expected one of pbx1, pbx2/);
});
