// Shared by the astdb tests: astdb files made to order, and the writer fixture that stands in
// for Asterisk. Tests run from dist/test/unit/jobs/astdb; the fixture is read from the source tree.

import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';

export const WRITER = path.resolve(__dirname, '../../../../../test/fixtures/bin/astdb-writer.js');

export const ASTDB_SCHEMA = 'CREATE TABLE astdb(key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key))';

export interface MakeOptions {
  journal?: 'delete' | 'wal';
  pageSize?: number;
}

/** Creates an astdb at `file` holding `rows`, inserted in the order given. */
export function makeAstdb(file: string, rows: Array<[string, string]>, options: MakeOptions = {}): void {
  const db = new Database(file);
  try {
    if (options.pageSize) db.pragma(`page_size = ${options.pageSize}`);
    if (options.journal) db.pragma(`journal_mode = ${options.journal}`);
    db.exec(ASTDB_SCHEMA);
    const put = db.prepare('INSERT INTO astdb (key, value) VALUES (?, ?)');
    db.transaction(() => rows.forEach(([k, v]) => put.run(k, v)))();
  } finally {
    db.close();
  }
}

/** `count` rows like the writer's, with a `tag` in every value so that versions differ. */
export function rowsTagged(count: number, tag: string): Array<[string, string]> {
  return Array.from({ length: count }, (_, i) => [`/test/key/${i}`, `${tag}-${i}`] as [string, string]);
}

/** Reads `/<prefix>/last` and the number of `/<prefix>/seq/` keys of an astdb (a consistent copy has them equal). */
export function writerProgress(file: string, prefix = 'pbx-ha-test'): { last: number; seqKeys: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    const read = db.transaction(() => {
      const row = db.prepare('SELECT value FROM astdb WHERE key = ?').get(`/${prefix}/last`) as
        { value: string } | undefined;
      const { n } = db
        .prepare('SELECT count(*) AS n FROM astdb WHERE key >= ? AND key < ?')
        .get(`/${prefix}/seq/`, `/${prefix}/seq0`) as { n: number };
      return { last: row ? Number(row.value) : 0, seqKeys: n };
    });
    return read();
  } finally {
    db.close();
  }
}

/**
 * How long a snapshot may hold up one write of the stand-in for Asterisk (rollback journal, the
 * default: a COMMIT waits while the copy holds its read lock). The lock lasts while the pages are
 * copied: the writer's longest write measured 35-120 ms with 100 000 keys on a machine loaded far
 * beyond its two cores. The bound is generous against such load, yet a copy that held the lock
 * for seconds fails it (the writer itself would give up at its 5 s busy timeout). Speed targets
 * live in the benchmark.
 */
export const WRITER_BLOCKED_BOUND_MS = 2000;

export interface RunningWriter {
  child: ChildProcess;
  /** SIGTERM, then the last number the writer says it wrote. */
  stop(): Promise<number>;
  /**
   * Like stop, for a writer started with `--stats yes`: also the longest one write took (ms),
   * waiting for a reader's lock included.
   */
  stopWithStats(): Promise<{ last: number; longestWriteMs: number }>;
}

const started = new Set<ChildProcess>();

/** Runs the writer fixture to its end (for --fill, --count) and returns what it printed. */
export function runWriter(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out.trim())
        : reject(new Error(`astdb-writer ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

/** Starts the writer fixture in the background; `killAllWriters` ends it if the test does not. */
export function startWriter(args: string[]): RunningWriter {
  const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      started.delete(child);
      resolve(code);
    }),
  );
  const stopWithStats = async () => {
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`astdb-writer exited ${code}: ${err}`);
    const [lastLine, statsLine] = out.trim().split('\n');
    const longest = /^longest-write-ms (\d+(?:\.\d+)?)$/.exec(statsLine ?? '');
    return { last: Number(lastLine), longestWriteMs: longest ? Number(longest[1]) : Number.NaN };
  };
  return { child, stopWithStats, stop: async () => (await stopWithStats()).last };
}

export function killAllWriters(): void {
  for (const child of started) child.kill('SIGKILL');
}

/** Waits until the writer has written at least `n` numbers into `file`. */
export async function waitForWrites(
  file: string,
  n: number,
  prefix = 'pbx-ha-test',
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (writerProgress(file, prefix).last >= n) return;
    } catch {
      // not created yet
    }
    if (Date.now() > deadline)
      throw new Error(`the writer did not reach ${n} in ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function listDir(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).sort();
}

/**
 * An astdb whose only damage is on its freelist: `rows` are written, then half of them deleted
 * (their pages go to the freelist, the default auto_vacuum = none keeps them in the file), then
 * the first freelist trunk page is overwritten. Ordinary reads (count, digest, lookups) never
 * visit freelist pages and succeed; only `PRAGMA integrity_check` sees the damage. Returns the
 * rows left, which the plain reads still give.
 */
export async function makeFreelistDamagedAstdb(
  file: string,
  rows: Array<[string, string]>,
): Promise<Array<[string, string]>> {
  makeAstdb(file, rows);
  const kept = rows.slice(0, Math.floor(rows.length / 2));
  const db = new Database(file);
  let pageSize: number;
  try {
    const drop = db.prepare('DELETE FROM astdb WHERE key = ?');
    db.transaction(() => rows.slice(kept.length).forEach(([k]) => drop.run(k)))();
    pageSize = db.pragma('page_size', { simple: true }) as number;
    if ((db.pragma('freelist_count', { simple: true }) as number) < 2)
      throw new Error(`${file}: no freelist to damage`);
  } finally {
    db.close();
  }
  const handle = await fs.open(file, 'r+');
  try {
    const header = Buffer.alloc(100);
    await handle.read(header, 0, 100, 0);
    const trunk = header.readUInt32BE(32); // first freelist trunk page (SQLite file format, header offset 32)
    // Its "next trunk" and "leaf count" fields become out-of-range page numbers.
    await handle.write(Buffer.alloc(8, 0x5a), 0, 8, (trunk - 1) * pageSize);
  } finally {
    await handle.close();
  }
  return kept;
}
