// The script psql runs to install a data dump on the slave (restoreCommand: one transaction,
// stop at the first error). It is a small wrapper that includes the dump with \i, so a dump of
// hundreds of megabytes is never copied or held in memory:
//
//   SET client_encoding = 'UTF8';
//   SET lock_timeout = '60000ms';
//   SET session_replication_role = replica;
//   TRUNCATE TABLE "public"."a", "public"."b";
//   \i '/var/lib/pbx-ha/exchange/incoming/db/asterisk.sql'
//
// - lock_timeout: TRUNCATE takes every lock the restore needs (ACCESS EXCLUSIVE on the dumped
//   tables) at once; a session that holds one for too long fails the restore instead of leaving
//   it waiting past the job's timeout. (The dump then sets lock_timeout = 0: nothing waits later.)
// - session_replication_role = replica: in this mode PostgreSQL fires no ordinary trigger, and
//   foreign keys are checked by such (system) triggers. pg_dump writes the tables' data one table
//   after the other; it orders them by their foreign keys where it can, but self-references
//   (a row pointing to a row further down the same COPY) and circular references have no good
//   order, so checking each row as it arrives would fail on data that is consistent as a whole.
//   The rows come from one consistent snapshot of the master (pg_dump's single transaction),
//   where every constraint held. Replica mode also keeps user triggers quiet, ON TRUNCATE and
//   ON INSERT ones included (an audit or counter trigger would otherwise act on the copy).
//   pg_dump's --disable-triggers (ALTER TABLE … DISABLE TRIGGER ALL around each COPY) does the
//   same per table; the role covers the TRUNCATE as well, whatever flags made the dump.
//   Both need a superuser, as any restore of foreign-keyed data does.
// - TRUNCATE of exactly the tables whose data the dump holds (read from its COPY lines), in one
//   statement so that foreign keys between them do not block it. Never CASCADE: that would also
//   empty excluded tables (call logs) that reference them; a non-dumped table referencing a
//   dumped one makes the TRUNCATE fail, and the restore with it, leaving everything as it was.

import * as path from 'node:path';
import type { QualifiedName } from './names';
import { quoteQualified } from './names';

export interface RestoreScriptOptions {
  /** lock_timeout for the TRUNCATE (default 60 s). */
  lockTimeoutMs?: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/** The statements before the dump's own. */
export function restorePreamble(tables: readonly QualifiedName[], options: RestoreScriptOptions = {}): string {
  const lockMs = Math.max(1, Math.round(options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS));
  const lines = [
    "SET client_encoding = 'UTF8';",
    `SET lock_timeout = '${lockMs}ms';`,
    'SET session_replication_role = replica;',
  ];
  if (tables.length > 0) lines.push(`TRUNCATE TABLE ${tables.map(quoteQualified).join(', ')};`);
  return `${lines.join('\n')}\n`;
}

/**
 * psql's \i argument, single-quoted. psql interprets backslash escapes inside single quotes, so
 * paths with a backslash, a quote or a line break are refused (pbx-ha's own paths have none).
 */
function includeArgument(file: string): string {
  if (!path.isAbsolute(file)) throw new Error(`restore script: ${JSON.stringify(file)} is not an absolute path`);
  if (/['\\\n\r\0]/.test(file)) throw new Error(`restore script: ${JSON.stringify(file)} has a quote, backslash or line break`);
  return `'${file}'`;
}

/** The whole wrapper: preamble, then the dump included with \i. */
export function makeRestoreScript(dumpFile: string, tables: readonly QualifiedName[], options: RestoreScriptOptions = {}): string {
  return `-- written by pbx-ha: restore of ${path.basename(dumpFile)} (psql --single-transaction -v ON_ERROR_STOP=1)\n` +
    restorePreamble(tables, options) +
    `\\i ${includeArgument(dumpFile)}\n`;
}
