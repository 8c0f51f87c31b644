/**
 * The long-running `ip -json -force -batch -` against a real kernel: a network namespace of the
 * test's own with a veth pair (the lab's kernels may lack the dummy driver) (`ip -n NS` runs iproute2 there), real address and route changes,
 * a real failure, and the process killed in the middle of a series of changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Iproute2Net } from '../../src/adapters/iproute2';
import type { NetChange } from '../../src/domain/actions';
import { requireLab } from './harness';

const NS = `pbxipb${process.pid}`;
// A name absent from the machine's own namespace: promote_secondaries is then not written there
// (the adapter falls back on reading the namespace's addresses before a delete).
const DEV = 'pbxipb0';
const IP = '/usr/sbin/ip';

function ip(...args: string[]): string {
  const r = spawnSync(IP, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

type AddAddress = Extract<NetChange, { kind: 'add-address' }>;
type AddRoute = Extract<NetChange, { kind: 'add-route' }>;
const vip: AddAddress = {
  kind: 'add-address',
  vip: 'voip',
  ifname: DEV,
  address: '192.0.2.10',
  prefixLength: 24,
};
const route: AddRoute = {
  kind: 'add-route',
  vip: 'voip',
  destination: '203.0.113.0/24',
  via: '192.0.2.1',
  ifname: DEV,
  source: '192.0.2.10',
};

test('iproute2 batch in a network namespace: changes applied in order, failures reported, a death mid-change', async (t) => {
  if (!requireLab(t)) return;
  ip('netns', 'add', NS);
  const net = new Iproute2Net({ argv: [IP, '-n', NS, '-json', '-force', '-batch', '-'] });
  try {
    ip('-n', NS, 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', `${DEV}p`);
    ip('-n', NS, 'link', 'set', `${DEV}p`, 'up');
    ip('-n', NS, 'link', 'set', DEV, 'up');
    ip('-n', NS, 'address', 'add', '192.0.2.11/24', 'dev', DEV);

    // In order: the route needs the VIP as its source, so it fails if run before it.
    await net.apply([vip, route]);
    const r1 = await net.read();
    assert.ok(r1.actual.addresses.some((a) => a.address === '192.0.2.10' && a.ifname === DEV));
    assert.ok(r1.actual.routes.some((r) => r.destination === '203.0.113.0/24' && r.source === '192.0.2.10'));
    assert.equal(r1.carrier[DEV], true);

    // A real refusal names its own line; the good change beside it is applied.
    const bad: AddRoute = { ...route, destination: '198.51.100.0/24', source: '192.0.2.99' };
    const other: AddAddress = { ...vip, address: '192.0.2.20' };
    await assert.rejects(
      net.apply([bad, other]),
      /refused 1 change\(s\): "ip route replace 198\.51\.100\.0\/24 .*src 192\.0\.2\.99": .*prefsrc/i,
    );
    assert.match(ip('-n', NS, '-o', 'address', 'show', 'dev', DEV), /192\.0\.2\.20\/24/);

    // Deleting what is already gone is not an error.
    const release: NetChange[] = [
      { ...route, kind: 'delete-route' },
      { ...vip, kind: 'delete-address' },
      { ...other, kind: 'delete-address' },
    ];
    await net.apply(release);
    await net.apply(release);
    assert.doesNotMatch(ip('-n', NS, '-o', 'address', 'show', 'dev', DEV), /192\.0\.2\.(10|20)\//);

    // The process killed while a change is in flight: that change fails (never assumed applied),
    // the next one is served by a new process.
    const pid = (): number =>
      Number(spawnSync('pgrep', ['-f', `^${IP} -n ${NS} -json`], { encoding: 'utf8' }).stdout.trim());
    const first = pid();
    assert.ok(first > 0, 'the iproute2 process runs before any change');
    process.kill(first, 'SIGKILL');
    await assert.rejects(net.apply([vip]), /may or may not have been applied/);
    await net.apply([vip]);
    assert.match(ip('-n', NS, '-o', 'address', 'show', 'dev', DEV), /192\.0\.2\.10\/24/);
    assert.notEqual(pid(), first);
  } finally {
    net.close();
    ip('netns', 'del', NS);
  }
});
