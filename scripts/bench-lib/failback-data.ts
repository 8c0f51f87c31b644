/**
 * The failback's time with each kind of data to bring back: the master's cables are pulled, the
 * slave takes over and, while it serves, writes one item of one kind (an astdb key, a voicemail
 * file under the spool, a row of its PostgreSQL database; or nothing, the baseline); then the
 * master's cables are plugged back. Measured: from the cables back to the master's claim (its
 * `-> active` log line), the phone's longest time without an answer from the VIP (nobody holding
 * it), and whether the item is on the master afterwards (waited for up to GRACE_MS after the
 * claim, for data that comes right after it).
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Lab } from '../../lab/lab';
import { ASTDB, PBX_HA, PBX_NODES, type PbxNode, VOIP_VIP } from '../../lab/layout';
import { holdsAll, soleHolder } from '../../lab/pair';
import { outageAround, startLivePinger } from '../../lab/pinger';
import { pollUntil, sleep } from '../../lab/run';
import { readFrom } from './drivers';
import type { BenchContext } from './scenarios';
import { fmtMs, median, worst } from './stats';
import { type FailbackDataRun, type FailbackKind, FAILBACK_KINDS, TIMINGS, detectionMs } from './types';

/** The spool directory the failback-data configuration watches, and the slave's voicemail box in it. */
export const FAILBACK_SPOOL = '/var/spool/asterisk/voicemail';
const INBOX = `${FAILBACK_SPOOL}/bench-failback/INBOX`;
const TABLE = 'bench_failback';
const GRACE_MS = 10_000;

export const KIND_TITLES: Record<FailbackKind, string> = {
  none: 'nothing written on the slave',
  astdb: 'an astdb key',
  spool: 'a spool file (voicemail)',
  db: 'a database row',
};

/** The item of a kind, written on a node (the slave, while it serves). */
async function writeItem(lab: Lab, node: PbxNode, kind: FailbackKind, round: number): Promise<void> {
  switch (kind) {
    case 'none':
      return;
    case 'astdb': {
      const db = new Database(lab.hostPath(node, ASTDB), { fileMustExist: true, timeout: 5000 });
      try {
        db.prepare('INSERT OR REPLACE INTO astdb (key, value) VALUES (?, ?)').run(
          `/bench-failback/${round}`,
          'written on the slave',
        );
      } finally {
        db.close();
      }
      return;
    }
    case 'spool': {
      const dir = lab.hostPath(node, INBOX);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `.msg-${round}.tmp`), `left on the slave, round ${round}\n`);
      renameSync(path.join(dir, `.msg-${round}.tmp`), path.join(dir, `msg-${round}.txt`));
      return;
    }
    case 'db':
      await lab.psql(node, `INSERT INTO ${TABLE} (round) VALUES (${round})`);
      return;
  }
}

/** Is the item of a kind on a node? */
async function hasItem(lab: Lab, node: PbxNode, kind: FailbackKind, round: number): Promise<boolean> {
  switch (kind) {
    case 'none':
      return true;
    case 'astdb': {
      const file = lab.hostPath(node, ASTDB);
      if (!existsSync(file)) return false;
      const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
      try {
        return db.prepare('SELECT 1 FROM astdb WHERE key = ?').get(`/bench-failback/${round}`) !== undefined;
      } finally {
        db.close();
      }
    }
    case 'spool':
      return existsSync(path.join(lab.hostPath(node, INBOX), `msg-${round}.txt`));
    case 'db':
      return (await lab.psql(node, `SELECT count(*) FROM ${TABLE} WHERE round = ${round}`)).trim() === '1';
  }
}

/** Times and lines of a node's agent log written from `sinceMs` on. */
function logSince(log: string, sinceMs: number): { atMs: number; text: string }[] {
  const out: { atMs: number; text: string }[] = [];
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+\w+\s+(.*)$/.exec(line);
    if (m && Date.parse(m[1]) >= sinceMs) out.push({ atMs: Date.parse(m[1]), text: m[2] });
  }
  return out;
}

export async function failbackDataRun(
  ctx: BenchContext,
  kind: FailbackKind,
  round: number,
  start: (ctx: BenchContext) => Promise<void>,
  finish: (ctx: BenchContext) => Promise<void>,
): Promise<FailbackDataRun> {
  const { lab } = ctx;
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  const limit = 30_000 + 10 * detectionMs(timing);
  const at = new Date().toISOString();
  try {
    // The spool tree exists before the master serves; the table on both nodes (the schema is not copied).
    for (const node of PBX_NODES) {
      mkdirSync(lab.hostPath(node, INBOX), { recursive: true });
      await lab.startPostgres(node);
      await lab.psql(node, `CREATE TABLE IF NOT EXISTS ${TABLE} (id serial PRIMARY KEY, round int NOT NULL)`);
    }
    await start(ctx);
    // The slave has the master's astdb, so that the failback merges against a copy both had.
    await lab.exec('pbx1', [PBX_HA, 'sync', 'astdb'], { timeoutMs: 120_000 });
    await lab.cut('pbx1');
    await pollUntil('pbx2 holding the VIPs after the cut', () => holdsAll(lab, 'pbx2'), limit, 100);
    await sleep(1000);
    await writeItem(lab, 'pbx2', kind, round);
    if (!(await hasItem(lab, 'pbx2', kind, round))) throw new Error(`the ${kind} item is not on pbx2`);
    const logFile = `${lab.nodeDir('pbx1')}/agent.log`;

    const pinger = await startLivePinger(lab, VOIP_VIP, ctx.pingIntervalMs);
    let restoredAt: number;
    try {
      await sleep(500);
      restoredAt = Date.now();
      await lab.restore('pbx1');
      await pollUntil(
        'pbx1 alone holding the VIPs after the failback',
        () => soleHolder(lab, 'pbx1'),
        limit,
        100,
      );
      await pinger.waitReplyAfter(Date.now(), 10_000);
      await sleep(500);
    } catch (e) {
      await pinger.stop().catch(() => undefined);
      throw e;
    }
    const noHolderMs = outageAround(await pinger.stop(), restoredAt);
    const lines = logSince(readFrom(logFile, 0), restoredAt - 1000);
    const claim = lines.find((l) => /^pbx1: \S+ -> active \(/.test(l.text));
    const claimedAt = claim?.atMs ?? Date.now();
    let broughtBack: boolean | null = null;
    if (kind !== 'none') {
      broughtBack = await pollUntil(
        `the ${kind} item on pbx1`,
        () => hasItem(lab, 'pbx1', kind, round),
        Math.max(0, claimedAt + GRACE_MS - Date.now()),
        250,
      ).then(
        () => true,
        () => false,
      );
    }
    return {
      kind,
      round,
      at,
      returnToClaimMs: claim ? claim.atMs - restoredAt : null,
      noHolderMs,
      broughtBack,
      fetchLines: lines.filter((l) => /failback data|failback waits/.test(l.text)).map((l) => l.text),
    };
  } catch (e) {
    return {
      kind,
      round,
      at,
      returnToClaimMs: null,
      noHolderMs: null,
      broughtBack: null,
      error: (e as Error).message.split('\n').slice(0, 3).join(' | '),
    };
  } finally {
    await finish(ctx);
  }
}

/** The report's paragraph and table on the failback with each kind of data (empty when it did not run). */
export function failbackDataReportLines(runs: readonly FailbackDataRun[] | undefined): string[] {
  if (!runs?.length) return [];
  const L = [
    "**Failback with data to bring back** (the master's cables pulled; the slave, once it serves, writes one item; the cables plugged back; timing 1s, `rise = 3`; " +
      "from the cables back to the master's `-> active` line in its log, and the phone's longest time without an answer from the VIP; " +
      `the item looked for on the master up to ${GRACE_MS / 1000} s after the claim):`,
    '',
    '| written on the slave while it served | cables back → claim, median | worst | no holder (phone), median | worst | on the master afterwards | runs |',
    '|---|--:|--:|--:|--:|---|--:|',
  ];
  for (const kind of FAILBACK_KINDS) {
    const mine = runs.filter((r) => r.kind === kind && !r.error);
    if (!mine.length && !runs.some((r) => r.kind === kind)) continue;
    const claim = mine.filter((r) => r.returnToClaimMs !== null).map((r) => r.returnToClaimMs!);
    const gap = mine.filter((r) => r.noHolderMs !== null).map((r) => r.noHolderMs!);
    const back = mine.filter((r) => r.broughtBack === true).length;
    L.push(
      `| ${KIND_TITLES[kind]} | ${fmtMs(median(claim))} | ${fmtMs(worst(claim))} | ${fmtMs(median(gap))} | ${fmtMs(worst(gap))} | ` +
        `${kind === 'none' ? '–' : `${back} of ${mine.length}${back < mine.length ? ' (**lost**)' : ''}`} | ${mine.length} |`,
    );
  }
  const failed = runs.filter((r) => r.error);
  if (failed.length)
    L.push('', `${failed.length} run(s) failed: ${failed.map((r) => `${r.kind}: ${r.error}`).join('; ')}`);
  L.push('');
  return L;
}

/** The report's target line: a failback loses nothing of any kind. */
export function failbackDataTarget(runs: readonly FailbackDataRun[] | undefined): {
  target: string;
  measured: string;
  ok: boolean | null;
} {
  const judged = (runs ?? []).filter((r) => r.kind !== 'none' && r.broughtBack !== null);
  const lost = judged.filter((r) => !r.broughtBack);
  return {
    target: 'a failback loses nothing (astdb key, spool file, database row written on the slave)',
    measured: judged.length
      ? lost.length
        ? `${lost.length} of ${judged.length} items not on the master: ${[...new Set(lost.map((r) => KIND_TITLES[r.kind]))].join(', ')}`
        : `all ${judged.length} items on the master`
      : 'no data',
    ok: judged.length ? lost.length === 0 : null,
  };
}
