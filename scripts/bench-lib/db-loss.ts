/**
 * The database loss window at failover, in each `[sync.db] mode`: a writer commits a row every
 * 10 ms on the master's PostgreSQL (one transaction per row, each row stamped with the server's
 * clock_timestamp()); the master's cables are pulled at a random moment; once the slave holds the
 * VIPs, the newest row it has is compared with the last row the master committed before the cut.
 * The loss window is the time between the two rows' stamps (one clock: the lab's nodes share the
 * machine's). In dump mode the window is governed by the schedule, which the benchmark sets
 * explicitly (DUMP_SCHEDULE) and the report states.
 */
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../lab/lab';
import { PBX_HA, type PbxNode } from '../../lab/layout';
import { holdsAll } from '../../lab/pair';
import { makeStreamingCluster, removeStreamingCluster, stopLabPostgres } from '../../lab/pg-cluster';
import { pollUntil, sleep } from '../../lab/run';
import type { BenchContext } from './scenarios';
import { median } from './stats';
import { type DbMode, type DbRun, TIMINGS, detectionMs } from './types';

/** The dump mode's schedule in the benchmark: every 15 s (shipped default: hourly, `10 * * * *`). */
export const DUMP_SCHEDULE = '*/15 * * * * *';
export const DUMP_SCHEDULE_TEXT = 'every 15 s';
const TABLE = 'bench_rows';
const WRITE_EVERY_MS = 10;

/**
 * The writer: one psql running a DO block that commits a row, sleeps 10 ms, and goes on (a
 * COMMIT inside DO, PostgreSQL 11 and newer), until it is killed.
 */
const WRITER_SQL = `DO $$ BEGIN
  FOR i IN 1..10000000 LOOP
    INSERT INTO ${TABLE} DEFAULT VALUES;
    COMMIT;
    PERFORM pg_sleep(${WRITE_EVERY_MS / 1000});
  END LOOP;
END $$;`;

/** The writer's application_name, by which its server session is ended (stopWriterSessions). */
const WRITER_APP = 'pbx-ha-bench-writer';

/**
 * Ends the writer's server sessions on a node. Killing psql is not enough: PostgreSQL notices a
 * client that went away only when it next talks to it, which a DO block never does, so the
 * backend went on inserting, and each dump round added one more writer.
 */
async function stopWriterSessions(lab: Lab, node: PbxNode): Promise<void> {
  await lab
    .psql(
      node,
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${WRITER_APP}'`,
    )
    .catch(() => '');
}

const psqlArgv = (sql: string) => [
  'psql',
  '-X',
  '-A',
  '-t',
  '-q',
  '-h',
  '/run/postgresql',
  '-U',
  'postgres',
  '-d',
  'asterisk',
  '-v',
  'ON_ERROR_STOP=1',
  '-c',
  sql,
];

/** A number read from a psql answer (null for an empty answer: no row). */
async function queryNumber(lab: Lab, node: PbxNode, sql: string): Promise<number | null> {
  const out = (await lab.psql(node, sql)).trim();
  if (out === '') return null;
  const n = Number(out);
  if (!Number.isFinite(n)) throw new Error(`${node}: expected a number from "${sql}", got "${out}"`);
  return n;
}

/** Epoch milliseconds of the newest row (before `beforeMs` when given), null when there is none. */
function newestSql(beforeMs?: number): string {
  const where = beforeMs === undefined ? '' : ` WHERE at < to_timestamp(${(beforeMs / 1000).toFixed(3)})`;
  return `SELECT (extract(epoch FROM max(at)) * 1000)::bigint FROM ${TABLE}${where}`;
}

/**
 * The table, fresh, on the master (and on the slave in dump mode: the schema is not copied). Dump
 * mode uses the lab's own PostgreSQL; streaming mode a new cluster on each node for each round,
 * which pbx-ha then sets up (the slave's is replaced by a clone of the master's).
 */
async function freshTable(lab: Lab, mode: DbMode): Promise<void> {
  const sql = `DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (n bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())`;
  if (mode === 'streaming') {
    for (const node of ['pbx1', 'pbx2'] as const) {
      await stopLabPostgres(lab, node);
      await removeStreamingCluster(lab, node);
      await makeStreamingCluster(lab, node);
    }
    await lab.psql('pbx1', sql);
    return;
  }
  for (const node of ['pbx1', 'pbx2'] as const) {
    await lab.startPostgres(node);
    await lab.psql(node, sql);
  }
}

/** check-config on pbx1 with this configuration: throws, loudly, when the mode is refused. */
async function requireConfigAccepted(lab: Lab, mode: DbMode, config: string): Promise<void> {
  await lab.writeConfig('pbx1', config);
  const check = await lab.exec('pbx1', [PBX_HA, 'check-config'], { allowFail: true });
  if (check.code !== 0) {
    const why = `${check.stdout}${check.stderr}`.trim().split('\n').slice(0, 4).join(' | ');
    throw new Error(`[sync.db] mode = ${mode}: check-config refused the configuration: ${why}`);
  }
}

export async function dbRun(
  ctx: BenchContext,
  mode: DbMode,
  round: number,
  config: string,
  start: (ctx: BenchContext) => Promise<void>,
  finish: (ctx: BenchContext) => Promise<void>,
): Promise<DbRun> {
  const { lab } = ctx;
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  const at = new Date().toISOString();
  let writer: ChildProcess | null = null;
  try {
    // A refused mode would keep the agents from starting: check-config's answer is the error.
    await requireConfigAccepted(lab, mode, config);
    await freshTable(lab, mode);
    await start(ctx);
    await stopWriterSessions(lab, 'pbx1');
    writer = lab.spawnIn('pbx1', psqlArgv(WRITER_SQL), { PGAPPNAME: WRITER_APP });
    let writerError = '';
    writer.stderr!.on('data', (b: Buffer) => (writerError += b.toString()));
    const exited = new Promise<void>((resolve) => writer!.once('close', () => resolve()));
    await sleep(2000);
    const t0 = Date.now();
    const n0 = (await queryNumber(lab, 'pbx1', `SELECT count(*) FROM ${TABLE}`)) ?? 0;
    if (mode === 'streaming') {
      // The slave must be a hot standby that receives the writer's rows before the cut: a slave
      // that never streamed would give a "loss window" that is only the time since the schema
      // was made, not a measurement of streaming.
      const since = Date.now() - 1000;
      await pollUntil(
        "the slave's PostgreSQL streaming the writer's rows",
        async () =>
          (await lab.psql('pbx2', 'SELECT pg_is_in_recovery()').catch(() => '')).trim() === 't' &&
          ((await queryNumber(lab, 'pbx2', newestSql()).catch(() => null)) ?? 0) >= since,
        60_000,
        500,
      );
    }
    // Long enough for two dumps in dump mode (every 15 s), a random phase of the schedule.
    await sleep(20_000 + Math.random() * 15_000);
    if (writer.exitCode !== null) throw new Error(`the row writer stopped: ${writerError.trim()}`);
    const cutAt = Date.now();
    await lab.cut('pbx1');
    writer.kill('SIGTERM');
    await exited;
    writer = null;
    await pollUntil(
      'pbx2 holding the VIPs after the cut',
      () => holdsAll(lab, 'pbx2'),
      30_000 + 10 * detectionMs(timing),
      100,
    );
    const lastOnMaster = await queryNumber(lab, 'pbx1', newestSql(cutAt));
    const n1 =
      (await queryNumber(
        lab,
        'pbx1',
        `SELECT count(*) FROM ${TABLE} WHERE at < to_timestamp(${(cutAt / 1000).toFixed(3)})`,
      )) ?? 0;
    const lastOnSlave = await queryNumber(lab, 'pbx2', newestSql());
    const onSlaveBeforeCut =
      (await queryNumber(
        lab,
        'pbx2',
        `SELECT count(*) FROM ${TABLE} WHERE at < to_timestamp(${(cutAt / 1000).toFixed(3)})`,
      )) ?? 0;
    if (lastOnMaster === null) throw new Error('the writer committed no row on pbx1');
    if (lastOnSlave === null) throw new Error('no row of the writer had reached the slave');
    const everyMs = n1 > n0 ? Math.round(((cutAt - t0) / (n1 - n0)) * 10) / 10 : undefined;
    return {
      mode,
      round,
      at,
      lossS: Math.round(Math.max(0, lastOnMaster - lastOnSlave) / 10) / 100,
      lastOnMaster: new Date(lastOnMaster).toISOString(),
      lastOnSlave: new Date(lastOnSlave).toISOString(),
      rowsOnMaster: n1,
      rowsMissing: Math.max(0, n1 - onSlaveBeforeCut),
      everyMs,
      ...(mode === 'dump' ? { dumpSchedule: DUMP_SCHEDULE } : {}),
    };
  } catch (e) {
    return { mode, round, at, lossS: null, error: (e as Error).message.split('\n').slice(0, 3).join(' | ') };
  } finally {
    writer?.kill('SIGKILL');
    await stopWriterSessions(lab, 'pbx1');
    await finish(ctx);
    // The next round and the parts after this one start the lab's own PostgreSQL again.
    if (mode === 'streaming')
      for (const node of ['pbx1', 'pbx2'] as const)
        await removeStreamingCluster(lab, node).catch((e: Error) => ctx.say(`  ${node}: ${e.message}`));
  }
}

function lossesOf(runs: readonly DbRun[] | undefined, mode: DbMode): number[] {
  return (runs ?? []).filter((r) => r.mode === mode && r.lossS !== null).map((r) => r.lossS!);
}

/** ", rows committed before the cut and missing on the slave: median M, worst W" (when recorded). */
function missingText(runs: readonly DbRun[], mode: DbMode): string {
  const missing = runs
    .filter((r) => r.mode === mode && r.rowsMissing !== undefined)
    .map((r) => r.rowsMissing!);
  if (!missing.length) return '';
  return `, rows committed before the cut and missing on the slave: median ${median(missing)}, worst ${Math.max(...missing)}`;
}

/** The report's paragraph on the database loss windows (empty when the part did not run). */
export function dbReportLines(runs: readonly DbRun[] | undefined): string[] {
  if (!runs?.length) return [];
  const modes = [...new Set(runs.map((r) => r.mode))];
  const parts = modes.map((mode) => {
    const loss = lossesOf(runs, mode);
    const failed = runs.filter((r) => r.mode === mode && r.error);
    const how =
      mode === 'dump'
        ? `dump mode, \`schedule = ${DUMP_SCHEDULE}\` (${DUMP_SCHEDULE_TEXT}: a cut loses from one dump's duration up to the interval plus one dump's duration, depending on where it falls between two dumps; the shipped default is hourly, and the window grows with the interval)`
        : 'streaming mode';
    return (
      `${how}: median ${loss.length ? median(loss)!.toFixed(2) : '–'} s, worst ${loss.length ? Math.max(...loss).toFixed(2) : '–'} s (${loss.length} runs)` +
      missingText(runs, mode) +
      (failed.length
        ? `; ${failed.length} run(s) FAILED: ${[...new Set(failed.map((r) => r.error))].join('; ')}`
        : '')
    );
  });
  return [
    `**Database loss window** (a writer committing a row every ${WRITE_EVERY_MS} ms on the master's PostgreSQL, each row stamped with clock_timestamp(); ` +
      'master cut at a random moment, 22 to 37 s after the writer started; the time between the last row the master committed before the cut and the newest row ' +
      'the slave had once it held the VIPs; timing 1s): ' +
      parts.join('; ') +
      '.',
    '',
  ];
}

/**
 * The report's target line for the database: the streaming mode's loss window (the dump mode's
 * is governed by its schedule: reported above, no target).
 */
export function dbTarget(runs: readonly DbRun[] | undefined): {
  target: string;
  measured: string;
  ok: boolean | null;
} {
  const streaming = lossesOf(runs, 'streaming');
  const failed = (runs ?? []).filter((r) => r.mode === 'streaming' && r.error);
  const m = median(streaming);
  return {
    target: 'database loss window, streaming mode ≤ 1 s',
    measured:
      m !== null
        ? `median ${m.toFixed(2)} s, worst ${Math.max(...streaming).toFixed(2)} s (${streaming.length} runs)`
        : failed.length
          ? `FAILED: ${failed[0].error}`
          : 'no data',
    ok: m !== null ? Math.max(...streaming) <= 1 : null,
  };
}
