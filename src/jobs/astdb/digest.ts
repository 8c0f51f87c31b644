// What an astdb holds, independent of how SQLite laid it out on disk: a digest of its rows, and
// a check that a file is a sound astdb. Two copies with the same rows have the same digest even
// when their pages differ (an online backup, a VACUUM, another insertion order), which is what
// lets the master tell "the slave changed it" from "the slave still has what I sent".

import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';

/** Asterisk's table: `CREATE TABLE astdb(key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key))`. */
export const ASTDB_TABLE = 'astdb';

/** How long a read waits for Asterisk's write lock before giving up (it blocks the event loop). */
export const DEFAULT_BUSY_TIMEOUT_MS = 200;

export type AstdbCheck = { ok: true; keys: number } | { ok: false; problem: string };

/** Opens an existing astdb for reading only; never creates a file. */
export function openAstdbReadOnly(
  dbPath: string,
  busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
): Database.Database {
  return new Database(dbPath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
}

/**
 * One field, encoded unambiguously: type letter (n, i, r, t, b), byte length, ':', the bytes in
 * hex. CAST AS BLOB gives the stored bytes of a text exactly (no UTF-8 decoding on the way) and
 * typeof keeps the text '5' apart from the integer 5. Built by SQLite as one text per row: about
 * five times faster than handing each field to JavaScript as a Buffer (100 000 keys in ~90 ms).
 */
function encodedField(column: string): string {
  return `substr(typeof(${column}), 1, 1) || ifnull(length(CAST(${column} AS BLOB)), 0) || ':' || hex(CAST(${column} AS BLOB))`;
}

const ROWS_IN_KEY_ORDER = `SELECT ${encodedField('key')} || ${encodedField('value')} FROM ${ASTDB_TABLE} ORDER BY key`;

/**
 * SHA-256 (hex) of the rows of an open astdb, in key order. Read in one statement, so one read
 * transaction: a consistent view even while Asterisk writes.
 */
export function digestOfOpenDatabase(db: Database.Database): string {
  const schema = schemaProblems(db);
  if (schema.length > 0) throw new Error(`not an astdb: ${schema.join('; ')}`);
  const hash = createHash('sha256');
  for (const row of db.prepare(ROWS_IN_KEY_ORDER).pluck(true).iterate() as IterableIterator<string>) {
    hash.update(row);
    hash.update('\n');
  }
  return hash.digest('hex');
}

/** The digest of an astdb with no rows: an emptied or freshly created file. */
export const EMPTY_CONTENT_DIGEST: string = createHash('sha256').digest('hex');

/** Content digest of the astdb file at `dbPath` (see digestOfOpenDatabase). */
export function contentDigest(dbPath: string, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): string {
  const db = openAstdbReadOnly(dbPath, busyTimeoutMs);
  try {
    return digestOfOpenDatabase(db);
  } finally {
    db.close();
  }
}

/** Asterisk's own definition, as SQLite keeps it in sqlite_master (compared without case and blanks). */
export const ASTDB_DEFINITION = 'CREATE TABLE astdb(key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key))';
const normalised = (sql: string) => sql.replace(/\s+/g, '').toLowerCase();

/**
 * Problems with what the file declares, read from sqlite_master alone (no row, view or
 * trigger is read or run): exactly Asterisk's astdb table and the index of its primary key.
 * A VIEW named astdb (a recursive one never ends), triggers or other objects are refused,
 * before anything reads the table. [] when the schema is Asterisk's.
 */
export function schemaProblems(db: Database.Database): string[] {
  const objects = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master LIMIT 100').all() as Array<{
    type: string;
    name: string;
    tbl_name: string;
    sql: string | null;
  }>;
  const table = objects.find((o) => o.name === ASTDB_TABLE);
  if (!table) return [`no table "${ASTDB_TABLE}"`];
  const problems: string[] = [];
  if (table.type !== 'table' || normalised(table.sql ?? '') !== normalised(ASTDB_DEFINITION)) {
    problems.push(
      `"${ASTDB_TABLE}" is not Asterisk's table (${ASTDB_DEFINITION}): ${JSON.stringify((table.sql ?? table.type).slice(0, 120))}`,
    );
  }
  const others = objects.filter(
    (o) =>
      o !== table &&
      !(
        o.type === 'index' &&
        o.name === 'sqlite_autoindex_astdb_1' &&
        o.tbl_name === ASTDB_TABLE &&
        o.sql === null
      ),
  );
  if (others.length > 0)
    problems.push(
      `objects an astdb does not have: ${others
        .slice(0, 5)
        .map((o) => `${o.type} ${JSON.stringify(o.name.slice(0, 60))}`)
        .join(', ')}${others.length > 5 ? ` (+${others.length - 5} more)` : ''}`,
    );
  return problems;
}

/** The lines of `PRAGMA integrity_check` when they are not exactly `ok`; [] when the file is sound. */
export function integrityProblems(db: Database.Database): string[] {
  const lines = db.pragma('integrity_check', { simple: false }) as Array<{ integrity_check: string }>;
  const texts = lines.map((row) => String(row.integrity_check));
  return texts.length === 1 && texts[0] === 'ok' ? [] : texts;
}

/** Problems that make an open database unfit to be an astdb; [] when it is fit. */
export function astdbProblems(db: Database.Database): string[] {
  const schema = schemaProblems(db);
  if (schema.length > 0) return schema;
  const integrity = integrityProblems(db);
  if (integrity.length > 0)
    return [
      `integrity_check: ${integrity.slice(0, 3).join('; ')}${integrity.length > 3 ? ` (+${integrity.length - 3} more)` : ''}`,
    ];
  const columns = (db.pragma(`table_info(${ASTDB_TABLE})`) as Array<{ name: string }>).map((c) =>
    c.name.toLowerCase(),
  );
  if (columns.length === 0) return [`no table "${ASTDB_TABLE}"`];
  const missing = ['key', 'value'].filter((c) => !columns.includes(c));
  if (missing.length > 0)
    return [
      `table "${ASTDB_TABLE}" has no column ${missing.map((c) => `"${c}"`).join(' nor ')} (columns: ${columns.join(', ')})`,
    ];
  return [];
}

/** Whether `dbPath` is a sound astdb (integrity_check says exactly `ok`, and the table is there). */
export function checkAstdb(dbPath: string, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): AstdbCheck {
  let db: Database.Database;
  try {
    db = openAstdbReadOnly(dbPath, busyTimeoutMs);
  } catch (err) {
    return { ok: false, problem: `${dbPath}: cannot be opened as SQLite (${(err as Error).message})` };
  }
  try {
    const problems = astdbProblems(db);
    if (problems.length > 0) return { ok: false, problem: `${dbPath}: ${problems.join('; ')}` };
    const { n } = db.prepare(`SELECT count(*) AS n FROM ${ASTDB_TABLE}`).get() as { n: number };
    return { ok: true, keys: n };
  } catch (err) {
    // A damaged file often fails the first read itself ("file is not a database", "malformed").
    return { ok: false, problem: `${dbPath}: ${(err as Error).message}` };
  } finally {
    db.close();
  }
}
