/**
 * Streaming replication between two real PostgreSQL clusters on this machine, driven by the
 * planner (src/domain/pg-streaming.ts) through PgStreamingNode and drivePg: each cluster laid out
 * as Debian's postgresql-common does (configuration directory apart from the data directory,
 * conf.d included), listening on 127.0.0.1 on its own port, run as the postgres system user, and
 * deleted in `after`, also when a test fails. The link between them is cut by taking pbx-ha's
 * pg_hba.conf block out of the primary and ending its WAL senders. Needs root and Debian's
 * postgresql package; without them each test is skipped (and counted), or fails when CI is set.
 *
 * The tests run in order, each from where the one before left the pair:
 *   1. the slave's own cluster is replaced by a clone of the master's (the old one kept aside);
 *      rows committed on the master reach it;
 *   2. cut; the slave promotes (the master gone); rows committed on it;
 *   3. link back; failback: the master is rewound, follows the slave, catches up, takes the
 *      primary role back in a switchover; the slave follows it again, lag 0; every row of both
 *      periods on both;
 *   4. cut again, both commit as primaries: the master's rejoin finds its commits past the fork,
 *      answers `split`, and neither side loses a row.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
  chownSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '../../../../src/adapters/exec';
import { lagBytes, type PgObservation } from '../../../../src/domain/pg-streaming';
import type { PgClusterLayout, ReplicationSource } from '../../../../src/jobs/db/streaming-commands';
import { describeStep, drivePg, type DriveOptions } from '../../../../src/jobs/db/streaming-drive';
import { HBA_BEGIN } from '../../../../src/jobs/db/streaming-files';
import { PgStreamingNode } from '../../../../src/jobs/db/streaming-node';
import { RemotePgObserver } from '../../../../src/jobs/db/streaming-remote';
import { prerequisite } from '../../../fakes/prerequisites';

const PG_BIN = process.env.PBX_HA_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const ROLE = 'pbx_ha_replica';
const SECRET = 'Zq0-test-secret-never-logged_42';

function unavailable(): string | null {
  if (process.platform !== 'linux') return `platform is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (runs PostgreSQL as the postgres user with runuser)';
  for (const p of [
    'initdb',
    'pg_ctl',
    'postgres',
    'pg_basebackup',
    'pg_rewind',
    'pg_waldump',
    'pg_controldata',
    'psql',
  ]) {
    if (!existsSync(path.join(PG_BIN, p)))
      return `${PG_BIN}/${p} is missing (install postgresql: scripts/setup)`;
  }
  const r = spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) return 'no postgres system user';
  return null;
}

const needs = prerequisite('streaming replication against a real PostgreSQL', unavailable());

interface Node {
  name: 'master' | 'slave';
  layout: PgClusterLayout;
  pg: PgStreamingNode;
  /** How the other node reaches this one. */
  source: ReplicationSource;
}

let root = '';
const nodes: Record<'master' | 'slave', Node> = {} as never;
const logged: string[] = [];

async function ids(): Promise<[number, number]> {
  const u = Number((await runCommand(['id', '-u', 'postgres'], { timeoutMs: 5000 })).stdout.trim());
  const g = Number((await runCommand(['id', '-g', 'postgres'], { timeoutMs: 5000 })).stdout.trim());
  return [u, g];
}

/** A cluster laid out as Debian's: conf/ (postgresql.conf, pg_hba.conf, conf.d), data/, sock/. */
async function makeCluster(name: 'master' | 'slave', port: number, peerPort: number): Promise<Node> {
  const [uid, gid] = await ids();
  const dir = path.join(root, name);
  const conf = path.join(dir, 'conf');
  const layout: PgClusterLayout = {
    dataDir: path.join(dir, 'data'),
    configDir: conf,
    binDir: PG_BIN,
    socketDir: path.join(dir, 'sock'),
    port,
    osUser: 'postgres',
    control: { kind: 'pg_ctl', logFile: path.join(dir, 'postgres.log') },
  };
  for (const d of [dir, conf, path.join(conf, 'conf.d'), layout.dataDir, layout.socketDir]) {
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, uid, gid);
  }
  chmodSync(dir, 0o755);
  writeFileSync(layout.control.kind === 'pg_ctl' ? layout.control.logFile : '', '');
  chownSync(layout.control.kind === 'pg_ctl' ? layout.control.logFile : '', uid, gid);
  await runCommand(
    [
      'runuser',
      '-u',
      'postgres',
      '--',
      `${PG_BIN}/initdb`,
      '-D',
      layout.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-sync',
    ],
    { timeoutMs: 120_000 },
  );
  const files: Array<[string, string]> = [
    [
      'postgresql.conf',
      [
        `data_directory = '${layout.dataDir}'`,
        `hba_file = '${path.join(conf, 'pg_hba.conf')}'`,
        `ident_file = '${path.join(layout.dataDir, 'pg_ident.conf')}'`,
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${layout.socketDir}'`,
        'fsync = off',
        'shared_buffers = 16MB',
        "include_dir = 'conf.d'",
        '',
      ].join('\n'),
    ],
    // As Debian's: the cluster's owner over the socket; nothing else but what pbx-ha adds.
    ['pg_hba.conf', 'local all postgres trust\n'],
  ];
  for (const [f, text] of files) {
    writeFileSync(path.join(conf, f), text, { mode: 0o600 });
    chownSync(path.join(conf, f), uid, gid);
  }
  const pg = new PgStreamingNode(layout, { timeoutMs: 120_000, keepReplaced: 2 });
  const passfile = path.join(dir, 'replication.pgpass');
  const source: ReplicationSource = {
    host: '127.0.0.1',
    port,
    role: ROLE,
    passfile: path.join(root, name === 'master' ? 'slave' : 'master', 'replication.pgpass'),
    slot: name === 'master' ? 'pbx_ha_slave' : 'pbx_ha_master',
  };
  // What set-up does on each node: settings, the peer's pg_hba line, the passfile to reach the peer.
  await pg.installServerSettings(64);
  await pg.installHba(ROLE, '127.0.0.1');
  await pg.writePassfile(passfile, { host: '127.0.0.1', port: peerPort, role: ROLE }, SECRET);
  await pg.start();
  await pg.ensureReplicationRole(ROLE, SECRET);
  return { name, layout, pg, source };
}

function psql(n: Node, sql: string): Promise<string> {
  return runCommand(
    [
      'runuser',
      '-u',
      'postgres',
      '--',
      `${PG_BIN}/psql`,
      '-X',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      n.layout.socketDir,
      '-p',
      String(n.layout.port),
      '-d',
      'postgres',
      '-c',
      sql,
    ],
    { timeoutMs: 60_000 },
  ).then((r) => r.stdout.trim());
}

const rows = async (n: Node): Promise<string[]> =>
  (await psql(n, "SELECT coalesce(string_agg(note, ',' ORDER BY id), '') FROM calls"))
    .split(',')
    .filter((x) => x !== '');

async function insert(n: Node, ...notes: string[]): Promise<void> {
  for (const note of notes) await psql(n, `INSERT INTO calls (note) VALUES ('${note}')`);
}

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    try {
      last = await f();
      if (ok(last)) return last;
    } catch {
      // not yet
    }
    if (Date.now() > end)
      assert.fail(
        `${what}: not within ${ms} ms (last: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))})`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

function drive(local: Node, peer: Node): DriveOptions {
  return {
    source: peer.source,
    applicationName: local.name === 'master' ? 'pbx_ha_master' : 'pbx_ha_slave',
    peerSlot: peer.source.slot === 'pbx_ha_slave' ? 'pbx_ha_master' : 'pbx_ha_slave',
    timeoutMs: 120_000,
    pollMs: 200,
    onStep: (s) => logged.push(`${local.name}: ${describeStep(s)}`),
  };
}

/** The link cut: the primary's pbx-ha block out of pg_hba.conf and its WAL senders ended. */
async function cut(primary: Node): Promise<void> {
  const file = path.join(primary.layout.configDir, 'pg_hba.conf');
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.includes(ROLE))
      .join('\n'),
  );
  await psql(primary, 'SELECT pg_reload_conf()');
  await psql(primary, 'SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication');
}

const linkBack = (n: Node) => n.pg.installHba(ROLE, '127.0.0.1');

/** A TCP port nothing listens on at 127.0.0.1 now (other tests may run beside this one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  if (needs.lacking) return;
  root = mkdtempSync(path.join(tmpdir(), 'pbx-ha-pgstream-'));
  chmodSync(root, 0o755);
  const [mPort, sPort] = [await freePort(), await freePort()];
  nodes.master = await makeCluster('master', mPort, sPort);
  nodes.slave = await makeCluster('slave', sPort, mPort);
  await nodes.master.pg.ensureSlot('pbx_ha_slave');
  await psql(nodes.master, 'CREATE TABLE calls (id serial PRIMARY KEY, note text NOT NULL)');
});

after(async () => {
  if (needs.lacking || root === '') return;
  for (const n of Object.values(nodes)) {
    await runCommand(
      [
        'runuser',
        '-u',
        'postgres',
        '--',
        `${PG_BIN}/pg_ctl`,
        '-D',
        n.layout.configDir,
        '-m',
        'immediate',
        '-w',
        '-t',
        '30',
        'stop',
      ],
      { timeoutMs: 40_000 },
    ).catch(() => undefined);
  }
  // Any server still running from a data directory of ours (one kept aside included): killed.
  for (const n of Object.values(nodes)) {
    const dir = path.dirname(n.layout.dataDir);
    for (const d of readdirSync(dir).filter((x) => x.startsWith('data'))) {
      const pidFile = path.join(dir, d, 'postmaster.pid');
      if (!existsSync(pidFile)) continue;
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0], 10);
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (process.env.PBX_HA_KEEP_PG !== undefined) process.stderr.write(`kept ${root}\n${logged.join('\n')}\n`);
  else rmSync(root, { recursive: true, force: true });
});

test(
  'the slave is cloned from the master (its own cluster kept aside); committed rows reach it',
  needs.options,
  async () => {
    const { master, slave } = nodes;
    await insert(master, 'm1', 'm2');
    const r = await drivePg({ kind: 'stand-by' }, slave.pg, master.pg, drive(slave, master));
    assert.equal(r.end.kind, 'done', logged.join('\n'));
    assert.ok(
      r.steps.some((s) => s.kind === 'clone'),
      'a clone: the slave had another cluster',
    );
    const kept = readdirSync(path.dirname(slave.layout.dataDir)).filter((n) =>
      n.startsWith('data.replaced-'),
    );
    assert.equal(kept.length, 1, 'the replaced data directory is kept');
    assert.ok(existsSync(path.join(path.dirname(slave.layout.dataDir), kept[0], 'PG_VERSION')));
    await insert(master, 'm3');
    await until(
      'm3 on the standby',
      () => rows(slave),
      (v) => v.includes('m3'),
    );
    assert.deepEqual(await rows(slave), ['m1', 'm2', 'm3']);
    // Seen from the master through the replication protocol, the slave is a standby of its cluster.
    const seen = await new RemotePgObserver(master.layout, slave.source, 30_000).observe();
    assert.equal(seen.kind === 'standby' && seen.timeline, 1);
    // The secret: in the passfile only, the cluster's user's, mode 0600; never in a logged line.
    const pass = statSync(master.source.passfile);
    assert.equal(pass.mode & 0o777, 0o600);
    assert.equal(pass.uid, (await ids())[0]);
    assert.ok(!logged.join('\n').includes(SECRET));
    // pg_hba.conf: pbx-ha's block first, the peer's address only, the replaced file kept.
    const hba = readFileSync(path.join(master.layout.configDir, 'pg_hba.conf'), 'utf8').split('\n');
    assert.equal(hba[0], HBA_BEGIN);
    assert.deepEqual(hba.slice(1, 3), [
      `host replication ${ROLE} 127.0.0.1/32 scram-sha-256`,
      `host postgres ${ROLE} 127.0.0.1/32 scram-sha-256`,
    ]);
    assert.equal(
      readFileSync(path.join(master.layout.configDir, 'pg_hba.conf.before-pbx-ha'), 'utf8'),
      'local all postgres trust\n',
    );
  },
);

test('cut: the slave promotes (the master gone) and takes writes', needs.options, async () => {
  const { master, slave } = nodes;
  await cut(master);
  const gone = { observe: async (): Promise<PgObservation> => ({ kind: 'unknown', reason: 'link cut' }) };
  const r = await drivePg({ kind: 'serve', peerGone: true }, slave.pg, gone as never, drive(slave, master));
  assert.equal(r.end.kind, 'done', logged.join('\n'));
  assert.deepEqual(
    r.steps.map((s) => s.kind),
    ['promote', 'done'],
  );
  await insert(slave, 's1', 's2');
  assert.deepEqual(await rows(slave), ['m1', 'm2', 'm3', 's1', 's2']);
  const s = await slave.pg.observe();
  assert.equal(s.kind === 'primary' && s.timeline, 2);
});

test(
  'failback: the master is rewound, catches up, takes the primary role back; the slave follows it, lag 0',
  needs.options,
  async () => {
    const { master, slave } = nodes;
    await linkBack(master);
    // The rejoin needs nothing of the slave but what its replication protocol shows the master.
    const remote = new RemotePgObserver(master.layout, slave.source, 30_000);
    const seen = await remote.observe();
    const own = await slave.pg.observe();
    assert.ok(seen.kind === 'primary' && own.kind === 'primary', `${seen.kind} ${own.kind}`);
    assert.deepEqual([seen.systemId, seen.timeline, seen.history], [own.systemId, own.timeline, own.history]);
    const rejoin = await drivePg(
      { kind: 'stand-by' },
      master.pg,
      { observe: () => remote.observe() } as never,
      drive(master, slave),
    );
    assert.equal(rejoin.end.kind, 'done', logged.join('\n'));
    const kinds = rejoin.steps.map((s) => s.kind);
    assert.ok(kinds.includes('count-commits') && kinds.includes('rewind'), kinds.join(' '));
    assert.deepEqual(await rows(master), ['m1', 'm2', 'm3', 's1', 's2']);
    await insert(slave, 's3'); // written while the master stands by again: must not be lost
    const sw = await drivePg({ kind: 'switchover' }, master.pg, slave.pg, drive(master, slave));
    assert.equal(sw.end.kind, 'done', logged.join('\n'));
    assert.deepEqual(
      sw.steps.map((s) => s.kind).filter((k) => k !== 'wait'),
      ['stop-peer', 'promote', 'done'],
    );
    const back = await drivePg({ kind: 'stand-by' }, slave.pg, master.pg, drive(slave, master));
    assert.equal(back.end.kind, 'done', logged.join('\n'));
    await insert(master, 'm4');
    await until(
      'm4 on the standby',
      () => rows(slave),
      (v) => v.includes('m4'),
    );
    assert.deepEqual(await rows(master), ['m1', 'm2', 'm3', 's1', 's2', 's3', 'm4']);
    assert.deepEqual(await rows(slave), ['m1', 'm2', 'm3', 's1', 's2', 's3', 'm4']);
    const [m, s] = await until(
      'lag 0',
      async () => [await master.pg.observe(), await slave.pg.observe()] as const,
      ([a, b]) => lagBytes(a, b) === 0n,
    );
    assert.equal(m.kind, 'primary');
    assert.equal(s.kind === 'standby' && s.streaming, true);
    assert.ok(!logged.join('\n').includes(SECRET));
  },
);

test(
  'planned failover and back: the running primary is stopped cleanly first, nothing is rewound, no row lost',
  needs.options,
  async () => {
    const { master, slave } = nodes;
    // The slave takes over from a master whose PostgreSQL still runs as primary (pbx-ha failover).
    await insert(master, 'm5');
    const over = await drivePg({ kind: 'serve', peerGone: false }, slave.pg, master.pg, drive(slave, master));
    assert.equal(over.end.kind, 'done', logged.join('\n'));
    assert.deepEqual(
      over.steps.map((s) => s.kind),
      ['stop-peer', 'promote', 'done'],
    );
    const promoted = over.steps[1];
    assert.equal(promoted.kind === 'promote' && promoted.behindBytes, 0n);
    await insert(slave, 's4');
    // The master stopped cleanly with every record sent: it follows as is, no rewind, no clone.
    const follow = await drivePg({ kind: 'stand-by' }, master.pg, slave.pg, drive(master, slave));
    assert.equal(follow.end.kind, 'done', logged.join('\n'));
    assert.deepEqual(
      follow.steps.map((s) => s.kind).filter((k) => k !== 'wait'),
      ['follow', 'done'],
    );
    // And back, as a failback does.
    const sw = await drivePg({ kind: 'switchover' }, master.pg, slave.pg, drive(master, slave));
    assert.equal(sw.end.kind, 'done', logged.join('\n'));
    const back = await drivePg({ kind: 'stand-by' }, slave.pg, master.pg, drive(slave, master));
    assert.equal(back.end.kind, 'done', logged.join('\n'));
    const all = ['m1', 'm2', 'm3', 's1', 's2', 's3', 'm4', 'm5', 's4'];
    assert.deepEqual(await rows(master), all);
    await until(
      'every row on the standby',
      () => rows(slave),
      (v) => v.length === all.length,
    );
    assert.deepEqual(await rows(slave), all);
  },
);

test(
  'two primaries with commits of their own: split, nothing of either side dropped',
  needs.options,
  async () => {
    const { master, slave } = nodes;
    await cut(master);
    const gone = { observe: async (): Promise<PgObservation> => ({ kind: 'unknown', reason: 'link cut' }) };
    const promoted = await drivePg(
      { kind: 'serve', peerGone: true },
      slave.pg,
      gone as never,
      drive(slave, master),
    );
    assert.equal(promoted.end.kind, 'done', logged.join('\n'));
    await insert(slave, 's-split');
    await insert(master, 'm-split'); // the master still took a write after the cut: both primaries
    await linkBack(master);
    const r = await drivePg({ kind: 'stand-by' }, master.pg, slave.pg, drive(master, slave));
    assert.equal(r.end.kind, 'split', logged.join('\n'));
    assert.match(r.end.kind === 'split' ? r.end.reason : '', /committed \d+ transaction\(s\) past/);
    // The master was stopped cleanly to count its commits, then left as it was: started again by
    // hand (as the operator would, to dump it), it is the same primary with its own row.
    const stoppedMaster = await master.pg.observe();
    assert.equal(stoppedMaster.kind === 'stopped' && stoppedMaster.cleanShutdown, true);
    assert.ok(!existsSync(path.join(master.layout.dataDir, 'standby.signal')));
    await master.pg.start();
    const before = ['m1', 'm2', 'm3', 's1', 's2', 's3', 'm4', 'm5', 's4'];
    assert.deepEqual(await rows(master), [...before, 'm-split']);
    assert.deepEqual(await rows(slave), [...before, 's-split']);
    assert.equal((await master.pg.observe()).kind, 'primary');
    assert.equal((await slave.pg.observe()).kind, 'primary');
  },
);
