// RawArp against the REAL native helper (dist/native/pbx-ha-arp, built by scripts/build-native)
// in a pair of network namespaces this file creates and always deletes:
//
//   pbxarp-a: veth-a 198.51.100.1/24  <-- veth pair -->  pbxarp-b: veth-b 198.51.100.2/24
//
// Nothing in the root namespace is touched. The helper runs inside pbxarp-a through
// `ip netns exec`. Without the binary (or without root) each namespace test is skipped and counted
// as skipped, unless CI is set: then they fail. A second group uses small stand-in helpers (node
// scripts) to check how RawArp handles a helper that dies or does not answer.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { gratuitousArpRequest } from '../../../src/adapters/arp-packet';
import { RawArp } from '../../../src/adapters/raw-arp';
import type { Logger } from '../../../src/ports/log';
import { prerequisite } from '../../fakes/prerequisites';

/** dist/native/pbx-ha-arp, seen from dist/test/unit/adapters/. */
const HELPER = path.resolve(__dirname, '../../../native/pbx-ha-arp');
const NS_A = 'pbxarp-a';
const NS_B = 'pbxarp-b';
const IP_A = '198.51.100.1';
const IP_B = '198.51.100.2';
const IP_NOBODY = '198.51.100.77';

const messages: string[] = [];
const log: Logger = { log: (level, message) => messages.push(`${level} ${message}`) };

function run(argv: string[], allowFail = false): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && !allowFail)
    throw new Error(`${argv.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

function prerequisites(): string | null {
  if (!existsSync(HELPER)) return `${HELPER} is missing (run scripts/build-native)`;
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['/usr/sbin/ip', '/usr/bin/tcpdump']) {
    if (!existsSync(tool) && spawnSync(path.basename(tool), ['-V']).error)
      return `${path.basename(tool)} is not installed`;
  }
  return null;
}

function deleteNamespaces(): void {
  for (const ns of [NS_A, NS_B]) run(['ip', 'netns', 'delete', ns], true);
}

function macIn(ns: string, ifname: string): string {
  const [link] = JSON.parse(run(['ip', '-n', ns, '-j', 'link', 'show', 'dev', ifname])) as {
    address: string;
  }[];
  return link.address;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const needs = prerequisite('RawArp with the real helper in network namespaces', prerequisites());

describe('RawArp with the real helper in network namespaces', () => {
  let arp: RawArp;
  let macA: string;
  let macB: string;

  before(() => {
    if (needs.lacking) return;
    deleteNamespaces(); // leftovers of an interrupted run
    try {
      run(['ip', 'netns', 'add', NS_A]);
      run(['ip', 'netns', 'add', NS_B]);
      run([
        'ip',
        'link',
        'add',
        'veth-a',
        'netns',
        NS_A,
        'type',
        'veth',
        'peer',
        'name',
        'veth-b',
        'netns',
        NS_B,
      ]);
      run(['ip', '-n', NS_A, 'addr', 'add', `${IP_A}/24`, 'dev', 'veth-a']);
      run(['ip', '-n', NS_B, 'addr', 'add', `${IP_B}/24`, 'dev', 'veth-b']);
      for (const [ns, dev] of [
        [NS_A, 'veth-a'],
        [NS_B, 'veth-b'],
        [NS_A, 'lo'],
        [NS_B, 'lo'],
      ])
        run(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      macA = macIn(NS_A, 'veth-a');
      macB = macIn(NS_B, 'veth-b');
    } catch (e) {
      deleteNamespaces();
      throw e;
    }
    arp = new RawArp({ command: ['ip', 'netns', 'exec', NS_A, HELPER], log });
  });

  after(async () => {
    if (needs.lacking) return;
    try {
      await arp?.close();
    } finally {
      deleteNamespaces();
    }
  });

  test(
    'start-up: the first request starts the helper; macOf reads the interface MAC',
    needs.options,
    async (t) => {
      const t0 = performance.now();
      assert.equal(await arp.macOf('veth-a'), macA);
      const startMs = performance.now() - t0;
      t.diagnostic(
        `helper start (spawn through ip netns exec + first "mac" answer): ${startMs.toFixed(2)} ms`,
      );
      const t1 = performance.now();
      await arp.macOf('veth-a');
      t.diagnostic(
        `second macOf (helper already running): ${((performance.now() - t1) * 1000).toFixed(0)} µs`,
      );
    },
  );

  test('whoHas finds the holder of an address and its MAC', needs.options, async () => {
    assert.deepEqual(await arp.whoHas(IP_B, 'veth-a', 300), [macB]);
  });

  test('whoHas returns [] for a free address after about its timeout', needs.options, async (t) => {
    const t0 = performance.now();
    assert.deepEqual(await arp.whoHas(IP_NOBODY, 'veth-a', 300), []);
    const ms = performance.now() - t0;
    t.diagnostic(`whoHas free address, timeout 300 ms: ${ms.toFixed(1)} ms`);
    assert.ok(ms >= 290 && ms < 1500, `took ${ms} ms`);
  });

  test('whoHas ignores our own MAC: the address of veth-a itself is free', needs.options, async () => {
    assert.deepEqual(await arp.whoHas(IP_A, 'veth-a', 200), []);
  });

  test('probes run side by side, and a send is not held up by a pending probe', needs.options, async () => {
    const t0 = performance.now();
    const probes = Promise.all([arp.whoHas(IP_B, 'veth-a', 400), arp.whoHas(IP_NOBODY, 'veth-a', 400)]);
    await arp.announce(IP_A, 'veth-a', 1, 0);
    const sendDoneMs = performance.now() - t0;
    assert.deepEqual(await probes, [[macB], []]);
    const allMs = performance.now() - t0;
    assert.ok(sendDoneMs < 100, `send answered after ${sendDoneMs} ms`);
    assert.ok(allMs < 800, `two 400 ms probes in parallel took ${allMs} ms`);
  });

  test('announce: 3 gratuitous ARP requests arrive in namespace b', needs.options, async (t) => {
    const tcpdump = spawn(
      'ip',
      ['netns', 'exec', NS_B, 'tcpdump', '--immediate-mode', '-n', '-e', '-l', '-i', 'veth-b', 'arp'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise((resolve) => tcpdump.once('close', resolve));
    let out = '';
    let err = '';
    tcpdump.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    tcpdump.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const announcements = () =>
      out
        .split('\n')
        .filter(
          (l) =>
            l.includes(`Request who-has ${IP_A} tell ${IP_A}`) && l.includes(`${macA} > ff:ff:ff:ff:ff:ff`),
        );
    const waitFor = async (what: string, cond: () => boolean, ms: number) => {
      const end = performance.now() + ms;
      while (!cond()) {
        if (performance.now() > end)
          throw new Error(`timed out waiting for ${what}; tcpdump stdout: ${out} stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await waitFor('tcpdump to listen', () => err.includes('listening on'), 5000);
      const t0 = performance.now();
      await arp.announce(IP_A, 'veth-a', 3, 50);
      const burstMs = performance.now() - t0;
      t.diagnostic(`announce(3 frames, 50 ms apart) resolved after ${burstMs.toFixed(1)} ms`);
      assert.ok(burstMs >= 95 && burstMs < 1000, `burst took ${burstMs} ms`);
      await waitFor('3 announcements', () => announcements().length >= 3, 3000);
      await new Promise((r) => setTimeout(r, 100)); // and no more than 3
      assert.equal(announcements().length, 3, out);
    } finally {
      tcpdump.kill('SIGTERM');
      await exited;
    }
  });

  test(
    'the frame is the RFC 5227 announcement of arp-packet.ts, with the MAC the interface has when it is sent',
    needs.options,
    async () => {
      const tcpdump = spawn(
        'ip',
        ['netns', 'exec', NS_B, 'tcpdump', '--immediate-mode', '-n', '-xx', '-l', '-i', 'veth-b', 'arp'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const exited = new Promise((resolve) => tcpdump.once('close', resolve));
      let out = '';
      let err = '';
      tcpdump.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      tcpdump.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      // Each packet: a summary line, then lines of `0x0000:  ffff ffff ...` hex.
      const frames = () =>
        out
          .split(/\n(?=\S)/)
          .map((p) =>
            p
              .split('\n')
              .slice(1)
              .map((l) => l.replace(/^\s*0x[0-9a-f]+:\s*/, '').replace(/\s+/g, ''))
              .join(''),
          )
          .filter((hex) => hex.length >= 84)
          .map((hex) => hex.slice(0, 84));
      const waitFor = async (what: string, cond: () => boolean, ms: number) => {
        const end = performance.now() + ms;
        while (!cond()) {
          if (performance.now() > end)
            throw new Error(`timed out waiting for ${what}; tcpdump stdout: ${out} stderr: ${err}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const changed = '02:00:5e:00:53:42';
      try {
        await waitFor('tcpdump to listen', () => err.includes('listening on'), 5000);
        await arp.announce(IP_A, 'veth-a', 1, 0);
        await waitFor('the first frame', () => frames().length >= 1, 3000);
        // The interface gets another MAC (a bond failing over): the next frame carries it.
        run(['ip', '-n', NS_A, 'link', 'set', 'veth-a', 'address', changed]);
        await arp.announce(IP_A, 'veth-a', 1, 0);
        await waitFor('the second frame', () => frames().length >= 2, 3000);
        assert.deepEqual(frames().slice(0, 2), [
          gratuitousArpRequest(macA, IP_A).toString('hex'),
          gratuitousArpRequest(changed, IP_A).toString('hex'),
        ]);
      } finally {
        run(['ip', '-n', NS_A, 'link', 'set', 'veth-a', 'address', macA], true);
        tcpdump.kill('SIGTERM');
        await exited;
      }
    },
  );

  test('first frame latency: announce() call to the helper answering ok', needs.options, async (t) => {
    await arp.macOf('veth-a'); // the helper runs, as it does after the first burst
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await arp.announce(IP_A, 'veth-a', 1, 0);
      samples.push(performance.now() - t0);
    }
    const med = median(samples);
    const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
    t.diagnostic(
      `announce() to "ok" of its frame: first ${us(samples[0])}, then median ${us(median(samples.slice(1)))}, max ${us(Math.max(...samples.slice(1)))} over ${samples.length - 1}`,
    );
    assert.ok(med < 20, `median ${med} ms`);
  });

  test(
    'errors name the command: unknown interface, non-Ethernet interface, bad arguments',
    needs.options,
    async () => {
      await assert.rejects(
        arp.announce(IP_A, 'nosuch0', 2, 1),
        /gratuitous ARP for 198\.51\.100\.1 on nosuch0: 2 of 2 frames not sent: pbx-ha-arp gratuitous ARP on nosuch0: cannot read the MAC address of nosuch0: No such device/,
      );
      await assert.rejects(
        arp.whoHas(IP_B, 'lo', 100),
        /pbx-ha-arp probe of 198\.51\.100\.2 on lo: lo is not an Ethernet interface/,
      );
      await assert.rejects(arp.whoHas('198.51.100', 'veth-a', 100), /not an IPv4 address/);
      await assert.rejects(arp.whoHas(IP_B, 'veth a', 100), /not an interface name/);
      await assert.rejects(arp.whoHas(IP_B, 'veth-a', 0), /timeout must be/);
      // The helper is still there and answers.
      assert.deepEqual(await arp.whoHas(IP_B, 'veth-a', 100), [macB]);
    },
  );

  test(
    'a send on an interface that was deleted and created again reaches the new one',
    needs.options,
    async () => {
      await arp.announce(IP_A, 'veth-a', 1, 0); // caches a socket on the old veth-a
      run(['ip', '-n', NS_A, 'link', 'del', 'veth-a']);
      run([
        'ip',
        'link',
        'add',
        'veth-a',
        'netns',
        NS_A,
        'type',
        'veth',
        'peer',
        'name',
        'veth-b',
        'netns',
        NS_B,
      ]);
      run(['ip', '-n', NS_A, 'addr', 'add', `${IP_A}/24`, 'dev', 'veth-a']);
      run(['ip', '-n', NS_B, 'addr', 'add', `${IP_B}/24`, 'dev', 'veth-b']);
      run(['ip', '-n', NS_A, 'link', 'set', 'veth-a', 'up']);
      run(['ip', '-n', NS_B, 'link', 'set', 'veth-b', 'up']);
      const newMacA = macIn(NS_A, 'veth-a');
      macB = macIn(NS_B, 'veth-b');
      // The helper re-resolves the ifindex (ENXIO) and says so; RawArp then drops the old MAC.
      await arp.announce(IP_A, 'veth-a', 1, 0);
      assert.equal(await arp.macOf('veth-a'), newMacA);
      assert.deepEqual(await arp.whoHas(IP_B, 'veth-a', 200), [macB]);
      macA = newMacA;
    },
  );
});

// --- stand-in helpers: how RawArp copes with a helper that dies or hangs -------------------

function node(script: string): string[] {
  return [process.execPath, '-e', script];
}

describe('RawArp with stand-in helpers', () => {
  test('a helper that dies fails the request with its exit code and stderr; the next request restarts it, not sooner than restartDelayMs', async () => {
    // Each stand-in prints the wall-clock time at which it runs and exits: RawArp starts a helper at
    // most once per restartDelayMs, so two stand-ins' times are at least that far apart, less the
    // jitter of their start (a shell, a few ms: the tolerance), whatever the time this process
    // takes to see the exit (which grows under load, and made a timer in this process unfit).
    const arp = new RawArp({
      command: ['/bin/sh', '-c', 'echo "cannot open socket: boom at $(date +%s%3N)" >&2; exit 3'],
      restartDelayMs: 300,
    });
    const ranAt = (e: Error) => Number(/boom at (\d+)/.exec(e.message)?.[1]);
    try {
      const first = await arp.macOf('eth0').then(
        () => assert.fail('the dead helper answered'),
        (e: Error) => e,
      );
      assert.match(
        first.message,
        /mac of eth0: pbx-ha-arp \(.*\) exited with code 3: cannot open socket: boom/,
      );
      const second = await arp.whoHas('192.0.2.1', 'eth0', 100).then(
        () => assert.fail('the dead helper answered'),
        (e: Error) => e,
      );
      assert.match(second.message, /probe of 192\.0\.2\.1 on eth0: .*exited with code 3/);
      const gap = ranAt(second) - ranAt(first);
      assert.ok(gap >= 250, `restarted ${gap} ms after the previous start, sooner than restartDelayMs`);
    } finally {
      await arp.close();
    }
  });

  test('a helper that cannot be started', async () => {
    const arp = new RawArp({ command: ['/nonexistent/pbx-ha-arp'] });
    await assert.rejects(
      arp.macOf('eth0'),
      /could not be started \(spawn \/nonexistent\/pbx-ha-arp ENOENT\)/,
    );
    await arp.close();
  });

  test('a request without an answer times out, naming the command, and the stuck helper is killed', async () => {
    const warnings: string[] = [];
    const arp = new RawArp({
      command: node('process.stdin.resume(); setInterval(() => {}, 1000)'),
      requestTimeoutMs: 150,
      restartDelayMs: 0,
      log: { log: (level, m) => level === 'warn' && warnings.push(m) },
    });
    try {
      await assert.rejects(arp.macOf('eth0'), /pbx-ha-arp: no answer to mac of eth0 within 150 ms/);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(
        warnings.some((w) => /killed by SIGKILL \(pbx-ha-arp: no answer to mac of eth0/.test(w)),
        warnings.join('\n'),
      );
    } finally {
      await arp.close();
    }
  });

  test('announce sends one garp line per frame and checks the MAC its answer names', async () => {
    // A stand-in that records the lines it reads, answers the first garp with a MAC and the
    // second with something else.
    const script = `
      const rl = require('readline').createInterface({ input: process.stdin });
      let n = 0;
      rl.on('line', (line) => {
        process.stderr.write(line + '\\n');
        const [cmd, id] = line.split(' ');
        if (cmd === 'garp') return console.log('ok ' + id + (n++ === 0 ? ' 02:00:00:00:02:10' : ' nonsense'));
        console.log('err ' + id + ' unexpected');
      });`;
    const arp = new RawArp({ command: node(script), sleep: async () => undefined });
    try {
      await arp.announce('192.0.2.10', 'eth0', 1, 0);
      await assert.rejects(
        arp.announce('192.0.2.10', 'eth0', 1, 0),
        /1 of 1 frames not sent: pbx-ha-arp: bad answer to garp on eth0: nonsense/,
      );
    } finally {
      await arp.close();
    }
  });

  test('announce paces its frames with the injected sleep, answers are matched by id, err answers reject', async () => {
    // A stand-in that answers `mac` and `garp` at once, and `probe` 100 ms later.
    const script = `
      const rl = require('readline').createInterface({ input: process.stdin });
      rl.on('line', (line) => {
        const [cmd, id, ifname, arg] = line.split(' ');
        if (cmd === 'mac') return console.log('mac ' + id + ' 02:00:00:00:00:01');
        if (cmd === 'garp' && ifname === 'bad0') return console.log('err ' + id + ' send on bad0: Network is down');
        if (cmd === 'garp') return console.log('ok ' + id + ' 02:00:00:00:00:01');
        if (cmd === 'probe') setTimeout(() => console.log('taken ' + id + ' 02:00:00:00:00:02,02:00:00:00:00:03'), 100);
      });`;
    const sleeps: number[] = [];
    const arp = new RawArp({ command: node(script), sleep: async (ms) => void sleeps.push(ms) });
    try {
      const probe = arp.whoHas('192.0.2.10', 'eth0', 100);
      let probeDone = false;
      void probe.then(() => (probeDone = true));
      await arp.announce('192.0.2.10', 'eth0', 4, 200);
      assert.deepEqual(sleeps, [200, 200, 200]);
      assert.equal(probeDone, false, 'the sends were answered while the probe was pending');
      assert.deepEqual(await probe, ['02:00:00:00:00:02', '02:00:00:00:00:03']);
      await assert.rejects(
        arp.announce('192.0.2.10', 'bad0', 2, 10),
        /2 of 2 frames not sent: pbx-ha-arp gratuitous ARP on bad0: send on bad0: Network is down/,
      );
    } finally {
      await arp.close();
    }
    await assert.rejects(arp.macOf('eth0'), /RawArp is closed/);
  });
});
