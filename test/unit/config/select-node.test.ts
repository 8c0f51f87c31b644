import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../../src/config/format';
import { parseConfigText } from '../../../src/config/load';
import { isConfigProblem, selectNode, type NodeSelection } from '../../../src/config/select-node';
import type { ConfigProblem, PbxHaConfig } from '../../../src/config/types';

const FILE = '/etc/pbx-ha/pbx-ha.conf';

function config(master = 'pbx1', slave = 'pbx2'): PbxHaConfig {
  const result = parseConfigText(
    `[cluster]
master = ${master}
slave = ${slave}
[node.${master}]
address = 192.0.2.11
[node.${slave}]
address = 192.0.2.12
[vip.voip]
address = 192.0.2.10/24
interface = eth0
`,
    FILE,
  );
  assert.ok(result.ok);
  return result.config;
}

function selected(result: NodeSelection | ConfigProblem): NodeSelection {
  assert.ok(!isConfigProblem(result), isConfigProblem(result) ? formatProblem(result) : '');
  return result;
}

test('selects the node, its role and its peer', () => {
  const c = config();
  assert.deepEqual(selected(selectNode(c, 'pbx1', FILE)), {
    node: { name: 'pbx1', address: '192.0.2.11' },
    role: 'master',
    peer: { name: 'pbx2', address: '192.0.2.12' },
  });
  assert.deepEqual(selected(selectNode(c, 'pbx2', FILE)), {
    node: { name: 'pbx2', address: '192.0.2.12' },
    role: 'slave',
    peer: { name: 'pbx1', address: '192.0.2.11' },
  });
});

test('host names match without case, and a FQDN matches by its short name', () => {
  const c = config();
  assert.equal(selected(selectNode(c, 'PBX2', FILE)).node.name, 'pbx2');
  assert.equal(selected(selectNode(c, 'pbx1.example.com', FILE)).role, 'master');
  assert.equal(selected(selectNode(c, 'Pbx2.Example.COM', FILE)).role, 'slave');
  assert.equal(selected(selectNode(c, ' pbx1\n', FILE)).node.name, 'pbx1');
});

test('a section named with the FQDN matches the full name first', () => {
  const c = config('pbx1.example.com', 'pbx1');
  assert.equal(selected(selectNode(c, 'PBX1.example.com', FILE)).role, 'master');
  assert.equal(selected(selectNode(c, 'pbx1', FILE)).role, 'slave');
});

test('no match is a problem telling what to do', () => {
  const result = selectNode(config(), 'pbx9', FILE);
  assert.ok(isConfigProblem(result));
  assert.equal(
    formatProblem(result),
    '/etc/pbx-ha/pbx-ha.conf: hostname pbx9 matches no [node.NAME] section; expected one of pbx1, pbx2; use --node NAME or rename the section',
  );
  const fromOption = selectNode(config(), 'pbx9.example.com', FILE, '--node');
  assert.ok(isConfigProblem(fromOption));
  assert.match(
    formatProblem(fromOption),
    /--node pbx9\.example\.com matches no \[node\.NAME\] section; expected one of pbx1, pbx2$/,
  );
  assert.ok(isConfigProblem(selectNode(config(), '', FILE)));
  // A longer name is not cut down to a section name: `pbx1x` is not `pbx1`.
  assert.ok(isConfigProblem(selectNode(config(), 'pbx1x', FILE)));
});
