import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../../src/config/format';

test('formatProblem puts the parts that are known on one line', () => {
  const file = '/etc/pbx-ha/pbx-ha.conf';
  assert.equal(
    formatProblem({
      file,
      section: 'health',
      key: 'interval',
      value: '1 sec',
      expected: 'a duration such as 200ms, 1s or 2m',
    }),
    '/etc/pbx-ha/pbx-ha.conf: [health] interval = "1 sec": expected a duration such as 200ms, 1s or 2m',
  );
  assert.equal(
    formatProblem({
      file,
      line: 12,
      section: 'health',
      key: 'interval',
      value: '1 sec',
      expected: 'a duration',
    }),
    '/etc/pbx-ha/pbx-ha.conf:12: [health] interval = "1 sec": expected a duration',
  );
  assert.equal(
    formatProblem({
      file,
      line: 3,
      section: 'vip.voip',
      key: 'interface',
      value: null,
      problem: 'missing required key',
      expected: 'a Linux interface name',
    }),
    '/etc/pbx-ha/pbx-ha.conf:3: [vip.voip] interface: missing required key; expected a Linux interface name',
  );
  assert.equal(
    formatProblem({
      file,
      section: 'cluster',
      key: null,
      value: null,
      problem: 'missing section',
      expected: 'a [cluster] section',
    }),
    '/etc/pbx-ha/pbx-ha.conf: [cluster]: missing section; expected a [cluster] section',
  );
  assert.equal(
    formatProblem({ file, section: null, key: null, value: null, expected: 'a readable file' }),
    '/etc/pbx-ha/pbx-ha.conf: expected a readable file',
  );
  // Quotes and control characters in a value are escaped, so the line stays one line.
  assert.equal(
    formatProblem({ file, section: 's', key: 'k', value: 'a "b"\n', expected: 'x' }),
    '/etc/pbx-ha/pbx-ha.conf: [s] k = "a \\"b\\"\\n": expected x',
  );
});
