/**
 * Planned handovers and service-aware failover in the network lab: `pbx-ha failover` and
 * `pbx-ha failback` over the trusted link, refusals and --force, a failed tracked check on the
 * master, failback = manual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type Lab, REPO_ROOT, withLab } from './harness';
import {
  FAST_HEALTH,
  PBX_HA,
  SOON_MS,
  VOIP_VIP,
  agentStatus,
  pairNodes,
  prepareSsh,
  startPair,
  waitSoleHolder,
  waitState,
} from './pair';

const LAB = { prefix: 'pbxho', dir: '/tmp/pbx-ha-lab-handover', env: FAST_HEALTH };
const TIMEOUT = { timeout: 300_000 };
const WRITER = path.join(REPO_ROOT, 'test', 'fixtures', 'bin', 'astdb-writer.js');
const FAIL_IF_EXISTS = path.join(REPO_ROOT, 'test', 'fixtures', 'bin', 'fail-if-exists');
const ASTDB = '/var/lib/asterisk/astdb.sqlite3';

async function prepare(lab: Lab, extraConfig = ''): Promise<void> {
  await prepareSsh(lab, `[sync.files]\npaths = /var/lib/asterisk/sounds\n${extraConfig}`);
  await pairNodes(lab);
}

function astdb(lab: Lab, node: 'pbx1' | 'pbx2'): Map<string, string> {
  const db = new Database(lab.hostPath(node, ASTDB), { readonly: true });
  try {
    return new Map(
      (db.prepare('SELECT key, value FROM astdb').all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
  } finally {
    db.close();
  }
}

async function runWriter(lab: Lab, node: 'pbx1' | 'pbx2', args: string[]): Promise<void> {
  const w = lab.spawnIn(node, [process.execPath, WRITER, ...args]);
  await new Promise((resolve) => w.on('close', resolve));
}

test(
  'failover and failback by hand, with Asterisk writing the astdb: no key lost, the outage is the handover',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab);
        await runWriter(lab, 'pbx1', ['--count', '100', '--every', '1ms']);
        await startPair(lab);
        const pinger = await lab.startPhonePinger(VOIP_VIP, 10);
        // "Asterisk" writes until the handover begins (its services stop first).
        const writer = lab.spawnIn('pbx1', [process.execPath, WRITER, '--every', '10ms']);
        await new Promise((r) => setTimeout(r, 2000));
        writer.kill('SIGTERM');
        await new Promise((resolve) => writer.on('close', resolve));
        const r = await lab.exec('pbx1', [PBX_HA, 'failover'], { timeoutMs: 60_000 });
        t.diagnostic(r.stdout.trim());
        await waitSoleHolder(lab, 'pbx2');
        assert.equal((await agentStatus(lab, 'pbx1')).state, 'maintenance');
        assert.equal((await agentStatus(lab, 'pbx2')).state, 'active');
        assert.equal(
          await lab.fakeServiceState('pbx1'),
          'stopped',
          "maintenance stops the master's services",
        );
        const master = astdb(lab, 'pbx1');
        const slave = astdb(lab, 'pbx2');
        assert.equal(
          slave.get('/pbx-ha-test/last'),
          master.get('/pbx-ha-test/last'),
          'the last key written on the master is on the slave',
        );
        // The master answers ping all along: the slave keeps serving anyway.
        await new Promise((r) => setTimeout(r, 2000));
        assert.equal((await agentStatus(lab, 'pbx2')).state, 'active');

        await runWriter(lab, 'pbx2', ['--prefix', 'on-slave', '--count', '50', '--every', '1ms']);
        const back = await lab.exec('pbx1', [PBX_HA, 'failback'], { timeoutMs: 120_000 });
        t.diagnostic(back.stdout.trim());
        await waitSoleHolder(lab, 'pbx1');
        await waitState(lab, 'pbx2', 'standby');
        assert.equal(
          astdb(lab, 'pbx1').get('/on-slave/last'),
          '50',
          'the keys written on the slave came back',
        );
        const ping = await pinger.stop();
        const gaps = ping.replyTimes
          .slice(1)
          .map((at, i) => at - ping.replyTimes[i])
          .sort((a, b) => b - a);
        t.diagnostic(
          `the phone's two longest gaps (failover and failback): ${gaps
            .slice(0, 2)
            .map((g) => g.toFixed(0))
            .join(' ms, ')} ms`,
        );
        assert.ok(ping.trailingGapMs < 2000, 'the VIP answers at the end');
        assert.ok(gaps[0] < 5000, `no outage as long as a detection: longest gap ${gaps[0]} ms`);
      },
      LAB,
    );
  },
);

test(
  'failover refuses when the slave cannot be reached; --force hands over anyway; failback --force',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab);
        await startPair(lab);
        const sshd = await lab.startSshd('pbx2');
        process.kill(sshd, 'SIGTERM');
        await lab.waitFor(
          'sshd on pbx2 stopped',
          async () => !(await lab.pids('pbx2')).includes(sshd),
          SOON_MS,
        );
        const refused = await lab.exec('pbx1', [PBX_HA, 'failover'], { allowFail: true, timeoutMs: 60_000 });
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /refused: pbx2 cannot be reached over the trusted link/);
        assert.match(refused.stderr, /--force/);
        assert.equal((await agentStatus(lab, 'pbx1')).state, 'active', 'nothing changed');

        const forced = await lab.exec('pbx1', [PBX_HA, 'failover', '--force'], {
          allowFail: true,
          timeoutMs: 60_000,
        });
        assert.match(forced.stderr, /may lose the PBX/);
        await waitState(lab, 'pbx1', 'maintenance');
        const back = await lab.exec('pbx1', [PBX_HA, 'failback', '--force'], {
          allowFail: true,
          timeoutMs: 120_000,
        });
        t.diagnostic(`${back.stdout.trim()} ${back.stderr.trim()}`);
        await waitSoleHolder(lab, 'pbx1');
        assert.equal((await agentStatus(lab, 'pbx1')).state, 'active');
      },
      LAB,
    );
  },
);

test(
  'a failed tracked check on the master hands the VIPs to the slave; they come back when it recovers',
  TIMEOUT,
  async (t) => {
    const check = `\n[track.pbx]\ncommand = ${FAIL_IF_EXISTS} /run/fake-pbx/broken\ninterval = 200ms\ntimeout = 150ms\nrise = 2\nfall = 2\n`;
    await withLab(
      t,
      async (lab) => {
        await prepare(lab, check);
        await startPair(lab);
        const broken = lab.hostPath('pbx1', '/run/fake-pbx/broken');
        writeFileSync(broken, '');
        await waitSoleHolder(lab, 'pbx2');
        const status = await agentStatus(lab, 'pbx1');
        assert.equal(status.state, 'fault');
        assert.match(status.reason, /check pbx failing/);
        assert.equal((await agentStatus(lab, 'pbx2')).state, 'active');
        rmSync(broken);
        await waitSoleHolder(lab, 'pbx1', 60_000);
        await waitState(lab, 'pbx2', 'standby');
      },
      LAB,
    );
  },
);

test(
  'failback = manual: the slave keeps serving after the master returns, until pbx-ha failback',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab, '\n[failover]\nfailback = manual\n');
        await startPair(lab);
        await lab.cut('pbx1');
        await waitSoleHolder(lab, 'pbx2');
        await lab.restore('pbx1');
        await waitState(lab, 'pbx1', 'standby');
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal((await agentStatus(lab, 'pbx2')).state, 'active', 'still the slave');
        await waitSoleHolder(lab, 'pbx2', 1000);
        await lab.exec('pbx1', [PBX_HA, 'failback'], { timeoutMs: 120_000 });
        await waitSoleHolder(lab, 'pbx1');
        await waitState(lab, 'pbx2', 'standby');
      },
      LAB,
    );
  },
);
