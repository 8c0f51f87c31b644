/**
 * The lab's services (scripts/lab sshd | postgres, harness startSshd/startPostgres/psql): an
 * OpenSSH server and a PostgreSQL cluster inside each PBX node, reachable on the VOIP network,
 * nothing of ours in the root namespace, nothing left after down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { fingerprint } from '../../src/link/known-hosts';
import { Lab, requireLab } from './harness';

const PG_BIN = process.env.PBX_LAB_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PROGRAMS = [
  '/usr/sbin/sshd',
  '/usr/bin/ssh',
  '/usr/bin/ssh-keyscan',
  '/usr/bin/ssh-keygen',
  `${PG_BIN}/postgres`,
  `${PG_BIN}/initdb`,
  '/usr/bin/psql',
  '/usr/bin/pg_isready',
];

/** Like requireLab: the services' packages missing is a failure in CI, a loud skip elsewhere. */
function requireServices(t: TestContext): boolean {
  const missing = PROGRAMS.filter((p) => !existsSync(p));
  if (missing.length === 0) return true;
  const msg = `LAB SERVICES UNAVAILABLE: missing ${missing.join(', ')} (scripts/setup installs openssh-server, openssh-client, postgresql)`;
  if (process.env.CI) throw new Error(`${msg} (CI is set, so this is a failure, not a skip)`);
  process.stderr.write(`\n*** ${msg} — skipping "${t.name}" ***\n\n`);
  t.skip(msg);
  return false;
}

/** TCP listeners on ports 22 and 5432 in the root network namespace ("addr:port"). */
function rootListeners(): string[] {
  const r = spawnSync('ss', ['-H', '-l', '-t', '-n'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ss: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[3])
    .filter((a): a is string => !!a && /:(22|5432)$/.test(a))
    .sort();
}

/** Processes (not zombies) whose command line or working directory mentions `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // kernel threads, or a process that just exited
      }
      if (cmdline.includes(text) || cwd.includes(text)) found.push(`${entry} ${cmdline} (cwd ${cwd})`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

function alive(pid: number): boolean {
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return stat !== '' && !/\) [ZX] /.test(stat);
}

test(
  'lab services: sshd and PostgreSQL in the PBX nodes, nothing in the root namespace, nothing left after down',
  { timeout: 180_000 },
  async (t) => {
    if (!requireLab(t) || !requireServices(t)) return;
    const lab = new Lab({
      prefix: `pbxsvc${process.pid % 10000}`,
      dir: `/tmp/pbx-ha-lab-svc-${process.pid}`,
    });
    const listenersBefore = rootListeners();
    const nodePids: number[] = [];
    try {
      await lab.up();
      const t0 = Date.now();
      const sshd = { pbx1: await lab.startSshd('pbx1'), pbx2: await lab.startSshd('pbx2') };
      const t1 = Date.now();
      const pg = { pbx1: await lab.startPostgres('pbx1'), pbx2: await lab.startPostgres('pbx2') };
      t.diagnostic(
        `2 × sshd started in ${t1 - t0} ms, 2 × postgres (initdb included) in ${Date.now() - t1} ms`,
      );

      await t.test('starting a running service again is a no-op', async () => {
        assert.equal(await lab.startSshd('pbx2'), sshd.pbx2);
        assert.equal(await lab.startPostgres('pbx1'), pg.pbx1);
        assert.ok((await lab.pids('pbx1')).includes(pg.pbx1));
        assert.ok((await lab.pids('pbx2')).includes(sshd.pbx2));
        assert.match(await lab.status(), /sshd: running \(pid \d+\)/);
      });

      await t.test('nothing of ours listens in the root namespace', () => {
        assert.deepEqual(rootListeners(), listenersBefore);
        assert.equal(
          rootListeners().some((a) => a.startsWith('192.0.2.') || a.startsWith('198.51.100.')),
          false,
        );
      });

      await t.test('sshd on pbx2 answers pbx1 with the lab host key', async () => {
        const scan = await lab.exec('pbx1', ['ssh-keyscan', '-T', '5', '-t', 'ed25519', '192.0.2.12'], {
          timeoutMs: 15_000,
        });
        const [host, type, base64] = scan.stdout.trim().split(/\s+/);
        assert.equal(host, '192.0.2.12');
        assert.equal(type, 'ssh-ed25519');
        const expected = await lab.hostKeyFingerprint('pbx2');
        assert.equal(fingerprint(Buffer.from(base64, 'base64')), expected);
        // Same fingerprint as OpenSSH computes it; each node has its own key.
        const keygen = await lab.exec('pbx1', ['ssh-keygen', '-l', '-f', '-'], { input: scan.stdout });
        assert.equal(keygen.stdout.split(/\s+/)[1], expected);
        assert.notEqual(await lab.hostKeyFingerprint('pbx1'), expected);
      });

      await t.test('sshd listens on the VOIP address only and takes root keys, never passwords', async () => {
        const ss = await lab.exec('pbx2', ['ss', '-H', '-l', '-t', '-n', 'sport = :22']);
        assert.deepEqual(
          ss.stdout
            .trim()
            .split('\n')
            .map((l) => l.trim().split(/\s+/)[3]),
          ['192.0.2.12:22'],
        );
        const data = await lab.exec('pbx1', ['ssh-keyscan', '-T', '2', '198.51.100.12'], {
          allowFail: true,
          timeoutMs: 10_000,
        });
        assert.equal(data.stdout.trim(), '', 'nothing answers on the DATA address');

        // A key in pbx2's private /root/.ssh/authorized_keys lets pbx1's root in (known host checked).
        await lab.exec('pbx1', [
          'ssh-keygen',
          '-q',
          '-t',
          'ed25519',
          '-N',
          '',
          '-C',
          'test@pbx1',
          '-f',
          '/root/.ssh/lab_test_key',
        ]);
        const pub = await lab.exec('pbx1', ['cat', '/root/.ssh/lab_test_key.pub']);
        await lab.exec('pbx2', ['sh', '-c', 'umask 077; cat >> /root/.ssh/authorized_keys'], {
          input: pub.stdout,
        });
        const hostKey = await lab.exec('pbx1', ['ssh-keyscan', '-T', '5', '-t', 'ed25519', '192.0.2.12'], {
          timeoutMs: 15_000,
        });
        await lab.exec('pbx1', ['sh', '-c', 'cat > /root/.ssh/lab_test_known_hosts'], {
          input: hostKey.stdout,
        });
        const base = [
          'ssh',
          '-F',
          '/dev/null',
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'UserKnownHostsFile=/root/.ssh/lab_test_known_hosts',
          '-o',
          'ConnectTimeout=5',
        ];
        const login = await lab.exec(
          'pbx1',
          [...base, '-i', '/root/.ssh/lab_test_key', 'root@192.0.2.12', 'hostname'],
          { timeoutMs: 20_000 },
        );
        assert.equal(login.stdout.trim(), 'pbx2');
        const noKey = await lab.exec(
          'pbx1',
          [...base, '-o', 'PubkeyAuthentication=no', 'root@192.0.2.12', 'true'],
          { allowFail: true, timeoutMs: 20_000 },
        );
        assert.notEqual(noKey.code, 0);
        assert.match(noKey.stderr, /Permission denied \(publickey\)/);
        assert.match(
          readFileSync(`${lab.nodeDir('pbx2')}/sshd.log`, 'utf8'),
          /Accepted publickey for root from 192\.0\.2\.11/,
        );
      });

      await t.test('postgres in each node answers on its socket, with its own data', async () => {
        for (const node of ['pbx1', 'pbx2'] as const) {
          assert.equal(await lab.psql(node, 'SELECT current_database()'), 'asterisk');
          assert.equal(
            await lab.psql(node, `SELECT setting FROM pg_settings WHERE name = 'listen_addresses'`),
            lab.voipAddress(node),
          );
        }
        await lab.psql(
          'pbx1',
          'CREATE TABLE only_on_pbx1 (id int PRIMARY KEY); INSERT INTO only_on_pbx1 VALUES (1)',
        );
        assert.equal(await lab.psql('pbx1', 'SELECT count(*) FROM only_on_pbx1'), '1');
        assert.equal(
          await lab.psql('pbx2', `SELECT count(*) FROM pg_tables WHERE tablename = 'only_on_pbx1'`),
          '0',
        );
        // Errors stop psql and surface.
        await assert.rejects(lab.psql('pbx2', 'SELECT * FROM only_on_pbx1'), /only_on_pbx1/);
      });

      await t.test('postgres listens on the VOIP address only', async () => {
        const ready = (node: 'pbx1' | 'pbx2', host: string) =>
          lab.exec(node, ['pg_isready', '-h', host, '-p', '5432', '-U', 'postgres', '-t', '3'], {
            allowFail: true,
            timeoutMs: 10_000,
          });
        assert.equal(
          (await ready('pbx1', '192.0.2.11')).code,
          0,
          'pbx1 reaches its own cluster on its VOIP address',
        );
        assert.equal((await ready('pbx1', '192.0.2.12')).code, 0, 'pbx1 reaches pbx2 over the VOIP network');
        assert.notEqual((await ready('pbx1', '127.0.0.1')).code, 0, 'not on the loopback');
        assert.notEqual((await ready('pbx1', '198.51.100.11')).code, 0, 'not on the DATA address');
        const ss = await lab.exec('pbx1', ['ss', '-H', '-l', '-t', '-n', 'sport = :5432']);
        assert.deepEqual(
          ss.stdout
            .trim()
            .split('\n')
            .map((l) => l.trim().split(/\s+/)[3]),
          ['192.0.2.11:5432'],
        );
      });

      for (const node of ['pbx1', 'pbx2'] as const) nodePids.push(...(await lab.pids(node)));
      assert.ok(nodePids.includes(pg.pbx2) && nodePids.includes(sshd.pbx1));
    } finally {
      await lab.down();
    }

    assert.deepEqual(nodePids.filter(alive), [], 'no process of the nodes survives down');
    assert.deepEqual(processesMentioning(lab.dir), [], 'no process mentions the lab directory');
    assert.deepEqual(rootListeners(), listenersBefore);
    assert.equal(existsSync(lab.dir), false);
  },
);
