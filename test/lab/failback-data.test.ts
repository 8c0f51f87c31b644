/**
 * What the slave changed while it served comes back at the failback (docs/replication.md, "What
 * comes back at a failback"): real agents, real sshd, rsync and a PostgreSQL per node. The
 * scheduled copies are set to once a year: whatever moves here moved because of the failback,
 * or of a copy the test asks for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type Lab, REPO_ROOT, withLab } from './harness';
import { FAST_HEALTH, PBX_HA, pairNodes, prepareSsh, startPair, waitSoleHolder, waitState } from './pair';

const LAB = { prefix: 'pbxfbd', dir: '/tmp/pbx-ha-lab-failback-data', env: FAST_HEALTH };
const TIMEOUT = { timeout: 420_000 };
const WRITER = path.join(REPO_ROOT, 'test', 'fixtures', 'bin', 'astdb-writer.js');
const ASTDB = '/var/lib/asterisk/astdb.sqlite3';
const INBOX = '/var/spool/asterisk/voicemail/default/1001/INBOX';
const BACKUP = '/var/lib/pbx-ha/backup';

const CONFIG = `
[replication]
alert_after = 1
retry_min = 1s
[sync.files]
schedule = 0 0 1 1 *
paths = /var/lib/asterisk/sounds, /var/spool/asterisk/voicemail
spool = /var/spool/asterisk/voicemail
[sync.db]
schedule = 0 0 1 1 *
[sync.astdb]
schedule = 0 0 1 1 *
debounce = 0
`;

/** Writes a voicemail as Asterisk does: into a temporary name, then renamed into place. */
function leaveVoicemail(lab: Lab, node: 'pbx1' | 'pbx2', name: string, body: string): void {
  const dir = lab.hostPath(node, INBOX);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `.${name}.tmp`), body);
  renameSync(path.join(dir, `.${name}.tmp`), path.join(dir, name));
}

const voicemail = (lab: Lab, node: 'pbx1' | 'pbx2', name: string): string | null => {
  const file = lab.hostPath(node, path.join(INBOX, name));
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
};

function astdbValue(lab: Lab, node: 'pbx1' | 'pbx2', key: string): string | undefined {
  const db = new Database(lab.hostPath(node, ASTDB), { readonly: true });
  try {
    return (db.prepare('SELECT value FROM astdb WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  } finally {
    db.close();
  }
}

/** Every file under `dir` (host path), relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
}

async function writeAstdb(lab: Lab, node: 'pbx1' | 'pbx2', prefix: string, count: number): Promise<void> {
  const w = lab.spawnIn(node, [process.execPath, WRITER, '--prefix', prefix, '--count', String(count)]);
  await new Promise((resolve) => w.on('close', resolve));
}

async function sync(lab: Lab, kind: string): Promise<string> {
  return (await lab.exec('pbx1', [PBX_HA, 'sync', kind], { timeoutMs: 120_000 })).stdout.trim();
}

test(
  'failback: a voicemail, a row and an astdb key written on the slave while it served are on the master; a file changed on both sides keeps both with an alert; the next copies keep them on the slave',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        leaveVoicemail(lab, 'pbx1', 'msg-old.txt', 'copied before the cut\n');
        leaveVoicemail(lab, 'pbx1', 'shared.txt', 'both had this\n');
        leaveVoicemail(lab, 'pbx1', 'gone.txt', 'the slave deletes this\n');
        await prepareSsh(lab, CONFIG);
        await pairNodes(lab);
        for (const node of ['pbx1', 'pbx2'] as const) {
          await lab.startPostgres(node);
          await lab.psql(node, 'CREATE TABLE userfeatures (id serial PRIMARY KEY, firstname text NOT NULL)');
        }
        await lab.psql(
          'pbx1',
          "INSERT INTO userfeatures (firstname) SELECT 'user' || g FROM generate_series(1, 50) g",
        );
        await writeAstdb(lab, 'pbx1', 'on-master', 10);
        await startPair(lab);
        for (const kind of ['files', 'db', 'astdb']) t.diagnostic(await sync(lab, kind));
        assert.equal(voicemail(lab, 'pbx2', 'shared.txt'), 'both had this\n');
        assert.equal((await lab.psql('pbx2', 'SELECT count(*) FROM userfeatures')).trim(), '50');

        await lab.cut('pbx1');
        await waitState(lab, 'pbx2', 'active');
        // The master, cut off, changes a file and a row itself: never copied.
        leaveVoicemail(lab, 'pbx1', 'shared.txt', 'changed on the master while cut off\n');
        await lab.psql('pbx1', "INSERT INTO userfeatures (firstname) VALUES ('on the master while cut off')");
        // The slave serves: a new voicemail, a changed one, a deleted one, a row, astdb keys.
        leaveVoicemail(lab, 'pbx2', 'msg-new.txt', 'left on the slave while it served\n');
        leaveVoicemail(lab, 'pbx2', 'shared.txt', 'changed on the slave while it served\n');
        unlinkSync(lab.hostPath('pbx2', path.join(INBOX, 'gone.txt')));
        await lab.psql(
          'pbx2',
          "INSERT INTO userfeatures (firstname) VALUES ('on the slave while it served')",
        );
        await writeAstdb(lab, 'pbx2', 'on-slave', 20);

        await lab.restore('pbx1');
        await waitSoleHolder(lab, 'pbx1', 120_000);
        await waitState(lab, 'pbx2', 'standby');
        const log = await lab.agentLog('pbx1');
        t.diagnostic(
          log
            .split('\n')
            .filter((l) => /failback data/.test(l))
            .join('\n'),
        );

        // All on the master.
        assert.equal(voicemail(lab, 'pbx1', 'msg-new.txt'), 'left on the slave while it served\n');
        assert.equal(voicemail(lab, 'pbx1', 'msg-old.txt'), 'copied before the cut\n');
        assert.equal(voicemail(lab, 'pbx1', 'gone.txt'), null, "the slave's deletion is applied");
        assert.equal(
          voicemail(lab, 'pbx1', 'shared.txt'),
          'changed on the slave while it served\n',
          'changed on both sides: the slave, which served last, is in place',
        );
        assert.equal(
          await lab.psql(
            'pbx1',
            "SELECT count(*) FROM userfeatures WHERE firstname = 'on the slave while it served'",
          ),
          '1',
          "the slave's row is on the master",
        );
        assert.equal(
          astdbValue(lab, 'pbx1', '/on-slave/last'),
          '20',
          "the slave's astdb keys are on the master",
        );
        assert.equal(astdbValue(lab, 'pbx1', '/on-master/last'), '10');

        // The master's replaced copies are kept.
        const kept = filesUnder(lab.hostPath('pbx1', `${BACKUP}/spool-return`));
        t.diagnostic(`kept: ${kept.join(', ')}`);
        const keptShared = kept.find((f) => f.endsWith(`${INBOX}/shared.txt`));
        assert.ok(keptShared, "the master's version of the file changed on both sides is kept");
        assert.equal(
          readFileSync(lab.hostPath('pbx1', path.join(BACKUP, 'spool-return', keptShared)), 'utf8'),
          'changed on the master while cut off\n',
        );
        assert.ok(
          kept.some((f) => f.endsWith(`${INBOX}/gone.txt`)),
          'the file removed as on the slave is kept',
        );
        const dumps = readdirSync(lab.hostPath('pbx1', `${BACKUP}/db`)).filter((f) => f.endsWith('.sql'));
        assert.ok(
          dumps.some((f) =>
            readFileSync(lab.hostPath('pbx1', path.join(BACKUP, 'db', f)), 'utf8').includes(
              'on the master while cut off',
            ),
          ),
          "the master's own rows are kept in a dump in the backup area",
        );

        // The alerts name the file changed on both sides, and the database changed on both.
        const history = (await lab.exec('pbx1', [PBX_HA, 'history', '--limit', '200'])).stdout;
        assert.match(history, /alert\s+! failback: 1 spool file\(s\) changed on both nodes.*shared\.txt/);
        assert.match(history, /alert\s+! failback: the master's database had changed too/);

        // The master's next copies carry them: nothing of it goes from the slave.
        for (const kind of ['files', 'db', 'astdb']) t.diagnostic(await sync(lab, kind));
        assert.equal(voicemail(lab, 'pbx2', 'msg-new.txt'), 'left on the slave while it served\n');
        assert.equal(voicemail(lab, 'pbx2', 'shared.txt'), 'changed on the slave while it served\n');
        assert.equal(
          await lab.psql(
            'pbx2',
            "SELECT count(*) FROM userfeatures WHERE firstname = 'on the slave while it served'",
          ),
          '1',
        );
        assert.equal(astdbValue(lab, 'pbx2', '/on-slave/last'), '20');
      },
      LAB,
    );
  },
);

test(
  'manual failback: the slave serves, the master is back in standby; a voicemail, a row and a key written on the slave reach the master before any failback',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        // The database is pulled on the [sync.db] schedule: every minute here.
        await prepareSsh(
          lab,
          `${CONFIG.replace('[sync.db]\nschedule = 0 0 1 1 *', '[sync.db]\nschedule = * * * * *')}\n[failover]\nfailback = manual\n`,
        );
        await pairNodes(lab);
        for (const node of ['pbx1', 'pbx2'] as const) {
          await lab.startPostgres(node);
          await lab.psql(node, 'CREATE TABLE userfeatures (id serial PRIMARY KEY, firstname text NOT NULL)');
        }
        await lab.psql('pbx1', "INSERT INTO userfeatures (firstname) VALUES ('on the master')");
        await writeAstdb(lab, 'pbx1', 'on-master', 10);
        leaveVoicemail(lab, 'pbx1', 'msg-old.txt', 'copied before the cut\n');
        await startPair(lab);
        for (const kind of ['files', 'db', 'astdb']) t.diagnostic(await sync(lab, kind));

        await lab.cut('pbx1');
        await waitState(lab, 'pbx2', 'active');
        await lab.restore('pbx1');
        await waitState(lab, 'pbx1', 'standby', 60_000);
        await waitSoleHolder(lab, 'pbx2', 60_000);

        const written = Date.now();
        leaveVoicemail(lab, 'pbx2', 'msg-new.txt', 'left on the slave while it served\n');
        await writeAstdb(lab, 'pbx2', 'on-slave', 20);
        await lab.psql(
          'pbx2',
          "INSERT INTO userfeatures (firstname) VALUES ('on the slave while it served')",
        );
        const took: Record<string, number> = {};
        await Promise.all([
          lab
            .waitFor(
              'the voicemail on the master',
              async () => voicemail(lab, 'pbx1', 'msg-new.txt') !== null,
              60_000,
              200,
            )
            .then(() => (took.voicemail = Date.now() - written)),
          lab
            .waitFor(
              'the astdb key on the master',
              async () => astdbValue(lab, 'pbx1', '/on-slave/last') === '20',
              60_000,
              200,
            )
            .then(() => (took.astdb = Date.now() - written)),
          lab
            .waitFor(
              'the row on the master',
              async () =>
                (await lab.psql(
                  'pbx1',
                  "SELECT count(*) FROM userfeatures WHERE firstname = 'on the slave while it served'",
                )) === '1',
              150_000,
              1000,
            )
            .then(() => (took.row = Date.now() - written)),
        ]);
        t.diagnostic(`reached the master after: ${JSON.stringify(took)} ms`);
        assert.equal(voicemail(lab, 'pbx1', 'msg-new.txt'), 'left on the slave while it served\n');
        // No failback: the slave still serves, the master stands by.
        await waitSoleHolder(lab, 'pbx2', 5_000);
        await waitState(lab, 'pbx1', 'standby', 5_000);
        assert.match(
          (await lab.agentLog('pbx1')).match(/pulled from the serving slave: .*/g)?.join('\n') ?? '',
          /spool: 1 file\(s\) from the slave installed/,
        );
      },
      LAB,
    );
  },
);
