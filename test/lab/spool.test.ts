/**
 * The change-driven spool copy in the network lab: real agents, real sshd, rsync and Debian's
 * inotifywait. The scheduled files copy is set to once a year, so that whatever reaches the
 * slave here was copied because it changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StatusAnswer } from '../../src/ports/status';
import { type Lab, withLab } from './harness';
import { FAST_HEALTH, PBX_HA, SOON_MS, agentStatus, pairNodes, prepareSsh, startPair } from './pair';

const LAB = { prefix: 'pbxspl', dir: '/tmp/pbx-ha-lab-spool', env: FAST_HEALTH };
const TIMEOUT = { timeout: 300_000 };
const INBOX = '/var/spool/asterisk/voicemail/default/1001/INBOX';

const CONFIG = `
[replication]
alert_after = 1
retry_min = 1s
[sync.files]
schedule = 0 0 1 1 *
paths = /var/lib/asterisk/sounds, /var/spool/asterisk/voicemail
spool = /var/spool/asterisk/voicemail
`;

/** The files copies pbx1's history records as made on a change. */
async function changeCopies(lab: Lab): Promise<string[]> {
  const r = await lab.exec('pbx1', [PBX_HA, 'history', '--limit', '1000'], { timeoutMs: 10_000 });
  return r.stdout.split('\n').filter((l) => /files copy \(change\)/.test(l));
}

/** Writes a voicemail as Asterisk does: into a temporary name, then renamed into place. */
function leaveVoicemail(lab: Lab, name: string, body: string): void {
  const dir = lab.hostPath('pbx1', INBOX);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `.${name}.tmp`), body);
  renameSync(path.join(dir, `.${name}.tmp`), path.join(dir, name));
}

test(
  'a voicemail written on the master reaches the slave without waiting for the schedule; a burst of 1000 files takes few copies',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        // The voicemail tree exists before the master serves: the watcher watches what is there.
        mkdirSync(lab.hostPath('pbx1', INBOX), { recursive: true });
        await prepareSsh(lab, CONFIG);
        await pairNodes(lab);
        await startPair(lab);
        await lab.waitFor(
          "pbx1's spool watcher in place",
          async () => ((await agentStatus(lab, 'pbx1')) as StatusAnswer).spool?.watching === true,
          SOON_MS,
          200,
        );
        const slaveStatus = (await agentStatus(lab, 'pbx2')) as StatusAnswer;
        assert.equal(slaveStatus.spool?.watching, false, 'the node that stands by watches nothing');

        const started = Date.now();
        leaveVoicemail(lab, 'msg0000.txt', 'callerid=1002\n');
        const onSlave = lab.hostPath('pbx2', `${INBOX}/msg0000.txt`);
        await lab.waitFor('the voicemail on pbx2', async () => existsSync(onSlave), 30_000, 100);
        t.diagnostic(`voicemail on the slave ${Date.now() - started} ms after it was written`);
        assert.equal(readFileSync(onSlave, 'utf8'), 'callerid=1002\n');
        assert.ok((await changeCopies(lab)).length >= 1, 'copied by a change copy');

        // A burst: a thousand small files, as fast as this process writes them.
        const before = (await changeCopies(lab)).length;
        const burst = lab.hostPath('pbx1', '/var/spool/asterisk/voicemail/default/1002/INBOX');
        mkdirSync(burst, { recursive: true });
        for (let i = 0; i < 1000; i++)
          writeFileSync(path.join(burst, `msg${String(i).padStart(4, '0')}.txt`), `${i}\n`);
        const slaveBurst = lab.hostPath('pbx2', '/var/spool/asterisk/voicemail/default/1002/INBOX');
        await lab.waitFor(
          'the burst on pbx2',
          async () => existsSync(slaveBurst) && readdirSync(slaveBurst).length === 1000,
          60_000,
          200,
        );
        // Any copy still running (the last events of the burst) ends before counting.
        await new Promise((r) => setTimeout(r, 5000));
        const runs = (await changeCopies(lab)).length - before;
        t.diagnostic(`the burst of 1000 files took ${runs} change copies`);
        assert.ok(runs >= 1 && runs <= 5, `${runs} copies for the burst, at most 5 expected`);

        // A removal on the master waits for the next full copy: a change copy adds and updates,
        // never removes (what the slave recorded while it served must not go with it).
        const removed = path.join(slaveBurst, 'msg0000.txt');
        const copiesBefore = (await changeCopies(lab)).length;
        writeFileSync(path.join(burst, 'msg1000.txt'), 'last\n');
        await lab.exec('pbx1', ['rm', `/var/spool/asterisk/voicemail/default/1002/INBOX/msg0000.txt`]);
        await lab.waitFor(
          'the new file on pbx2',
          async () => existsSync(path.join(slaveBurst, 'msg1000.txt')),
          30_000,
          200,
        );
        await new Promise((r) => setTimeout(r, 3000)); // the change copy of the removal, if any, ended
        assert.ok(existsSync(removed), 'a change copy removed a file on the slave');
        assert.ok((await changeCopies(lab)).length > copiesBefore);
        const history = await lab.exec('pbx1', [PBX_HA, 'history', '--limit', '1000']);
        assert.doesNotMatch(history.stdout, /files copy \(schedule\)/, 'no scheduled copy ran');
        // The full copy removes it, and the slave keeps the removed file in its backup area.
        await lab.exec('pbx1', [PBX_HA, 'sync', 'files'], { timeoutMs: 120_000 });
        assert.ok(!existsSync(removed), 'the full copy removes what the master removed');

        // Each node's status: the master sent files copies and schedules the next run; the slave
        // shows what it received and no next run.
        const master = await lab.exec('pbx1', [PBX_HA, 'status']);
        assert.match(master.stdout, /^copy files {2}sent {5}last success .*; next \d{4}-/m);
        assert.match(master.stdout, /^spool {7}copied on change: \/var\/spool\/asterisk\/voicemail$/m);
        const slave = await lab.exec('pbx2', [PBX_HA, 'status']);
        t.diagnostic(slave.stdout);
        assert.match(slave.stdout, /^copy files {2}received last .* from pbx1: installed$/m);
        assert.match(slave.stdout, /^copy files {2}sent {5}none since the agent started; no run here/m);
        assert.doesNotMatch(slave.stdout, /next \d{4}-/);
      },
      LAB,
    );
  },
);
