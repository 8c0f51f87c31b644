/**
 * A PostgreSQL cluster for `[sync.db] mode = streaming` in the lab: one per node, laid out as
 * Debian's (configuration apart from the data), driven with pg_ctl, so that pbx-ha can stop,
 * start, clone and rewind it as it does a real one. The lab's own `scripts/lab postgres` cluster
 * (trust, started by the lab script) serves the dump mode; the two use the same socket directory
 * and port, so a node runs one or the other: stopLabPostgres() before makeStreamingCluster().
 *
 * Used by the streaming lab test and the benchmark's streaming loss window.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab } from './lab';
import type { PbxNode } from './layout';
import { pollUntil, run } from './run';

export const STREAMING_PG_BIN = process.env.PBX_LAB_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The cluster's directory in each node (/run is private to each node). */
export const STREAMING_PG = '/run/lab-pg';

/** The `[sync.db]` keys that point pbx-ha at this cluster (add `mode = streaming`). */
export const STREAMING_DB_SETTINGS: Readonly<Record<string, string>> = {
  control: 'pg_ctl',
  data_directory: `${STREAMING_PG}/data`,
  config_directory: `${STREAMING_PG}/conf`,
  server_log: `${STREAMING_PG}/postgresql.log`,
  bin_directory: STREAMING_PG_BIN,
};

async function postgresIds(): Promise<[number, number]> {
  const u = Number((await run(['id', '-u', 'postgres'], { timeoutMs: 5000 })).stdout.trim());
  const g = Number((await run(['id', '-g', 'postgres'], { timeoutMs: 5000 })).stdout.trim());
  return [u, g];
}

/** pg_ctl in the node, as postgres, on the cluster's configuration directory. */
function pgCtl(lab: Lab, node: PbxNode, args: readonly string[], timeoutMs: number, allowFail = false) {
  return lab.exec(
    node,
    [
      'runuser',
      '-u',
      'postgres',
      '--',
      `${STREAMING_PG_BIN}/pg_ctl`,
      '-D',
      `${STREAMING_PG}/conf`,
      '-l',
      `${STREAMING_PG}/postgresql.log`,
      ...args,
    ],
    { timeoutMs, allowFail },
  );
}

/**
 * Stops the lab script's own PostgreSQL in the node, if it runs (fast shutdown, then waits for
 * its postmaster to be gone, 30 s at most). The next `lab.startPostgres()` starts it again.
 */
export async function stopLabPostgres(lab: Lab, node: PbxNode): Promise<void> {
  const pidFile = path.join(lab.nodeDir(node), 'postgres.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGINT');
  await pollUntil(`${node}: the lab's PostgreSQL (pid ${pid}) stopped`, async () => !alive(), 30_000, 100);
}

/**
 * A new cluster in the node (initdb; throws if the directory already holds one), listening on the
 * node's VOIP address and /run/postgresql, port 5432, with the database `asterisk`; started and
 * accepting connections when this returns. pg_hba.conf as Debian's: only postgres over the socket;
 * pbx-ha adds its replication line itself.
 */
export async function makeStreamingCluster(lab: Lab, node: PbxNode): Promise<void> {
  const [uid, gid] = await postgresIds();
  chmodSync(lab.nodeDir(node), 0o755);
  chmodSync(lab.hostPath(node, '/run'), 0o755);
  for (const [d, mode] of [
    [STREAMING_PG, 0o755],
    [`${STREAMING_PG}/conf`, 0o700],
    [`${STREAMING_PG}/conf/conf.d`, 0o700],
    [`${STREAMING_PG}/data`, 0o700],
    ['/run/postgresql', 0o2775],
  ] as const) {
    mkdirSync(lab.hostPath(node, d), { recursive: true });
    chmodSync(lab.hostPath(node, d), mode);
    chownSync(lab.hostPath(node, d), uid, gid);
  }
  await run(
    [
      'runuser',
      '-u',
      'postgres',
      '--',
      `${STREAMING_PG_BIN}/initdb`,
      '-D',
      lab.hostPath(node, `${STREAMING_PG}/data`),
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-sync',
    ],
    { timeoutMs: 120_000 },
  );
  const files: [string, string][] = [
    [
      'postgresql.conf',
      [
        `data_directory = '${STREAMING_PG}/data'`,
        `hba_file = '${STREAMING_PG}/conf/pg_hba.conf'`,
        `ident_file = '${STREAMING_PG}/conf/pg_ident.conf'`,
        'port = 5432',
        `listen_addresses = '${lab.voipAddress(node)}'`,
        "unix_socket_directories = '/run/postgresql'",
        'fsync = off',
        'shared_buffers = 16MB',
        "include_dir = 'conf.d'",
        '',
      ].join('\n'),
    ],
    ['pg_hba.conf', 'local all postgres trust\n'],
    ['pg_ident.conf', ''],
  ];
  for (const [f, text] of files) {
    const file = lab.hostPath(node, `${STREAMING_PG}/conf/${f}`);
    writeFileSync(file, text, { mode: 0o600 });
    chownSync(file, uid, gid);
  }
  writeFileSync(lab.hostPath(node, `${STREAMING_PG}/postgresql.log`), '');
  chownSync(lab.hostPath(node, `${STREAMING_PG}/postgresql.log`), uid, gid);
  await startStreamingCluster(lab, node);
  await lab.psql(node, 'CREATE DATABASE asterisk', 'postgres');
}

/** Starts the node's cluster as it is (pg_ctl start, waits up to 60 s); throws when it does not start. */
export async function startStreamingCluster(lab: Lab, node: PbxNode, allowFail = false) {
  return pgCtl(lab, node, ['-w', '-t', '60', 'start'], 90_000, allowFail);
}

/**
 * Stops the node's cluster at once (immediate shutdown: a benchmark round's leftovers need no
 * checkpoint) and removes its directory, so that the next makeStreamingCluster() starts afresh.
 * Nothing is left running in the node; a cluster that was never made is fine.
 */
export async function removeStreamingCluster(lab: Lab, node: PbxNode): Promise<void> {
  if (existsSync(lab.hostPath(node, `${STREAMING_PG}/data/postmaster.pid`)))
    await pgCtl(lab, node, ['-w', '-t', '30', '-m', 'immediate', 'stop'], 60_000, true);
  await run(['rm', '-rf', '--', lab.hostPath(node, STREAMING_PG)], { timeoutMs: 60_000 });
}
