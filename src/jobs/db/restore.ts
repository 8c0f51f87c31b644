// The restore of a data dump on the slave, written by pbx-ha from what data-dump.ts read out
// of the dump (tables, columns, sequence values): the dump's own statements never reach psql.
//
//   -- written by pbx-ha …
//   SET client_encoding = 'UTF8';
//   SET standard_conforming_strings = on;
//   SET lock_timeout = '60000ms';
//   SET session_replication_role = replica;
//   TRUNCATE TABLE "public"."a", "public"."b";
//   \copy "public"."a" ("id", "n") from pstdin
//   \copy "public"."b" ("id") from pstdin
//   SELECT pg_catalog.setval('"public"."a_id_seq"', 42, true);
//
// psql runs it with --single-transaction -v ON_ERROR_STOP=1; the rows come on psql's standard
// input (rowStream: each table's rows then `\.`), which psql passes to the server as COPY data
// only: a row can at worst be refused by the server, and the transaction rolled back.
//
// - lock_timeout: TRUNCATE takes every lock the restore needs (ACCESS EXCLUSIVE on the dumped
//   tables) at once; a session that holds one for too long fails the restore instead of leaving
//   it waiting past the job's timeout.
// - session_replication_role = replica: in this mode PostgreSQL fires no ordinary trigger, and
//   foreign keys are checked by such (system) triggers. pg_dump writes the tables' data one table
//   after the other; self-references and circular references have no good order, so checking
//   each row as it arrives would fail on data that is consistent as a whole (the rows come from
//   one consistent snapshot of the master). Replica mode also keeps user triggers quiet (an audit
//   or counter trigger would otherwise act on the copy). It needs a superuser, as any restore of
//   foreign-keyed data does.
// - TRUNCATE of exactly the tables whose data the dump holds, in one statement so that foreign
//   keys between them do not block it. Never CASCADE: that would also empty excluded tables (call
//   logs) that reference them; a non-dumped table referencing a dumped one makes the TRUNCATE
//   fail, and the restore with it, leaving everything as it was.

import * as path from 'node:path';
import type { DataDump } from './data-dump';
import { isSafeIdentifier } from './data-dump';
import type { QualifiedName } from './names';
import { formatQualified, quoteIdent, quoteQualified } from './names';

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface RestoreScriptOptions {
  /** lock_timeout for the TRUNCATE (default 60 s). */
  lockTimeoutMs?: number;
}

function checked(t: QualifiedName): QualifiedName {
  if (!isSafeIdentifier(t.schema) || !isSafeIdentifier(t.name))
    throw new Error(
      `restore script: ${formatQualified(t)} has a character pbx-ha does not write into psql's \\copy`,
    );
  return t;
}

/** The script psql runs (its rows on standard input, see rowStream). */
export function restoreScript(dump: DataDump, dumpName: string, options: RestoreScriptOptions = {}): string {
  const lockMs = Math.max(1, Math.round(options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS));
  if (!/^[A-Za-z0-9_]{1,40}$/.test(dump.encoding))
    throw new Error(`restore script: ${JSON.stringify(dump.encoding)} is not an encoding name`);
  const lines = [
    `-- written by pbx-ha: restore of ${path.basename(dumpName).replace(/[^\w.-]/g, '_')} (psql --single-transaction -v ON_ERROR_STOP=1), rows from standard input`,
    `SET client_encoding = '${dump.encoding}';`,
    'SET standard_conforming_strings = on;',
    `SET lock_timeout = '${lockMs}ms';`,
    'SET session_replication_role = replica;',
  ];
  if (dump.tables.length > 0)
    lines.push(`TRUNCATE TABLE ${dump.tables.map((t) => quoteQualified(checked(t))).join(', ')};`);
  for (const t of dump.tables) {
    for (const c of t.columns)
      if (!isSafeIdentifier(c))
        throw new Error(
          `restore script: column ${JSON.stringify(c)} of ${formatQualified(t)} has a character pbx-ha does not write into psql's \\copy`,
        );
    const list = t.columns.length > 0 ? ` (${t.columns.map(quoteIdent).join(', ')})` : '';
    lines.push(`\\copy ${quoteQualified(checked(t))}${list} from pstdin`);
  }
  for (const s of dump.sequences) {
    if (!/^-?\d{1,19}$/.test(s.value))
      throw new Error(`restore script: sequence value ${JSON.stringify(s.value)} is not a whole number`);
    // A regclass literal: the quoted name has no single quote (isSafeIdentifier).
    lines.push(
      `SELECT pg_catalog.setval('${quoteQualified(checked(s))}', ${s.value}, ${s.isCalled ? 'true' : 'false'});`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * psql's error output without the rows' data, for messages and the job history (the rows are
 * the PBX's users, lines, secrets): DETAIL lines (`Key (name)=(…)`) go, a quoted value at the
 * end of an ERROR line (`invalid input syntax for type integer: "…"`) is replaced, a CONTEXT
 * keeps the table and line (`COPY t, line 2`) without the row or column value.
 */
export function withoutRowData(stderr: string): string {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    if (/^\s*(DETAIL|HINT):/.test(line)) continue;
    const context = /^(\s*CONTEXT:\s+COPY [^,]+, line \d+)/.exec(line);
    if (context) {
      out.push(context[1]);
      continue;
    }
    if (/^\s*CONTEXT:/.test(line)) continue;
    if (/ERROR:/.test(line)) {
      out.push(line.replace(/: ".*$/, ': (value not shown)').replace(/(=\().*$/, '$1…)'));
      continue;
    }
    // psql's own lines (connection failures, "psql:file:3: …") carry no rows; anything else may.
    if (/^psql:|^\s*$/.test(line)) out.push(line);
  }
  return out.join('\n').trim();
}
