// The child process of merge.ts: reads three astdb files, merges them (domain/astdb-merge.ts) and
// writes the result as a new astdb. Run as a child with a time limit, like inspect-child: the
// slave's file came from the peer, and reading 100 000 keys must not hold the agent's event loop.
//
// `node merge-child.js JSON` where JSON is MergeChildRequest; prints one line of JSON,
// MergeChildAnswer or { ok: false, problem }.

import { promises as fs } from 'node:fs';
import Database from 'better-sqlite3';
import { mergeThreeWay, type MergeConflict, type MergeSide } from '../../domain/astdb-merge';
import { ASTDB_DEFINITION, ASTDB_TABLE, checkAstdb, digestOfOpenDatabase, openAstdbReadOnly } from './digest';

export interface MergeChildRequest {
  /** The last copy both nodes had in common, or null when none is known. */
  base: string | null;
  /** The content digest the base must have to be trusted as the base (else it is ignored). */
  baseDigest: string | null;
  /** This master's astdb (a snapshot), or null when it has none it can read: the slave's is taken whole. */
  master: string | null;
  /** The slave's astdb (already checked). */
  slave: string;
  /** Where the merged astdb is written (replaced). */
  out: string;
  /** Where the values that lost a conflict are written (JSON), when there are any. */
  conflictsFile: string;
  winner: MergeSide;
}

export interface MergeChildAnswer {
  ok: true;
  keys: number;
  digest: string;
  fromMaster: number;
  fromSlave: number;
  conflicts: number;
  /** The first conflicting keys (at most 10), for the log. */
  conflictKeys: string[];
  /** Why the base was not used, or null when it was. */
  baseIgnored: string | null;
}

/**
 * SQLite values, encoded so that equal strings mean equal typed values: n (NULL), i (integer),
 * r (real), t (text), b (blob, hex). Integers are read as BigInt: none loses precision.
 */
export function encodeValue(v: unknown): string {
  if (v === null) return 'n';
  if (typeof v === 'bigint') return `i${v.toString()}`;
  if (typeof v === 'number') return `r${String(v)}`;
  if (typeof v === 'string') return `t${v}`;
  if (Buffer.isBuffer(v)) return `b${v.toString('hex')}`;
  throw new Error(`unexpected SQLite value of type ${typeof v}`);
}

export function decodeValue(e: string): unknown {
  const rest = e.slice(1);
  switch (e[0]) {
    case 'n':
      return null;
    case 'i':
      return BigInt(rest);
    case 'r':
      return Number(rest);
    case 't':
      return rest;
    case 'b':
      return Buffer.from(rest, 'hex');
    default:
      throw new Error(`bad encoded value ${e.slice(0, 20)}`);
  }
}

/** For people reading the conflicts file: texts as they are, other types tagged. */
function shown(e: string | null): unknown {
  if (e === null) return null;
  return e[0] === 't'
    ? e.slice(1)
    : { type: { n: 'null', i: 'integer', r: 'real', b: 'blob' }[e[0]], value: e.slice(1) };
}

function readRows(file: string): Map<string, string> {
  const check = checkAstdb(file);
  if (!check.ok) throw new Error(check.problem);
  const db = openAstdbReadOnly(file);
  try {
    const rows = new Map<string, string>();
    const stmt = db.prepare(`SELECT key, value FROM ${ASTDB_TABLE}`).raw(true).safeIntegers(true);
    for (const [k, v] of stmt.iterate() as IterableIterator<[unknown, unknown]>)
      rows.set(encodeValue(k), encodeValue(v));
    return rows;
  } finally {
    db.close();
  }
}

async function writeAstdb(out: string, rows: Map<string, string>): Promise<{ keys: number; digest: string }> {
  for (const f of [out, `${out}-journal`, `${out}-wal`, `${out}-shm`]) await fs.rm(f, { force: true });
  const db = new Database(out);
  try {
    db.exec(ASTDB_DEFINITION);
    const insert = db.prepare(`INSERT INTO ${ASTDB_TABLE} (key, value) VALUES (?, ?)`);
    db.transaction(() => {
      for (const [k, v] of rows) insert.run(decodeValue(k), decodeValue(v));
    })();
    return { keys: rows.size, digest: digestOfOpenDatabase(db) };
  } finally {
    db.close();
  }
}

export async function mergeFiles(req: MergeChildRequest): Promise<MergeChildAnswer> {
  const slave = readRows(req.slave);
  let baseIgnored: string | null = null;
  let base: Map<string, string> | null = null;
  if (req.base === null) baseIgnored = 'no merge base kept yet';
  else {
    const check = checkAstdb(req.base);
    if (!check.ok) baseIgnored = `the merge base is not readable: ${check.problem}`;
    else {
      const db = openAstdbReadOnly(req.base);
      const digest = (() => {
        try {
          return digestOfOpenDatabase(db);
        } finally {
          db.close();
        }
      })();
      if (digest !== req.baseDigest)
        baseIgnored = `the merge base (${digest.slice(0, 8)}) is not the last copy exchanged (${(req.baseDigest ?? 'none').slice(0, 8)})`;
      else base = readRows(req.base);
    }
  }
  const master = req.master === null ? null : readRows(req.master);
  const result =
    master === null
      ? { merged: slave, conflicts: [] as MergeConflict[], fromMaster: 0, fromSlave: slave.size }
      : mergeThreeWay(base, master, slave, req.winner);
  const written = await writeAstdb(req.out, result.merged);
  if (result.conflicts.length) {
    const record = {
      what: 'astdb keys both nodes changed differently since their last exchanged copy; the kept side is in the astdb, both values are here',
      winner: req.winner,
      conflicts: result.conflicts.map((c) => ({
        key: shown(c.key),
        base: shown(c.base),
        master: shown(c.master),
        slave: shown(c.slave),
        kept: c.kept,
      })),
    };
    await fs.writeFile(req.conflictsFile, `${JSON.stringify(record, null, 1)}\n`, { mode: 0o600 });
  }
  return {
    ok: true,
    ...written,
    fromMaster: result.fromMaster,
    fromSlave: result.fromSlave,
    conflicts: result.conflicts.length,
    conflictKeys: result.conflicts.slice(0, 10).map((c) => String(shown(c.key))),
    baseIgnored,
  };
}

// Only when run as the child (see inspect-child.ts).
if (require.main === module) {
  let req: MergeChildRequest;
  try {
    req = JSON.parse(process.argv[2] ?? '') as MergeChildRequest;
  } catch {
    process.stdout.write(`${JSON.stringify({ ok: false, problem: 'usage: merge-child JSON' })}\n`);
    process.exit(0);
  }
  mergeFiles(req).then(
    (a) => process.stdout.write(`${JSON.stringify(a)}\n`),
    (e: Error) =>
      process.stdout.write(`${JSON.stringify({ ok: false, problem: e.message.slice(0, 500) })}\n`),
  );
}
