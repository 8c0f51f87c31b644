// Schema-qualified table names as PostgreSQL writes and reads them.

export interface QualifiedName {
  schema: string;
  name: string;
}

/** An identifier in double quotes (always quoted: case and any character kept as they are). */
export function quoteIdent(identifier: string): string {
  if (identifier.length === 0 || identifier.includes('\0'))
    throw new Error(`invalid SQL identifier ${JSON.stringify(identifier)}`);
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`: for SQL we write (TRUNCATE), whatever the search_path. */
export function quoteQualified(t: QualifiedName): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

const BARE = /^[a-z_][a-z0-9_$]*$/;

/** `schema.name` for people, quoting only what needs it (as pg_dump's comments do). */
export function formatQualified(t: QualifiedName): string {
  const one = (s: string) => (BARE.test(s) ? s : quoteIdent(s));
  return `${one(t.schema)}.${one(t.name)}`;
}

export function sameName(a: QualifiedName, b: QualifiedName): boolean {
  return a.schema === b.schema && a.name === b.name;
}

/**
 * Reads one identifier at `text[start]`: bare (lower case, as pg_dump leaves them unquoted) or
 * double-quoted with `""` for a quote. Returns it and the index after it, or null.
 */
function readIdent(text: string, start: number): { value: string; end: number } | null {
  if (text[start] === '"') {
    let value = '';
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] !== '"') {
        value += text[i];
      } else if (text[i + 1] === '"') {
        value += '"';
        i++;
      } else {
        return value ? { value, end: i + 1 } : null;
      }
    }
    return null;
  }
  const m = /^[a-z_][a-z0-9_$]*/.exec(text.slice(start));
  return m ? { value: m[0], end: start + m[0].length } : null;
}

/**
 * Parses `schema.name` at the start of `text` (pg_dump always qualifies table names) and
 * returns it with the rest of the text, or null if `text` does not start with one.
 */
export function parseQualifiedPrefix(text: string): { name: QualifiedName; rest: string } | null {
  const schema = readIdent(text, 0);
  if (!schema || text[schema.end] !== '.') return null;
  const name = readIdent(text, schema.end + 1);
  if (!name) return null;
  return { name: { schema: schema.value, name: name.value }, rest: text.slice(name.end) };
}
