// Checks of a data dump, made before it leaves the master and again before the slave restores it:
// - not empty, starts with pg_dump's header;
// - complete: pg_dump's last comment "-- PostgreSQL database dump complete" is there, followed
//   only by comment markers, blank lines and pg_dump's `\unrestrict KEY` (PostgreSQL 15.14+);
// - data only: no CREATE or DROP statement;
// - every COPY block ends with its `\.` line.
// It also returns which tables' data the dump holds (its COPY lines): the tables the restore
// empties before loading them.

import { createReadStream, promises as fs } from 'node:fs';
import { createInterface } from 'node:readline';
import type { QualifiedName } from './names';
import { formatQualified, parseQualifiedPrefix } from './names';

export const DUMP_HEADER = '-- PostgreSQL database dump';
export const DUMP_COMPLETE = '-- PostgreSQL database dump complete';

export interface DumpSummary {
  bytes: number;
  /** Tables whose data the dump holds, in the dump's order. */
  tables: QualifiedName[];
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

/** Line-by-line checker (the dump can be large: it is streamed, never read whole). */
class DumpScanner {
  private lineNo = 0;
  private inCopy: { table: QualifiedName; line: number } | null = null;
  private completeAt = 0;
  private afterComplete: string | null = null;
  readonly tables: QualifiedName[] = [];

  constructor(private readonly fail: (reason: string) => never) {}

  line(text: string): void {
    this.lineNo++;
    if (this.lineNo === 2 && text !== DUMP_HEADER) this.fail(`line 2 is not pg_dump's header "${DUMP_HEADER}"`);
    if (this.inCopy) {
      if (text === '\\.') this.inCopy = null;
      return;
    }
    if (this.completeAt) {
      if (text !== '' && text !== '--' && !/^\\unrestrict [A-Za-z0-9]+$/.test(text) && this.afterComplete === null) {
        this.afterComplete = text;
      }
      return;
    }
    if (text === DUMP_COMPLETE) {
      this.completeAt = this.lineNo;
      return;
    }
    if (/^(CREATE|DROP)\s/i.test(text)) this.fail(`line ${this.lineNo}: ${text.slice(0, 80)} (a data-only dump has no CREATE or DROP)`);
    if (text.startsWith('COPY ')) {
      const parsed = parseQualifiedPrefix(text.slice(5));
      if (!parsed || !/^( \(.*\))? FROM stdin;$/.test(parsed.rest)) this.fail(`line ${this.lineNo}: unexpected COPY statement: ${text.slice(0, 120)}`);
      this.tables.push(parsed.name);
      this.inCopy = { table: parsed.name, line: this.lineNo };
    }
  }

  finish(bytes: number): DumpSummary {
    if (bytes === 0 || this.lineNo === 0) this.fail('empty file');
    if (this.lineNo < 2) this.fail(`no pg_dump header`);
    if (this.inCopy) this.fail(`the data of ${formatQualified(this.inCopy.table)} (COPY at line ${this.inCopy.line}) has no end: the file is cut short`);
    if (!this.completeAt) this.fail(`no "${DUMP_COMPLETE}" line: pg_dump did not finish or the file is cut short`);
    if (this.afterComplete !== null) this.fail(`unexpected text after "${DUMP_COMPLETE}": ${this.afterComplete.slice(0, 80)}`);
    return { bytes, tables: this.tables };
  }
}

/** Checks a dump held in memory (tests, small dumps). */
export function checkDumpText(text: string, name = 'dump'): DumpSummary {
  const scanner = new DumpScanner((reason) => {
    throw new DumpCheckError(name, reason);
  });
  if (text.length > 0) {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const l of lines) scanner.line(l);
  }
  return scanner.finish(Buffer.byteLength(text));
}

/** Checks a dump file, streaming it. */
export async function checkDumpFile(file: string): Promise<DumpSummary> {
  const fail = (reason: string): never => {
    throw new DumpCheckError(file, reason);
  };
  let bytes: number;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) fail('not a regular file');
    bytes = st.size;
  } catch (e) {
    if (e instanceof DumpCheckError) throw e;
    return fail((e as Error).message);
  }
  if (bytes === 0) fail('empty file');
  const scanner = new DumpScanner(fail);
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const l of lines) scanner.line(l);
  } finally {
    lines.close();
    input.destroy();
  }
  return scanner.finish(bytes);
}
