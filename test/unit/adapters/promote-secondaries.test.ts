import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allowPromotion,
  deletionTakesOthers,
  promoteSecondariesPath,
} from '../../../src/adapters/promote-secondaries';

test('promote_secondaries is set on each interface a VIP is deleted from; a failure is reported, not thrown', () => {
  const written: string[] = [];
  const failed = allowPromotion(['eth0', 'bond0.100', 'eth1'], (file, data) => {
    if (file.includes('/eth1/')) throw new Error('EROFS: read-only file system');
    written.push(`${file}=${data.trim()}`);
  });
  assert.deepEqual(written, [
    '/proc/sys/net/ipv4/conf/eth0/promote_secondaries=1',
    '/proc/sys/net/ipv4/conf/bond0.100/promote_secondaries=1',
  ]);
  assert.deepEqual(failed, [{ ifname: 'eth1', error: 'EROFS: read-only file system' }]);
});

test('promoteSecondariesPath: no name that leaves the directory', () => {
  for (const bad of ['..', '.', 'a/b', '', 'eth0 x', 'x'.repeat(16)])
    assert.equal(promoteSecondariesPath(bad), null, bad);
});

test('deletionTakesOthers: a primary address with secondaries of its subnet', () => {
  const vipPrimary = [
    { local: '192.0.2.10', prefixlen: 24, secondary: false },
    { local: '192.0.2.11', prefixlen: 24, secondary: true },
  ];
  assert.equal(
    deletionTakesOthers('192.0.2.10', vipPrimary),
    true,
    "the VIP came first: its deletion takes the node's address",
  );
  assert.equal(deletionTakesOthers('192.0.2.11', vipPrimary), false, 'a secondary goes alone');
  const usual = [
    { local: '192.0.2.11', prefixlen: 24, secondary: false },
    { local: '192.0.2.10', prefixlen: 24, secondary: true },
    { local: '198.51.100.10', prefixlen: 24, secondary: false },
  ];
  assert.equal(deletionTakesOthers('192.0.2.10', usual), false);
  assert.equal(deletionTakesOthers('198.51.100.10', usual), false, 'alone in its subnet');
  assert.equal(deletionTakesOthers('203.0.113.5', usual), false, 'absent');
});
