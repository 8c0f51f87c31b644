// Table patterns as pg_dump's --exclude-table-data reads them (psql's pattern rules), for the
// simple patterns pbx-ha accepts: `*` and `?` wildcards, an optional schema before a `.`,
// double quotes for case and special characters. pbx-ha must know which tables a dump leaves
// out without asking pg_dump: to check a dump (no excluded table's data in it) and to leave out
// the sequences that belong to excluded tables.
//
// The rules (https://www.postgresql.org/docs/15/app-psql.html#APP-PSQL-PATTERNS):
// - outside double quotes, letters are folded to lower case, `*` matches any sequence of
//   characters, `?` any one character, `.` separates the schema from the name;
// - inside double quotes every character is literal (`""` is a quote);
// - a pattern matches whole names;
// - a pattern without a schema matches only the tables visible in the search_path (pg_dump
//   resets search_path to the default to match them: in practice, schema public).
// Other regular-expression characters (`[`, `|`, `+`, …) are refused rather than interpreted.

import type { QualifiedName } from './names';

export interface ListedTable extends QualifiedName {
  /** Visible through the default search_path (pg_table_is_visible). */
  visible: boolean;
}

export interface TablePattern {
  /** The pattern as written. */
  source: string;
  /** null: no schema part, the table must be visible. */
  schema: RegExp | null;
  name: RegExp;
}

export class TablePatternError extends Error {
  constructor(pattern: string, reason: string) {
    super(`table pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'TablePatternError';
  }
}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/;
const UNSUPPORTED = '[]{}()|+^\\';

function literal(ch: string): string {
  return REGEX_SPECIAL.test(ch) ? `\\${ch}` : ch;
}

export function parseTablePattern(pattern: string): TablePattern {
  if (pattern.length === 0) throw new TablePatternError(pattern, 'empty');
  if (pattern.startsWith('-')) throw new TablePatternError(pattern, 'must not start with "-"');
  if (/[\0\n\r]/.test(pattern)) throw new TablePatternError(pattern, 'control characters');
  const parts: string[] = [];
  let current = '';
  let inQuotes = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (inQuotes) {
      if (ch === '"' && pattern[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') {
        inQuotes = false;
      } else {
        current += literal(ch);
      }
    } else if (ch === '"') {
      inQuotes = true;
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else if (ch === '*') {
      current += '.*';
    } else if (ch === '?') {
      current += '.';
    } else if (UNSUPPORTED.includes(ch)) {
      throw new TablePatternError(pattern, `"${ch}" is not supported (only the wildcards * and ?)`);
    } else if (/\s/.test(ch)) {
      throw new TablePatternError(pattern, 'white space outside double quotes');
    } else {
      current += literal(ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch);
    }
  }
  if (inQuotes) throw new TablePatternError(pattern, 'unterminated double quote');
  parts.push(current);
  if (parts.length > 2) throw new TablePatternError(pattern, 'too many dots (expected [schema.]table)');
  if (parts.some((p) => p === '')) throw new TablePatternError(pattern, 'empty schema or table name');
  const anchored = (re: string) => new RegExp(`^(?:${re})$`, 's');
  return parts.length === 2
    ? { source: pattern, schema: anchored(parts[0]), name: anchored(parts[1]) }
    : { source: pattern, schema: null, name: anchored(parts[0]) };
}

export function patternMatches(p: TablePattern, t: ListedTable): boolean {
  if (p.schema ? !p.schema.test(t.schema) : !t.visible) return false;
  return p.name.test(t.name);
}

/** The first pattern that matches the table (its source), or null. */
export function excludingPattern(patterns: readonly TablePattern[], t: ListedTable): string | null {
  return patterns.find((p) => patternMatches(p, t))?.source ?? null;
}

/** The tables whose data a dump with these --exclude-table-data patterns holds. */
export function tablesCovered(tables: readonly ListedTable[], patterns: readonly string[]): ListedTable[] {
  const parsed = patterns.map(parseTablePattern);
  return tables.filter((t) => excludingPattern(parsed, t) === null);
}

/** The tables these patterns leave out. */
export function tablesExcluded(tables: readonly ListedTable[], patterns: readonly string[]): ListedTable[] {
  const parsed = patterns.map(parseTablePattern);
  return tables.filter((t) => excludingPattern(parsed, t) !== null);
}

/** A pattern that matches exactly this relation (and nothing else). */
export function exactPattern(t: QualifiedName): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${q(t.schema)}.${q(t.name)}`;
}
