// What a database holds, as far as a data copy cares: its tables (with their visibility, for
// unqualified patterns) and the sequences that belong to a table (SERIAL and IDENTITY columns).
//
// One query, one line of JSON out (`psql -X -A -t`), so that no table name, whatever characters
// it has, can be misread. Same tables as the view pg_tables (ordinary and partitioned), system
// schemas and other sessions' temporary tables left out.

import type { QualifiedName } from './names';
import type { ListedTable } from './patterns';
import { exactPattern, tablesExcluded } from './patterns';

export interface OwnedSequence extends QualifiedName {
  owner: QualifiedName;
}

export interface DatabaseListing {
  tables: ListedTable[];
  sequences: OwnedSequence[];
}

export const LIST_TABLES_SQL = `SELECT json_build_object(
  'tables', (SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname, pg_catalog.pg_table_is_visible(c.oid))
                                      ORDER BY n.nspname, c.relname), '[]')
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'),
  'sequences', (SELECT coalesce(json_agg(json_build_array(sn.nspname, s.relname, tn.nspname, t.relname)
                                         ORDER BY sn.nspname, s.relname), '[]')
                FROM pg_catalog.pg_class s
                JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
                JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.oid
                     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
                JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
                JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
                WHERE s.relkind = 'S'))`;

export class ListingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListingError';
  }
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Parses the output of LIST_TABLES_SQL. */
export function parseListing(stdout: string): DatabaseListing {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout.trim());
  } catch {
    throw new ListingError(`cannot read the table listing (not JSON): ${stdout.trim().slice(0, 200)}`);
  }
  const obj = raw as { tables?: unknown; sequences?: unknown };
  if (!raw || typeof raw !== 'object' || !Array.isArray(obj.tables) || !Array.isArray(obj.sequences)) {
    throw new ListingError(`unexpected table listing: ${stdout.trim().slice(0, 200)}`);
  }
  const tables = obj.tables.map((row: unknown): ListedTable => {
    if (!Array.isArray(row) || !isString(row[0]) || !isString(row[1]) || typeof row[2] !== 'boolean') {
      throw new ListingError(`unexpected table row in the listing: ${JSON.stringify(row)}`);
    }
    return { schema: row[0], name: row[1], visible: row[2] };
  });
  const sequences = obj.sequences.map((row: unknown): OwnedSequence => {
    if (!Array.isArray(row) || row.length !== 4 || !row.every(isString)) {
      throw new ListingError(`unexpected sequence row in the listing: ${JSON.stringify(row)}`);
    }
    return { schema: row[0], name: row[1], owner: { schema: row[2], name: row[3] } };
  });
  return { tables, sequences };
}

/**
 * Patterns for the sequences of the excluded tables. pg_dump matches --exclude-table-data
 * against sequence names too, so `cel` leaves out table cel but still dumps the value of
 * cel_id_seq: the slave would get the master's counter for its own cel rows, and once it serves
 * calls, insert ids it already used. Excluding these sequences keeps the slave's counters with
 * the slave's rows.
 */
export function ownedSequencePatterns(listing: DatabaseListing, excludeTables: readonly string[]): string[] {
  const excluded = tablesExcluded(listing.tables, excludeTables);
  return listing.sequences
    .filter((s) => excluded.some((t) => t.schema === s.owner.schema && t.name === s.owner.name))
    .map(exactPattern);
}

/** The listing's entry for a table, or one assumed visible (the stricter choice for checks). */
export function listedOrAssumed(listing: DatabaseListing, t: QualifiedName): ListedTable {
  return listing.tables.find((l) => l.schema === t.schema && l.name === t.name) ?? { ...t, visible: true };
}
