// Reading a data dump (pg_dump --data-only, plain format) as DATA, never as SQL.
//
// The dump comes from the peer: whoever holds pbx-ha's key can put any text in it. Nothing of it
// is ever given to psql as SQL. This module reads out of it only:
// - the tables' rows: each `COPY schema.table (col, …) FROM stdin;` header gives a table and its
//   columns (identifiers of a restricted alphabet), the lines up to its `\.` are the rows, passed
//   on as a stream of bytes that the server parses as COPY text data and nothing else;
// - the sequences' values: `SELECT pg_catalog.setval('schema.seq', 42, true);` gives a name, a
//   whole number and a boolean;
// - the client encoding (`SET client_encoding = 'UTF8';`), a name of letters and digits.
// pbx-ha then writes every statement itself from these values (restore.ts). Every other line
// pg_dump writes in a data-only dump (comments, SET, set_config, ALTER TABLE … TRIGGER ALL,
// \restrict) is recognised and ignored; any other line refuses the whole dump, with its line
// number, since it is not what pg_dump makes.
//
// Checks on the way: pg_dump's header and its "dump complete" trailer (a file cut short is
// refused), every COPY block ends, no carriage return and no early `\.` inside a block (pg_dump
// escapes both, so neither can come from a real dump; both could end a block early in psql).
// Messages quote the dump's non-data lines, never its rows.

import { createReadStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { QualifiedName } from './names';
import { formatQualified, parseQualifiedPrefix, sameName } from './names';

export const DUMP_HEADER = '-- PostgreSQL database dump';
export const DUMP_COMPLETE = '-- PostgreSQL database dump complete';

export interface DumpedTable extends QualifiedName {
  columns: string[];
  /** Line of the COPY header in the dump. */
  line: number;
  rows: number;
}

export interface DumpedSequence extends QualifiedName {
  /** As written by pg_dump (a bigint in decimal). */
  value: string;
  isCalled: boolean;
}

export interface DataDump {
  bytes: number;
  encoding: string;
  /** Tables whose rows the dump holds, in the dump's order. */
  tables: DumpedTable[];
  sequences: DumpedSequence[];
}

export class DumpCheckError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: not a usable data dump: ${reason}`);
    this.name = 'DumpCheckError';
  }
}

/**
 * An identifier pbx-ha is willing to write into a psql \copy line: at most 63 bytes (PostgreSQL's
 * limit), no quote, backslash, parenthesis, semicolon, colon or control character. The
 * tables and columns of Asterisk's databases are plain lower-case names.
 */
const SAFE_IDENT = /^[^"'\\();:\u0000-\u001f\u007f]+$/;
export function isSafeIdentifier(name: string): boolean {
  return SAFE_IDENT.test(name) && Buffer.byteLength(name) <= 63;
}

/** Lines pg_dump writes outside the data that carry nothing to restore. */
const IGNORED: readonly RegExp[] = [
  /^$/,
  /^--/,
  /^SET [a-z_]+ = [^;]*;$/,
  /^SET SESSION AUTHORIZATION DEFAULT;$/,
  /^SELECT pg_catalog\.set_config\('search_path', '', false\);$/,
  /^ALTER TABLE (ONLY )?\S.* (DISABLE|ENABLE) TRIGGER ALL;$/,
  /^\\(un)?restrict [A-Za-z0-9]+$/,
];

const MAX_COLUMNS = 1600;

/** A non-data line of the dump, for a message. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Unquoted identifiers as pg_dump writes them: lower case, digits, _ and $. */
function readIdentifierList(text: string): string[] | null {
  const names: string[] = [];
  let rest = text;
  for (;;) {
    let name: string;
    if (rest.startsWith('"')) {
      let value = '';
      let i = 1;
      for (; i < rest.length; i++) {
        if (rest[i] !== '"') value += rest[i];
        else if (rest[i + 1] === '"') {
          value += '"';
          i++;
        } else break;
      }
      if (i >= rest.length || value === '') return null;
      name = value;
      rest = rest.slice(i + 1);
    } else {
      const m = /^[a-z_][a-z0-9_$]*/.exec(rest);
      if (!m) return null;
      name = m[0];
      rest = rest.slice(m[0].length);
    }
    names.push(name);
    if (rest === '') return names;
    if (!rest.startsWith(', ')) return null;
    rest = rest.slice(2);
  }
}

/** Line-by-line reader; `onRow` gets each row line of each table (the terminator excluded). */
export class DataDumpScanner {
  private lineNo = 0;
  private inCopy: DumpedTable | null = null;
  private completeAt = 0;
  private encoding: string | null = null;
  readonly tables: DumpedTable[] = [];
  readonly sequences: DumpedSequence[] = [];

  constructor(
    private readonly fail: (reason: string) => never,
    private readonly onRow: (table: DumpedTable, line: string) => void = () => undefined,
    private readonly onCopyEnd: (table: DumpedTable) => void = () => undefined,
  ) {}

  /**
   * One line, as bytes in a latin1 string (one character per byte, so that rows pass through
   * unchanged whatever the database's encoding); the other lines are read as UTF-8.
   */
  line(raw: string): void {
    this.lineNo++;
    const text = this.inCopy ? raw : Buffer.from(raw, 'latin1').toString('utf8');
    const at = `line ${this.lineNo}`;
    if (this.lineNo === 1 && text !== '--')
      this.fail(`line 1 is not pg_dump's header ("--", then "${DUMP_HEADER}")`);
    if (this.lineNo === 2 && text !== DUMP_HEADER)
      this.fail(`line 2 is not pg_dump's header "${DUMP_HEADER}"`);
    if (this.inCopy) {
      if (text === '\\.') {
        this.onCopyEnd(this.inCopy);
        this.inCopy = null;
        return;
      }
      // pg_dump writes a carriage return in a value as \r, and a lone \. as \\.: neither
      // comes from a real dump, and either could end the block early in psql.
      if (text.includes('\r') || /^\\\.\s*$/.test(text))
        this.fail(
          `${at}: a row of ${formatQualified(this.inCopy)} holds a carriage return or an early end of data`,
        );
      this.inCopy.rows++;
      this.onRow(this.inCopy, text);
      return;
    }
    if (this.completeAt) {
      if (!/^(--)?$/.test(text) && !/^\\unrestrict [A-Za-z0-9]+$/.test(text))
        this.fail(`${at}: unexpected text after "${DUMP_COMPLETE}": ${quoted(text)}`);
      return;
    }
    if (text === DUMP_COMPLETE) {
      this.completeAt = this.lineNo;
      return;
    }
    if (text.startsWith('COPY ')) return this.copyHeader(text, at);
    if (text.startsWith('SELECT pg_catalog.setval(')) return this.setval(text, at);
    const encoding = /^SET client_encoding = '([^']*)';$/.exec(text);
    if (encoding || text.startsWith('SET client_encoding')) {
      if (!encoding) this.fail(`${at}: ${quoted(text)} is not a client encoding pbx-ha can read`);
      if (!/^[A-Za-z0-9_]{1,40}$/.test(encoding[1]))
        this.fail(`${at}: client encoding ${quoted(encoding[1])} is not an encoding name`);
      this.encoding = encoding[1];
      return;
    }
    if (IGNORED.some((re) => re.test(text))) return;
    this.fail(
      `${at}: ${quoted(text)} is not a line of a data-only dump (expected COPY … FROM stdin, setval, SET, comments)`,
    );
  }

  private copyHeader(text: string, at: string): void {
    const parsed = parseQualifiedPrefix(text.slice(5));
    // pg_dump writes `COPY s.t  FROM stdin;` (no list) for a table without columns.
    const m = parsed && /^ (?:\((.*)\))? FROM stdin;$/.exec(parsed.rest);
    const columns = m ? (m[1] === undefined ? [] : readIdentifierList(m[1])) : null;
    if (!parsed || !columns)
      this.fail(
        `${at}: unexpected COPY statement: ${quoted(text)} (expected COPY schema.table (columns) FROM stdin;)`,
      );
    const { name } = parsed;
    for (const ident of [name.schema, name.name, ...columns]) {
      if (!isSafeIdentifier(ident))
        this.fail(
          `${at}: identifier ${quoted(ident)} in the COPY of ${formatQualified(name)}: quotes, backslashes, parentheses, ; : and control characters are not accepted`,
        );
    }
    if (columns.length > MAX_COLUMNS || new Set(columns).size !== columns.length)
      this.fail(
        `${at}: the COPY of ${formatQualified(name)} names ${columns.length} columns, some twice or more than ${MAX_COLUMNS}`,
      );
    if (this.tables.some((t) => sameName(t, name)))
      this.fail(`${at}: a second COPY of ${formatQualified(name)}`);
    const table: DumpedTable = { ...name, columns, line: this.lineNo, rows: 0 };
    this.tables.push(table);
    this.inCopy = table;
  }

  private setval(text: string, at: string): void {
    const m = /^SELECT pg_catalog\.setval\('((?:[^']|'')+)', (-?\d{1,19}), (true|false)\);$/.exec(text);
    const parsed = m ? parseQualifiedPrefix(m[1].replace(/''/g, "'")) : null;
    if (!m || !parsed || parsed.rest !== '')
      this.fail(
        `${at}: unexpected setval: ${quoted(text)} (expected setval('schema.sequence', number, true|false))`,
      );
    const { name } = parsed;
    if (!isSafeIdentifier(name.schema) || !isSafeIdentifier(name.name))
      this.fail(
        `${at}: sequence name ${quoted(formatQualified(name))}: quotes, backslashes, parentheses, ; : and control characters are not accepted`,
      );
    if (this.sequences.some((s) => sameName(s, name)))
      this.fail(`${at}: a second setval of ${formatQualified(name)}`);
    this.sequences.push({ ...name, value: m[2], isCalled: m[3] === 'true' });
  }

  finish(bytes: number): DataDump {
    if (bytes === 0 || this.lineNo === 0) this.fail('empty file');
    if (this.lineNo < 2) this.fail('no pg_dump header');
    if (this.inCopy)
      this.fail(
        `the data of ${formatQualified(this.inCopy)} (COPY at line ${this.inCopy.line}) has no end: the file is cut short`,
      );
    if (!this.completeAt)
      this.fail(`no "${DUMP_COMPLETE}" line: pg_dump did not finish or the file is cut short`);
    return { bytes, encoding: this.encoding ?? 'UTF8', tables: this.tables, sequences: this.sequences };
  }
}

/** Reads a dump held in memory (tests, small dumps). */
export function readDataDumpText(text: string, name = 'dump'): DataDump {
  const scanner = new DataDumpScanner((reason) => {
    throw new DumpCheckError(name, reason);
  });
  if (text.length > 0) {
    const lines = Buffer.from(text, 'utf8').toString('latin1').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const l of lines) scanner.line(l);
  }
  return scanner.finish(Buffer.byteLength(text));
}

/** Longest line accepted (a row of a few large values; PostgreSQL's own limit is 1 GB). */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The lines of a file split on \n only (readline also splits on a lone \r, which would let a
 * row's bytes read differently here and in psql), the last one without its \n.
 */
async function* linesOf(file: string, fail: (reason: string) => never): AsyncGenerator<string> {
  const input = createReadStream(file);
  let pending = '';
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      pending += chunk.toString('latin1');
      let start = 0;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n', start)) {
        yield pending.slice(start, nl);
        start = nl + 1;
      }
      pending = pending.slice(start);
      if (pending.length > MAX_LINE_BYTES) fail(`a line is longer than ${MAX_LINE_BYTES} bytes`);
    }
    if (pending !== '') yield pending;
  } finally {
    input.destroy();
  }
}

async function scanFile(
  file: string,
  scanner: DataDumpScanner,
  fail: (reason: string) => never,
): Promise<number> {
  let bytes = 0;
  try {
    const st = await fs.lstat(file);
    if (!st.isFile()) fail('not a regular file');
    bytes = st.size;
  } catch (e) {
    if (e instanceof DumpCheckError) throw e;
    fail((e as Error).message);
  }
  if (bytes === 0) fail('empty file');
  for await (const l of linesOf(file, fail)) scanner.line(l);
  return bytes;
}

/** Reads and checks a dump file, streaming it (a dump can be hundreds of megabytes). */
export async function readDataDump(file: string): Promise<DataDump> {
  const fail = (reason: string): never => {
    throw new DumpCheckError(file, reason);
  };
  const scanner = new DataDumpScanner(fail);
  const bytes = await scanFile(file, scanner, fail);
  return scanner.finish(bytes);
}

/**
 * The rows of the dump's tables, as psql's `\copy … FROM pstdin` reads them one table after the
 * other: each table's row lines, then `\.`. Read again from the file (checked by readDataDump
 * first, and private to pbx-ha since): a file that no longer reads the same is an error.
 */
export function rowStream(file: string, expected: DataDump): Readable {
  const fail = (reason: string): never => {
    throw new DumpCheckError(file, reason);
  };
  let buffered: string[] = [];
  let size = 0;
  let ended = 0;
  async function* generate(): AsyncGenerator<string> {
    const scanner = new DataDumpScanner(
      fail,
      (_t, line) => {
        buffered.push(line, '\n');
        size += line.length + 1;
      },
      (table) => {
        // Checked before psql gets the end of the table's data: a failure here kills psql
        // with the transaction open (its input never ends), so nothing is committed.
        const was = expected.tables[ended++];
        if (!was || !sameName(was, table) || was.rows !== table.rows)
          fail('it changed while it was restored');
        buffered.push('\\.\n');
      },
    );
    for await (const l of linesOf(file, fail)) {
      scanner.line(l);
      if (size >= 64 * 1024 || (buffered.length > 0 && buffered[buffered.length - 1] === '\\.\n')) {
        const chunk = buffered.join('');
        buffered = [];
        size = 0;
        yield chunk;
      }
    }
    scanner.finish(expected.bytes);
    if (ended !== expected.tables.length) fail('it changed while it was restored');
    if (buffered.length > 0) yield buffered.join('');
  }
  return Readable.from(
    (async function* () {
      for await (const chunk of generate()) yield Buffer.from(chunk, 'latin1');
    })(),
    { objectMode: false },
  );
}
