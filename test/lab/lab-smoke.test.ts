/**
 * Smoke test of the network lab itself (scripts/lab + harness): topology, per-node isolation,
 * cable cuts, background processes, and a teardown that leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Lab, requireLab } from './harness';

const MOUNTPOINTS = [
  '/etc/pbx-ha',
  '/var/lib/asterisk',
  '/var/lib/pbx-ha',
  '/var/spool/asterisk',
  '/root/.ssh',
];

function rootLinks(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  // Interface names only (counters and flags of eth0 may change while the test runs).
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1].trim().split('@')[0])
    .sort();
}

function netnsList(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]);
}

test('network lab: topology, isolation, cable cuts and clean teardown', { timeout: 120_000 }, async (t) => {
  if (!requireLab(t)) return;
  const lab = new Lab({
    prefix: `pbxsmoke${process.pid % 10000}`,
    dir: `/tmp/pbx-ha-lab-smoke-${process.pid}`,
  });
  const linksBefore = rootLinks();
  const absentBefore = MOUNTPOINTS.filter((p) => !existsSync(p));
  const started: number[] = [];
  try {
    const t0 = Date.now();
    await lab.up();
    t.diagnostic(`lab up took ${Date.now() - t0} ms`);

    await t.test('the root namespace gets no new interface', () => {
      assert.deepEqual(rootLinks(), linksBefore);
    });

    await t.test('the phone reaches the gateway and both nodes', async () => {
      for (const ip of ['192.0.2.1', '192.0.2.11', '192.0.2.12', '203.0.113.1']) {
        assert.equal(await lab.phonePingOnce(ip, 1000), true, `phone pings ${ip}`);
      }
    });

    await t.test('addresses and routes are as designed', async () => {
      const a1 = await lab.addresses('pbx1');
      assert.deepEqual(
        a1.filter((a) => a.ifname !== 'lo').map((a) => `${a.ifname} ${a.local}/${a.prefixlen}`),
        ['eth0 192.0.2.11/24', 'eth1 198.51.100.11/24'],
      );
      const r1 = await lab.routes('pbx1');
      assert.equal(
        r1.some((r) => r.dst === 'default'),
        false,
        'pbx1 has no default route',
      );
      assert.equal(
        r1.some((r) => r.dst === '203.0.113.0/24'),
        false,
        'pbx1 has no route to 203.0.113.0/24',
      );
      assert.equal(
        await lab.pingOnce('pbx1', '203.0.113.1', 500),
        false,
        'pbx1 cannot reach 203.0.113.1 without the VIP routes',
      );
      const rp = await lab.routes('phone');
      assert.ok(
        rp.some((r) => r.dst === 'default' && r.gateway === '192.0.2.1'),
        'phone routes via the gateway',
      );
      assert.deepEqual(await lab.holders('192.0.2.10/24'), []);
      assert.deepEqual(await lab.holders('192.0.2.11'), ['pbx1']);
      const sysctl = await lab.exec('pbx1', [
        'sysctl',
        '-n',
        'net.ipv4.conf.all.arp_ignore',
        'net.ipv4.conf.all.arp_announce',
        'net.ipv6.conf.all.disable_ipv6',
      ]);
      assert.deepEqual(sysctl.stdout.trim().split('\n'), ['1', '2', '1']);
    });

    await t.test('each node has its hostname and private directories', async () => {
      assert.equal((await lab.exec('pbx1', ['hostname'])).stdout.trim(), 'pbx1');
      assert.equal((await lab.exec('pbx2', ['hostname'])).stdout.trim(), 'pbx2');
      assert.equal((await lab.exec('phone', ['hostname'])).stdout.trim(), 'phone');
      const conf = await lab.exec('pbx1', ['cat', '/etc/pbx-ha/pbx-ha.conf']);
      assert.equal(conf.stdout, await lab.readConfig('pbx1'));
      assert.match(conf.stdout, /\[cluster\]\nmaster = pbx1\nslave = pbx2/);
      assert.match(conf.stdout, new RegExp(`start = ${lab.repoRoot}/scripts/lab-fake-service start`));

      await lab.writeConfig('pbx2', '[cluster]\n# edited by the smoke test\n');
      assert.match(
        (await lab.exec('pbx2', ['cat', '/etc/pbx-ha/pbx-ha.conf'])).stdout,
        /edited by the smoke test/,
      );
      assert.doesNotMatch((await lab.exec('pbx1', ['cat', '/etc/pbx-ha/pbx-ha.conf'])).stdout, /edited/);

      // Private /run: the agent socket directory exists; what one node writes the other does not see.
      await lab.exec('pbx1', ['touch', '/run/pbx-ha/only-on-pbx1']);
      assert.equal(
        (await lab.exec('pbx1', ['test', '-e', '/run/pbx-ha/only-on-pbx1'], { allowFail: true })).code,
        0,
      );
      assert.equal(
        (await lab.exec('pbx2', ['test', '-e', '/run/pbx-ha/only-on-pbx1'], { allowFail: true })).code,
        1,
      );

      // stdin, stdout and the exit code pass through.
      const echo = await lab.exec('pbx1', ['cat'], { input: 'through stdin\n' });
      assert.equal(echo.stdout, 'through stdin\n');
      assert.equal((await lab.exec('pbx1', ['sh', '-c', 'exit 7'], { allowFail: true })).code, 7);

      // The fake service writes into the node's private /run.
      await lab.exec('pbx1', [`${lab.repoRoot}/scripts/lab-fake-service`, 'start']);
      await lab.exec('pbx1', [
        `${lab.repoRoot}/scripts/lab-fake-service`,
        'notify',
        'active',
        'pbx1',
        'active',
        'master',
      ]);
      assert.equal(await lab.fakeServiceState('pbx1'), 'running');
      assert.equal(await lab.fakeServiceState('pbx2'), null);
      assert.match((await lab.notifyLog('pbx1'))[0] ?? '', / active pbx1 active master$/);

      // Nothing leaks into the root mount namespace.
      assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(lab.dir), false);
    });

    await t.test('cut pulls the cable, restore plugs it back', async () => {
      await lab.cut('pbx1');
      const eth0 = await lab.link('pbx1', 'eth0');
      assert.ok(eth0.flags.includes('NO-CARRIER'), `flags: ${eth0.flags.join(',')}`);
      assert.notEqual(eth0.operstate, 'UP');
      assert.equal(await lab.hasCarrier('pbx1', 'eth1'), false);
      assert.equal(await lab.phonePingOnce('192.0.2.11', 500), false, 'phone cannot ping the cut node');
      assert.equal(await lab.phonePingOnce('192.0.2.12', 1000), true, 'phone still pings pbx2');

      await lab.restore('pbx1');
      assert.equal(await lab.hasCarrier('pbx1', 'eth0'), true);
      await lab.waitFor('phone pings pbx1 again', () => lab.phonePingOnce('192.0.2.11', 300), 5000);

      await lab.cut('pbx2', 'eth1');
      assert.equal(await lab.hasCarrier('pbx2', 'eth1'), false);
      assert.equal(await lab.hasCarrier('pbx2', 'eth0'), true);
      await lab.restore('pbx2', 'eth1');
      assert.equal(await lab.hasCarrier('pbx2', 'eth1'), true);
    });

    await t.test('pinger and capture work', async () => {
      const capture = await lab.startCapture('phone', 'arp');
      await lab.flushPhoneArp();
      const pinger = await lab.startPhonePinger('192.0.2.12', 10);
      await new Promise((r) => setTimeout(r, 500));
      const res = await pinger.stop();
      const arp = await capture.stop();
      assert.ok(res.replies >= 10, `replies: ${res.replies}, output: ${res.output.slice(0, 500)}`);
      assert.ok(res.sent >= res.replies);
      assert.ok(res.longestGapMs < 200, `longest gap ${res.longestGapMs} ms`);
      assert.match(arp, /Request who-has 192\.0\.2\.12/);
      assert.equal(await lab.phoneArpMac('192.0.2.12'), await lab.nodeMac('pbx2', 'eth0'));
    });

    await t.test('start/stop run a background process in a node', async () => {
      const pid = await lab.start('pbx1', ['1000'], { agent: 'sleep' });
      assert.equal(
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0],
        'sleep',
        'the recorded pid is the program itself',
      );
      assert.equal(await lab.agentPid('pbx1'), pid);
      assert.ok((await lab.pids('pbx1')).includes(pid));
      await lab.stop('pbx1');
      assert.equal(await lab.agentPid('pbx1'), null);
      assert.match(await lab.agentLog('pbx1'), /lab: start sleep 1000/);
    });

    // Leave processes running for down(): one via start, one via a detached exec.
    started.push(await lab.start('pbx2', ['1000'], { agent: 'sleep' }));
    const bg = lab.spawnIn('pbx1', ['sleep', '1000']);
    started.push(bg.pid!);
    await lab.waitFor(
      'background sleep runs in pbx1',
      async () => (await lab.pids('pbx1')).includes(bg.pid!),
      5000,
    );
  } finally {
    const t1 = Date.now();
    await lab.down();
    t.diagnostic(`lab down took ${Date.now() - t1} ms`);
  }

  // Nothing is left behind.
  assert.deepEqual(
    netnsList().filter((n) => n.startsWith(`${lab.prefix}-`)),
    [],
  );
  assert.deepEqual(rootLinks(), linksBefore);
  assert.deepEqual(
    absentBefore.filter((p) => existsSync(p)),
    [],
    'mount points created by the lab are removed',
  );
  assert.equal(existsSync(lab.dir), false, 'the lab directory is removed');
  const survivors = started.filter((pid) => {
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    return stat !== '' && !/\) [ZX] /.test(stat); // zombies are dead (some inits do not reap orphans)
  });
  assert.deepEqual(survivors, [], 'no process started in the lab survives down');
  // A second down on an absent lab succeeds.
  await lab.down();
});
