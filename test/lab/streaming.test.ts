/**
 * `[sync.db] mode = streaming` in the network lab: each node runs its own PostgreSQL 15 cluster
 * (laid out as Debian's, configuration apart from the data, driven with pg_ctl), its sshd, and the
 * real agent; pbx-ha pairs them and sets replication up by itself (role, secret, slot, pg_hba.conf,
 * the first clone of the master's cluster on the slave).
 *
 *   1. rows committed on the master reach the slave's hot standby; the master's link is cut; the
 *      slave promotes before its services start and takes writes; the link comes back; the master
 *      is rejoined as the slave's standby, then takes the primary role back in the failback: every
 *      row of both periods on both, the slave a standby again, lag back to zero.
 *   2. then a timeline split forced: the master's link cut, rows committed on both primaries; when
 *      the link comes back pbx-ha drops nothing, stops, and says why in `status`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Lab, type PbxNode, withLab } from './harness';
import {
  FAST_HEALTH,
  PBX_HA,
  agentStatus,
  pairNodes,
  prepareSsh,
  startPair,
  waitSoleHolder,
  waitState,
} from './pair';
import type { LabAgentStatus } from '../../lab/pair';
import { WRITER } from '../../lab/layout';
import {
  STREAMING_DB_SETTINGS,
  STREAMING_PG as PG,
  STREAMING_PG_BIN as PG_BIN,
  makeStreamingCluster,
} from '../../lab/pg-cluster';
import type { DbReplicationStatus } from '../../src/ports/status';

const LAB = { prefix: 'pbxstr', dir: '/tmp/pbx-ha-lab-streaming', env: FAST_HEALTH };

/** Streaming mode, the cluster as each node sees it (/run is private to each node). */
const CONFIG = `
[replication]
alert_after = 1
retry_min = 1s
[sync.files]
paths = /var/lib/asterisk/sounds
spool =
[sync.db]
mode = streaming
${Object.entries(STREAMING_DB_SETTINGS)
  .map(([k, v]) => `${k} = ${v}`)
  .join('\n')}
rejoin_timeout = 2m
`;

type Status = LabAgentStatus & { db?: DbReplicationStatus };

/** A cluster of its own in the node, with a table, and an astdb as Asterisk keeps one. */
async function makeNode(lab: Lab, node: PbxNode): Promise<void> {
  await makeStreamingCluster(lab, node);
  await lab.psql(node, 'CREATE TABLE calls (id serial PRIMARY KEY, note text NOT NULL)');
  await lab.exec(node, [process.execPath, WRITER, '--prefix', node, '--fill', '1']);
}

const rows = async (lab: Lab, node: PbxNode): Promise<string[]> =>
  (await lab.psql(node, "SELECT coalesce(string_agg(note, ',' ORDER BY id), '') FROM calls"))
    .split(',')
    .filter((x) => x !== '');

const inRecovery = async (lab: Lab, node: PbxNode) =>
  (await lab.psql(node, 'SELECT pg_is_in_recovery()')).trim() === 't';

async function insert(lab: Lab, node: PbxNode, ...notes: string[]): Promise<void> {
  for (const note of notes) await lab.psql(node, `INSERT INTO calls (note) VALUES ('${note}')`);
}

async function status(lab: Lab, node: PbxNode): Promise<Status> {
  return (await agentStatus(lab, node)) as Status;
}

async function waitRows(lab: Lab, node: PbxNode, want: string[], recovery: boolean, ms = 60_000) {
  await lab.waitFor(
    `${node}: rows ${want.join(',')}, ${recovery ? 'a standby' : 'the primary'}`,
    async () =>
      (await inRecovery(lab, node)) === recovery && (await rows(lab, node)).join(',') === want.join(','),
    ms,
    250,
  );
}

test(
  'streaming mode: failover and failback lose no row, then a timeline split is kept and stops replication',
  { timeout: 420_000 },
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        for (const node of ['pbx1', 'pbx2'] as const) await makeNode(lab, node);
        // The slave's own cluster holds a row of its own: replaced by the clone, its directory kept.
        await insert(lab, 'pbx2', 'slave-own');
        await insert(lab, 'pbx1', 'm1', 'm2');
        await prepareSsh(lab, CONFIG);
        await pairNodes(lab);
        await startPair(lab);

        // pbx-ha sets replication up: the slave becomes a hot standby of the master's cluster.
        await waitRows(lab, 'pbx2', ['m1', 'm2'], true, 90_000);
        await insert(lab, 'pbx1', 'm3');
        await waitRows(lab, 'pbx2', ['m1', 'm2', 'm3'], true);
        const kept = (
          await lab.exec('pbx2', ['sh', '-c', `ls -d ${PG}/data.replaced-*`], { allowFail: true })
        ).stdout.trim();
        assert.match(kept, /data\.replaced-/, "the slave's replaced data directory is kept");
        const secret = await lab.exec('pbx1', [
          'stat',
          '-c',
          '%a %U',
          '/var/lib/pbx-ha/pg-replication.secret',
        ]);
        assert.equal(secret.stdout.trim(), '600 root');
        const pass = await lab.exec('pbx2', ['stat', '-c', '%a %U', `${PG}/conf/pbx-ha-replication.pgpass`]);
        assert.equal(pass.stdout.trim(), '600 postgres');
        const hba = await lab.exec('pbx1', ['cat', `${PG}/conf/pg_hba.conf`]);
        assert.match(
          hba.stdout,
          new RegExp(`host replication pbx_ha_replica ${lab.voipAddress('pbx2')}/32 scram-sha-256`),
        );
        const m = await status(lab, 'pbx1');
        assert.equal(m.db?.mode, 'streaming');
        assert.equal(m.db?.local, 'primary');

        // The master's link is cut: the slave promotes before its services start, and serves.
        await lab.cut('pbx1');
        await waitState(lab, 'pbx2', 'active');
        await lab.waitFor('pbx2 primary', async () => !(await inRecovery(lab, 'pbx2')), 30_000, 250);
        await insert(lab, 'pbx2', 's1', 's2');
        // Read once the services started (logged when their start ended, after the promotion).
        await lab.waitFor(
          "pbx2's services started",
          async () => /services start: .* succeeded/.test(await lab.agentLog('pbx2')),
          30_000,
          250,
        );
        const slaveLog = await lab.agentLog('pbx2');
        const promotedAt = slaveLog.search(/PostgreSQL \(promote at takeover\): promote/);
        const startedAt = slaveLog.search(/services start: .* succeeded/);
        assert.ok(promotedAt >= 0 && startedAt > promotedAt, 'promoted before the services started');

        // The link comes back: the master stands by for the slave, catches up, takes the role back.
        await lab.restore('pbx1');
        await waitSoleHolder(lab, 'pbx1', 120_000);
        await waitState(lab, 'pbx2', 'standby', 30_000);
        const all = ['m1', 'm2', 'm3', 's1', 's2'];
        await waitRows(lab, 'pbx1', all, false);
        await insert(lab, 'pbx1', 'm4');
        await waitRows(lab, 'pbx2', [...all, 'm4'], true, 90_000);
        await lab.waitFor(
          'lag 0 seen by the master',
          async () => (await status(lab, 'pbx1')).db?.lagBytes === 0,
          30_000,
          500,
        );
        const masterLog = await lab.agentLog('pbx1');
        assert.match(masterLog, /PostgreSQL \(stand by for the serving slave\): (rewind|clone|follow)/);
        assert.match(masterLog, /database switched over: done/);
        for (const node of ['pbx1', 'pbx2'] as const)
          assert.doesNotMatch(
            await lab.agentLog(node),
            new RegExp(
              (await lab.exec('pbx1', ['cat', '/var/lib/pbx-ha/pg-replication.secret'])).stdout.trim(),
            ),
            'the secret is never logged',
          );

        // A planned handover (pbx-ha failover): the master stops its server cleanly once its
        // services are stopped, so the slave finds no primary, promotes with every row, and serves;
        // pbx-ha failback brings the primary role back the same way as after a failure.
        await insert(lab, 'pbx1', 'm5');
        await lab.exec('pbx1', [PBX_HA, 'failover'], { timeoutMs: 60_000 });
        await waitState(lab, 'pbx2', 'active');
        await lab.waitFor(
          'pbx2 primary after the handover',
          async () => !(await inRecovery(lab, 'pbx2')),
          30_000,
          250,
        );
        assert.deepEqual(await rows(lab, 'pbx2'), [...all, 'm4', 'm5'], 'the handover lost no row');
        assert.match(await lab.agentLog('pbx1'), /PostgreSQL stopped cleanly/);
        await insert(lab, 'pbx2', 's3');
        await lab.exec('pbx1', [PBX_HA, 'failback'], { timeoutMs: 180_000 });
        await waitSoleHolder(lab, 'pbx1', 120_000);
        await waitState(lab, 'pbx2', 'standby', 30_000);
        all.push('m4', 'm5', 's3');
        await waitRows(lab, 'pbx1', all, false);
        await waitRows(lab, 'pbx2', all, true, 90_000);
        await lab.waitFor(
          'lag 0 seen by the master after the second failback',
          async () => (await status(lab, 'pbx1')).db?.lagBytes === 0,
          60_000,
          500,
        );

        // A timeline split: both promoted, each commits a row of its own.
        await lab.cut('pbx1');
        await waitState(lab, 'pbx2', 'active');
        await lab.waitFor('pbx2 primary again', async () => !(await inRecovery(lab, 'pbx2')), 30_000, 250);
        await insert(lab, 'pbx1', 'm-split');
        await insert(lab, 'pbx2', 's-split');
        await lab.restore('pbx1');
        await lab.waitFor(
          "the split in the master's status",
          async () => (await status(lab, 'pbx1')).db?.split != null,
          90_000,
          500,
        );
        const text = (await lab.exec('pbx1', [PBX_HA, 'status'])).stdout;
        assert.match(text, /TIMELINE SPLIT: streaming stopped, both sides kept: .*committed \d+ transaction/);
        assert.match(text, /to resolve, on the node whose writes since the split you give up: .*pg_dumpall/);
        // Nothing of either side dropped: the master's server was stopped cleanly to count its
        // commits and left as it was; started by hand it has its row, the slave has its own.
        await lab.exec(
          'pbx1',
          [
            'runuser',
            '-u',
            'postgres',
            '--',
            `${PG_BIN}/pg_ctl`,
            '-D',
            `${PG}/conf`,
            '-l',
            `${PG}/postgresql.log`,
            '-w',
            'start',
          ],
          { timeoutMs: 60_000, allowFail: true },
        );
        assert.deepEqual(await rows(lab, 'pbx1'), [...all, 'm-split']);
        assert.deepEqual(await rows(lab, 'pbx2'), [...all, 's-split']);
        assert.match((await lab.exec('pbx1', [PBX_HA, 'history'])).stdout, /two primaries/);
        // The failback waits: the slave, whose writes are the newest, keeps serving meanwhile.
        assert.equal((await status(lab, 'pbx2')).state, 'active');
        assert.equal((await status(lab, 'pbx1')).state, 'standby');
        const steps = (await lab.agentLog('pbx1')).match(/PostgreSQL \([^)]*\): \w+/g) ?? [];
        t.diagnostic(`the master's steps: ${steps.join(' | ')}`);
      },
      LAB,
    );
  },
);
