/**
 * Replication in the network lab: each node runs its own sshd (and PostgreSQL), the real
 * agents copy over the trusted link that `pbx-ha pair` sets up, a writer stands in for
 * Asterisk by writing the astdb continuously.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type Lab, REPO_ROOT, withLab } from './harness';
import { failbackGaps } from '../../lab/failback-gaps';
import {
  FAST_HEALTH,
  PBX_HA,
  SOON_MS,
  pairNodes,
  prepareSsh,
  startPair,
  waitSoleHolder,
  waitState,
} from './pair';

const LAB = { prefix: 'pbxrep', dir: '/tmp/pbx-ha-lab-replication', env: FAST_HEALTH };
const TIMEOUT = { timeout: 300_000 };
const WRITER = path.join(REPO_ROOT, 'test', 'fixtures', 'bin', 'astdb-writer.js');
const ASTDB = '/var/lib/asterisk/astdb.sqlite3';
/** The fault suite's PBX services: `start` runs an astdb writer (as Asterisk), `stop` ends it. */
const PBX_SERVICE = path.join(REPO_ROOT, 'test', 'faults', 'fixtures', 'pbx-service');

/** Replication settings for the lab: only the nodes' private directories are copied. */
const REPLICATION_CONFIG = `
[replication]
alert_after = 1
retry_min = 1s
[sync.files]
paths = /var/lib/asterisk/sounds, /var/spool/asterisk/voicemail
[sync.astdb]
debounce = 1s
`;

async function prepare(lab: Lab): Promise<void> {
  await prepareSsh(lab, REPLICATION_CONFIG);
}

const pair = pairNodes;

async function sync(lab: Lab, what: string, allowFail = false) {
  return lab.exec('pbx1', [PBX_HA, 'sync', what], { timeoutMs: 120_000, allowFail });
}

function astdbRows(file: string): Map<string, string> {
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `${file} passes integrity_check`);
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

test(
  'pairing, then files and astdb copies (with Asterisk writing) reach the slave; the key is restricted',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab);
        const paired = await pair(lab);
        // Pairing comes before the agents start: pbx2 answers through the forced command alone.
        assert.match(paired, /paired: pbx2 \(slave, stopped\) answers through pbx-ha's restricted key/);

        const authorized = readFileSync(lab.hostPath('pbx2', '/root/.ssh/authorized_keys'), 'utf8');
        assert.match(
          authorized,
          /^restrict,command="[^"]+ peer-command" ssh-ed25519 \S+ pbx-ha@pbx1$/m,
          authorized,
        );
        // pbx-ha's key runs nothing but replication.
        const shell = await lab.exec(
          'pbx1',
          [
            'ssh',
            '-i',
            '/etc/pbx-ha/ssh/id_ed25519',
            '-o',
            'BatchMode=yes',
            '-o',
            'UserKnownHostsFile=/etc/pbx-ha/ssh/known_hosts',
            'root@192.0.2.12',
            'id',
          ],
          { allowFail: true },
        );
        assert.notEqual(shell.code, 0);
        assert.match(shell.stderr, /may only run pbx-ha's replication/);
        assert.doesNotMatch(shell.stdout, /uid=0/);

        // Copies of different kinds may overlap (files, db and astdb have schedules of their own):
        // two rsyncs at once through the forced command must both go through, each into its own
        // directory (rrsync's default single-run lock refused the second).
        const big = lab.hostPath('pbx1', '/var/lib/pbx-ha/overlap.bin');
        writeFileSync(big, Buffer.alloc(8 * 1024 * 1024, 7));
        const ssh =
          'ssh -i /etc/pbx-ha/ssh/id_ed25519 -o BatchMode=yes -o UserKnownHostsFile=/etc/pbx-ha/ssh/known_hosts';
        const copies = await Promise.all(
          ['a', 'b'].map((d) =>
            lab.exec(
              'pbx1',
              [
                'rsync',
                '-a',
                '--mkpath',
                '--bwlimit=4000',
                '-e',
                ssh,
                '/var/lib/pbx-ha/overlap.bin',
                `root@192.0.2.12:incoming/overlap-${d}/`,
              ],
              { allowFail: true, timeoutMs: 60_000 },
            ),
          ),
        );
        for (const c of copies) assert.equal(c.code, 0, `both overlapping copies succeed: ${c.stderr}`);
        rmSync(big);

        // A link sent with the key lands munged (rrsync -munge): it leads nowhere on the slave, and
        // a link in outgoing/'s place is gone at the next rsync through the forced command.
        const planted = lab.hostPath('pbx1', '/var/lib/pbx-ha/planted');
        mkdirSync(planted, { recursive: true });
        symlinkSync('/root/.ssh', path.join(planted, 'keys'));
        symlinkSync('/root', path.join(planted, 'outgoing'));
        const push = await lab.exec(
          'pbx1',
          ['rsync', '-a', '--force', '-e', ssh, '/var/lib/pbx-ha/planted/', 'root@192.0.2.12:'],
          { allowFail: true, timeoutMs: 60_000 },
        );
        t.diagnostic(`push of links: code ${push.code} ${push.stderr.trim()}`);
        assert.match(
          readlinkSync(lab.hostPath('pbx2', '/var/lib/pbx-ha/exchange/keys')),
          /^\/rsyncd-munged\//,
          'the link is stored munged',
        );
        const outgoing = lab.hostPath('pbx2', '/var/lib/pbx-ha/exchange/outgoing');
        if (lstatSync(outgoing).isSymbolicLink()) assert.match(readlinkSync(outgoing), /^\/rsyncd-munged\//);
        await lab.exec('pbx1', ['rsync', '-a', '-e', ssh, '/etc/hostname', 'root@192.0.2.12:incoming/'], {
          timeoutMs: 60_000,
        });
        assert.ok(
          lstatSync(outgoing).isDirectory() && !lstatSync(outgoing).isSymbolicLink(),
          'outgoing/ is a real directory again',
        );
        rmSync(planted, { recursive: true });

        await startPair(lab);

        // Files: sounds made on the master appear on the slave; removals follow.
        const sounds = lab.hostPath('pbx1', '/var/lib/asterisk/sounds/fr');
        mkdirSync(sounds, { recursive: true });
        for (let i = 0; i < 50; i++) writeFileSync(path.join(sounds, `prompt-${i}.wav`), `sound ${i}\n`);
        symlinkSync('prompt-1.wav', path.join(sounds, 'alias.wav'));
        let r = await sync(lab, 'files');
        t.diagnostic(r.stdout.trim());
        assert.equal(
          readFileSync(lab.hostPath('pbx2', '/var/lib/asterisk/sounds/fr/prompt-49.wav'), 'utf8'),
          'sound 49\n',
        );
        // Stored munged in the exchange area, installed as the master has it.
        assert.match(
          readlinkSync(
            lab.hostPath(
              'pbx2',
              '/var/lib/pbx-ha/exchange/incoming/files/var/lib/asterisk/sounds/fr/alias.wav',
            ),
          ),
          /^\/rsyncd-munged\/prompt-1\.wav$/,
        );
        assert.equal(
          readlinkSync(lab.hostPath('pbx2', '/var/lib/asterisk/sounds/fr/alias.wav')),
          'prompt-1.wav',
        );
        rmSync(path.join(sounds, 'prompt-0.wav'));
        await sync(lab, 'files');
        assert.ok(
          !readdirSync(lab.hostPath('pbx2', '/var/lib/asterisk/sounds/fr')).includes('prompt-0.wav'),
          'a removal reaches the slave',
        );

        // astdb: copies taken while the writer runs always pass integrity_check on the slave.
        const writer = lab.spawnIn('pbx1', [process.execPath, WRITER, '--every', '5ms']);
        try {
          await lab.waitFor(
            'the writer has written',
            async () => {
              try {
                return astdbRows(lab.hostPath('pbx1', ASTDB)).size > 50;
              } catch {
                return false;
              }
            },
            SOON_MS,
          );
          for (let i = 0; i < 5; i++) {
            r = await sync(lab, 'astdb');
            const slave = astdbRows(lab.hostPath('pbx2', ASTDB));
            const last = Number(slave.get('/pbx-ha-test/last'));
            assert.ok(last > 0, "the slave has the writer's keys");
            for (let n = 1; n <= last; n++)
              assert.ok(slave.has(`/pbx-ha-test/seq/${n}`), `key ${n} of ${last} present`);
          }
          t.diagnostic(r.stdout.trim());
        } finally {
          writer.kill('SIGTERM');
        }
        const history = await lab.exec('pbx1', [PBX_HA, 'history']);
        assert.match(history.stdout, /astdb copy \(manual\) done/);
        const status = await lab.exec('pbx1', [PBX_HA, 'status']);
        assert.match(status.stdout, /copy astdb\s+sent\s+(RUNNING; )?last success/);
      },
      LAB,
    );
  },
);

test(
  'the slave refuses a copy while active; a changed host key stops replication with an alert',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab);
        await pair(lab);
        await startPair(lab);

        // pbx2 active (the master's cables pulled): its forced command refuses an installation.
        await lab.cut('pbx1');
        await waitState(lab, 'pbx2', 'active');
        const refused = await lab.exec('pbx2', [PBX_HA, 'peer-command'], {
          env: { SSH_ORIGINAL_COMMAND: 'pbx-ha control' },
          input: JSON.stringify({ request: 'peer-install', from: 'pbx1', kind: 'astdb' }) + '\n',
        });
        const answer = JSON.parse(refused.stdout.trim()) as { ok: boolean; error: string };
        assert.equal(answer.ok, false);
        assert.match(answer.error, /pbx2 is active: it accepts copies only in standby/);
        // Anything but replication is refused by the forced command itself.
        const other = await lab.exec('pbx2', [PBX_HA, 'peer-command'], {
          env: { SSH_ORIGINAL_COMMAND: 'bash -i' },
          allowFail: true,
        });
        assert.notEqual(other.code, 0);
        assert.match(other.stderr, /refused/);
        await lab.restore('pbx1');
        await waitSoleHolder(lab, 'pbx1', 60_000);
        await waitState(lab, 'pbx2', 'standby');

        // A new host key on pbx2 (a reinstalled peer, or somebody in the middle).
        const pid = await lab.startSshd('pbx2');
        process.kill(pid, 'SIGTERM');
        await lab.waitFor(
          'sshd on pbx2 stopped',
          async () => !(await lab.pids('pbx2')).includes(pid),
          SOON_MS,
        );
        rmSync(lab.hostKeyPath('pbx2'));
        rmSync(`${lab.hostKeyPath('pbx2')}.pub`);
        await lab.startSshd('pbx2');
        const r = await sync(lab, 'astdb', true);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /host key of 192\.0\.2\.12 CHANGED/);
        const history = await lab.exec('pbx1', [PBX_HA, 'history']);
        assert.match(
          history.stdout,
          /alert\s+! astdb copy failed 1 times in a row: host key of 192\.0\.2\.12 CHANGED/,
        );
      },
      LAB,
    );
  },
);

test(
  'failover then failback: astdb keys written on the master just before its cut (never copied) and on the slave while it served are all on the master afterwards',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab);
        // The slave's services run a stand-in for Asterisk that writes its astdb all the time it
        // serves (the failback included, until its services stop); the master's run none.
        for (const node of ['pbx1', 'pbx2'] as const) {
          const text = await lab.readConfig(node);
          await lab.writeConfig(node, text.replace(/\/\S*\/scripts\/lab-fake-service\b/g, PBX_SERVICE));
        }
        mkdirSync(lab.hostPath('pbx1', '/run/fake-pbx'), { recursive: true });
        writeFileSync(lab.hostPath('pbx1', '/run/fake-pbx/no-writer'), '');
        await pair(lab);
        const seed = lab.spawnIn('pbx1', [process.execPath, WRITER, '--count', '200', '--every', '1ms']);
        await new Promise((resolve) => seed.on('close', resolve));
        await startPair(lab);
        await sync(lab, 'astdb');
        // "Asterisk" on the master writes more keys just before its link is cut: never copied.
        const late = lab.spawnIn('pbx1', [
          process.execPath,
          WRITER,
          '--prefix',
          'on-master-late',
          '--count',
          '150',
          '--every',
          '1ms',
        ]);
        await new Promise((resolve) => late.on('close', resolve));
        const masterBefore = astdbRows(lab.hostPath('pbx1', ASTDB));
        assert.equal(masterBefore.get('/on-master-late/last'), '150');

        await lab.cut('pbx1');
        await waitState(lab, 'pbx2', 'active');
        // The slave serves: "Asterisk" there writes new keys.
        const onSlave = lab.spawnIn('pbx2', [
          process.execPath,
          WRITER,
          '--prefix',
          'on-slave',
          '--count',
          '300',
          '--every',
          '1ms',
        ]);
        await new Promise((resolve) => onSlave.on('close', resolve));

        await lab.restore('pbx1');
        await waitSoleHolder(lab, 'pbx1', 60_000);
        await waitState(lab, 'pbx2', 'standby');
        const master = astdbRows(lab.hostPath('pbx1', ASTDB));
        const slaveRows = astdbRows(lab.hostPath('pbx2', ASTDB));
        assert.equal(master.get('/on-slave/last'), '300', 'the keys written on the slave are on the master');
        for (const [k, v] of slaveRows)
          assert.equal(master.get(k), v, `the slave's key ${k} is on the master`);
        for (const [k, v] of masterBefore)
          assert.equal(master.get(k), v, `the master's key ${k} (written before its cut) is still there`);
        assert.ok(Number(slaveRows.get('/pbx2/last')) > 0, "the slave's Asterisk wrote while it served");
        const log = await lab.agentLog('pbx1');
        const slaveLog = await lab.agentLog('pbx2');
        // Brought across while the slave still served; then, its services stopped (quiesced) and
        // the VIPs still held, what its Asterisk wrote since; then the release, answered at once.
        assert.match(
          log,
          /failback data: astdb merged with the slave's: \d+ keys from the slave, \d+ kept from the master/,
        );
        const fetchedAt = log.search(/failback data: astdb merged with the slave's: /);
        const quiescedAt = log.search(/peer-quiesce: pbx2 is active, its services stopped/);
        const lastAt = log.search(
          /failback data \(the slave's services stopped\): astdb merged with the slave's \(its last changes\)/,
        );
        const releasedAt = log.search(
          /peer-release: pbx2 is now standby \(its services stopped since the quiesce\)/,
        );
        assert.ok(
          fetchedAt >= 0 && quiescedAt > fetchedAt && lastAt > quiescedAt && releasedAt > lastAt,
          `the data came across before the slave released the VIPs (first fetch at ${fetchedAt}, quiesce at ${quiescedAt}, last changes at ${lastAt}, release at ${releasedAt})`,
        );
        // The slave stopped its services before it let the VIPs go, and not again at the release.
        const slaveQuiesced = slaveLog.search(/quiesced at pbx1's request \(failback\): services stopped/);
        const slaveReleased = slaveLog.search(/pbx2: active -> standby \(released on pbx1's request\)/);
        assert.ok(
          slaveQuiesced >= 0 && slaveReleased > slaveQuiesced,
          "the slave's services stopped before it released the VIPs",
        );
        assert.doesNotMatch(
          slaveLog.slice(slaveQuiesced),
          /services stop: .* succeeded[\s\S]*active -> standby \(released/,
          'the release stops no services (they were stopped at the quiesce)',
        );
        // Without a holder for one request: no fetch between the release and the claim.
        const gaps = failbackGaps(log, slaveLog);
        t.diagnostic(`VIPs without a holder at the failback: ${gaps.map((g) => `${g.gapMs} ms`).join(', ')}`);
        assert.equal(gaps.length, 1, 'one failback');
        assert.equal(gaps[0].fetchedInGap, false, 'nothing fetched while the VIPs had no holder');
        assert.ok(gaps[0].gapMs < 1000, `the VIPs had no holder for ${gaps[0].gapMs} ms`);
        // The master's replaced astdb is kept.
        const backups = readdirSync(lab.hostPath('pbx1', '/var/lib/pbx-ha/backup/astdb')).filter((f) =>
          f.endsWith('.sqlite3'),
        );
        assert.ok(backups.length >= 1, 'the replaced astdb is kept');
        const kept = backups.map((f) =>
          astdbRows(lab.hostPath('pbx1', path.join('/var/lib/pbx-ha/backup/astdb', f))),
        );
        assert.ok(
          kept.some((rows) => rows.get('/pbx-ha-test/last') === '200' && !rows.has('/on-slave/last')),
          "the kept file is the master's own",
        );
      },
      LAB,
    );
  },
);

test(
  "database: the slave gets the master's rows except the excluded tables; a failed restore leaves its data intact",
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await prepare(lab);
        await pair(lab);
        const schema =
          'CREATE TABLE userfeatures (id serial PRIMARY KEY, firstname text NOT NULL); CREATE TABLE cel (id serial PRIMARY KEY, eventtype text);';
        for (const node of ['pbx1', 'pbx2'] as const) {
          await lab.startPostgres(node);
          await lab.psql(node, schema);
        }
        await lab.psql(
          'pbx1',
          "INSERT INTO userfeatures (firstname) SELECT 'user' || g FROM generate_series(1, 5000) g; INSERT INTO cel (eventtype) VALUES ('CHAN_START');",
        );
        await lab.psql(
          'pbx2',
          "INSERT INTO userfeatures (firstname) VALUES ('stale'); INSERT INTO cel (eventtype) VALUES ('slave call log');",
        );
        await startPair(lab);
        // The slave's backup area as the astdb backups leave it when they come first: root-only.
        // pg_dump, run as postgres, must still get through it to dump the slave's data (it did not).
        await lab.exec('pbx2', ['mkdir', '-p', '-m', '0700', '/var/lib/pbx-ha/backup/astdb']);
        await lab.exec('pbx2', ['chmod', '0700', '/var/lib/pbx-ha/backup']);

        const r = await sync(lab, 'db');
        t.diagnostic(r.stdout.trim());
        assert.equal((await lab.psql('pbx2', 'SELECT count(*) FROM userfeatures')).trim(), '5000');
        assert.equal(
          (await lab.psql('pbx2', "SELECT count(*) FROM userfeatures WHERE firstname = 'stale'")).trim(),
          '0',
        );
        assert.equal(
          (await lab.psql('pbx2', 'SELECT eventtype FROM cel')).trim(),
          'slave call log',
          "the call log (excluded) is the slave's own",
        );

        // The slave's schema no longer accepts the master's rows: the restore fails as a whole.
        await lab.psql(
          'pbx2',
          "ALTER TABLE userfeatures ADD COLUMN mandatory text NOT NULL DEFAULT 'x'; ALTER TABLE userfeatures ALTER COLUMN mandatory DROP DEFAULT;",
        );
        const before = (
          await lab.psql(
            'pbx2',
            "SELECT md5(string_agg(id || ':' || firstname, ',' ORDER BY id)) FROM userfeatures",
          )
        ).trim();
        await lab.psql('pbx1', "INSERT INTO userfeatures (firstname) VALUES ('new on the master');");
        const failed = await sync(lab, 'db', true);
        assert.notEqual(failed.code, 0);
        assert.match(failed.stderr, /NOT installed, previous data kept/);
        const after = (
          await lab.psql(
            'pbx2',
            "SELECT md5(string_agg(id || ':' || firstname, ',' ORDER BY id)) FROM userfeatures",
          )
        ).trim();
        assert.equal(after, before, "the slave's rows are exactly as before the failed restore");
        assert.match(
          (await lab.exec('pbx1', [PBX_HA, 'history'])).stdout,
          /alert\s+! db copy failed 1 times in a row/,
        );
      },
      LAB,
    );
  },
);

test(
  "pairing --manual: the key is pasted on the peer's console; pairing again checks the link",
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        for (const node of ['pbx1', 'pbx2'] as const) await lab.startSshd(node);
        const fp = await lab.hostKeyFingerprint('pbx2');
        const first = await lab.exec('pbx1', [PBX_HA, 'pair', '--manual', '--fingerprint', fp]);
        const m = /echo '(ssh-ed25519 \S+ pbx-ha@pbx1)' \| (\S+) accept-peer-key/.exec(first.stdout);
        assert.ok(m, first.stdout);
        // What the administrator pastes on pbx2's console (no SSH access needed for it).
        await lab.exec('pbx2', [m[2], 'accept-peer-key'], { input: `${m[1]}\n` });
        const again = await lab.exec('pbx1', [PBX_HA, 'pair', '--fingerprint', fp]);
        assert.match(again.stdout, /already installed on pbx2/);
        assert.match(again.stdout, /paired: pbx2/);
      },
      LAB,
    );
  },
);
