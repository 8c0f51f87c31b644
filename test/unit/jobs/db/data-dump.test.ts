import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readDataDump, readDataDumpText, rowStream, DumpCheckError } from '../../../../src/jobs/db/data-dump';
import { restoreScript, withoutRowData } from '../../../../src/jobs/db/restore';

/** A data-only dump as pg_dump 15.18 writes it (with its \restrict lines). */
const SAMPLE_DUMP = `--
-- PostgreSQL database dump
--

\\restrict 0okEcY8ClcdNr9NWK9lXBRdbe4tAvsSbwhKWankqjOLVQOvWz8hJmXpM0aCUE6R

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Data for Name: a; Type: TABLE DATA; Schema: public; Owner: -
--

SET SESSION AUTHORIZATION DEFAULT;

ALTER TABLE public.a DISABLE TRIGGER ALL;

COPY public.a (id, n) FROM stdin;
1\tx
2\tCOPY public.fake (x) FROM stdin;
3\tCREATE TABLE looks like SQL but is data
\\.


ALTER TABLE public.a ENABLE TRIGGER ALL;

ALTER TABLE "My Schema"."Mixed Case" DISABLE TRIGGER ALL;

COPY "My Schema"."Mixed Case" (id) FROM stdin;
\\.


ALTER TABLE "My Schema"."Mixed Case" ENABLE TRIGGER ALL;

SELECT pg_catalog.setval('public.a_id_seq', 1, true);


--
-- PostgreSQL database dump complete
--

\\unrestrict 0okEcY8ClcdNr9NWK9lXBRdbe4tAvsSbwhKWankqjOLVQOvWz8hJmXpM0aCUE6R

`;

test('a complete data-only dump gives its tables, columns, rows and sequence values, nothing else', () => {
  const s = readDataDumpText(SAMPLE_DUMP);
  assert.deepEqual(
    s.tables.map((t) => [t.schema, t.name, t.columns, t.rows]),
    [
      ['public', 'a', ['id', 'n'], 3],
      ['My Schema', 'Mixed Case', ['id'], 0],
    ],
  );
  assert.deepEqual(s.sequences, [{ schema: 'public', name: 'a_id_seq', value: '1', isCalled: true }]);
  assert.equal(s.encoding, 'UTF8');
  assert.equal(s.bytes, Buffer.byteLength(SAMPLE_DUMP));
  const old = SAMPLE_DUMP.replace(/^\\(un)?restrict .*\n/gm, '');
  assert.equal(readDataDumpText(old).tables.length, 2);
});

test('the restore script is written by pbx-ha from names and numbers: no line of the dump in it', () => {
  const script = restoreScript(readDataDumpText(SAMPLE_DUMP), '/x/asterisk.sql');
  assert.equal(
    script,
    [
      '-- written by pbx-ha: restore of asterisk.sql (psql --single-transaction -v ON_ERROR_STOP=1), rows from standard input',
      "SET client_encoding = 'UTF8';",
      'SET standard_conforming_strings = on;',
      "SET lock_timeout = '60000ms';",
      'SET session_replication_role = replica;',
      'TRUNCATE TABLE "public"."a", "My Schema"."Mixed Case";',
      '\\copy "public"."a" ("id", "n") from pstdin',
      '\\copy "My Schema"."Mixed Case" ("id") from pstdin',
      `SELECT pg_catalog.setval('"public"."a_id_seq"', 1, true);`,
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(script, /CASCADE|looks like SQL/);
});

test('anything that is not a line of a data-only dump is refused with its line number', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['not a dump', 'hello\nworld\n', /header/],
    [
      'cut before the end',
      SAMPLE_DUMP.slice(0, SAMPLE_DUMP.indexOf('SELECT pg_catalog.setval')),
      /dump complete/,
    ],
    [
      'cut inside a COPY',
      SAMPLE_DUMP.slice(0, SAMPLE_DUMP.indexOf('3\tCREATE')),
      /public\.a \(COPY at line 23\) has no end/,
    ],
    [
      'schema in it',
      SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', 'CREATE TABLE public.x (id int);'),
      /line 19: "CREATE TABLE public\.x \(id int\);" is not a line of a data-only dump/,
    ],
    [
      'blanks then CREATE',
      SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', '  create table x ();'),
      /line 19: .* is not a line of a data-only dump/,
    ],
    ['shell escape', SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', '\\! id'), /line 19/],
    [
      'copy to program',
      SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', "copy (select 1) to program 'id';"),
      /line 19/,
    ],
    ['\\c', SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', '\\c template1'), /line 19/],
    ['\\o', SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', '\\o /tmp/x'), /line 19/],
    [
      'alter role',
      SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', "ALTER ROLE postgres PASSWORD 'x';"),
      /line 19/,
    ],
    [
      'SET with a second statement',
      SAMPLE_DUMP.replace('SET lock_timeout = 0;', 'SET lock_timeout = 0; DROP TABLE a;'),
      /line 11/,
    ],
    ['text after the end', `${SAMPLE_DUMP}DELETE FROM public.a;\n`, /after/],
    [
      'odd COPY',
      SAMPLE_DUMP.replace('COPY public.a (id, n) FROM stdin;', "COPY public.a (id, n) FROM '/etc/passwd';"),
      /unexpected COPY/,
    ],
    [
      'COPY TO',
      SAMPLE_DUMP.replace('COPY public.a (id, n) FROM stdin;', 'COPY public.a (id, n) TO stdout;'),
      /unexpected COPY/,
    ],
    [
      'quote in a column',
      SAMPLE_DUMP.replace(
        'COPY public.a (id, n) FROM stdin;',
        'COPY public.a (id, "n"") from program \'id\' --") FROM stdin;',
      ),
      /identifier/,
    ],
    [
      'early end of data',
      SAMPLE_DUMP.replace('1\tx\n', '1\tx\n\\.\nDELETE FROM public.a;\n'),
      /line 26: "DELETE FROM public\.a;" is not a line/,
    ],
    ['carriage return in a row', SAMPLE_DUMP.replace('1\tx\n', '1\tx\r\n'), /carriage return/],
    [
      'odd setval',
      SAMPLE_DUMP.replace(
        "SELECT pg_catalog.setval('public.a_id_seq', 1, true);",
        "SELECT pg_catalog.setval('public.a_id_seq', (SELECT 1), true);",
      ),
      /unexpected setval/,
    ],
    [
      'encoding with a quote',
      SAMPLE_DUMP.replace("SET client_encoding = 'UTF8';", "SET client_encoding = 'UTF8'';"),
      /not a line|encoding/,
    ],
  ];
  for (const [what, text, reason] of cases) {
    assert.throws(
      () => readDataDumpText(text, 'x.sql'),
      (e: unknown) =>
        e instanceof DumpCheckError &&
        /^x\.sql: not a usable data dump/.test(e.message) &&
        reason.test(e.message),
      what,
    );
  }
});

test("a file is read with the same rules, and its rows come out as psql's \\copy reads them", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-data-dump-'));
  try {
    const good = path.join(dir, 'good.sql');
    writeFileSync(good, SAMPLE_DUMP);
    const dump = await readDataDump(good);
    assert.deepEqual(dump, readDataDumpText(SAMPLE_DUMP));
    const chunks: Buffer[] = [];
    for await (const c of rowStream(good, dump)) chunks.push(c as Buffer);
    assert.equal(
      Buffer.concat(chunks).toString('utf8'),
      '1\tx\n2\tCOPY public.fake (x) FROM stdin;\n3\tCREATE TABLE looks like SQL but is data\n\\.\n\\.\n',
    );
    const cut = path.join(dir, 'cut.sql');
    writeFileSync(cut, SAMPLE_DUMP.slice(0, 400));
    await assert.rejects(
      readDataDump(cut),
      (e: unknown) => e instanceof DumpCheckError && e.message.startsWith(`${cut}: `),
    );
    const empty = path.join(dir, 'empty.sql');
    writeFileSync(empty, '');
    await assert.rejects(readDataDump(empty), /empty file/);
    await assert.rejects(
      readDataDump(path.join(dir, 'missing.sql')),
      /missing\.sql: not a usable data dump: ENOENT/,
    );
    await assert.rejects(readDataDump(dir), /not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("psql's error text keeps the error and the table, not the rows' values", () => {
  const stderr = [
    'psql:/x/.restore-1.sql:7: ERROR:  duplicate key value violates unique constraint "linefeatures_pkey"',
    'DETAIL:  Key (name)=(secret-1) already exists.',
    'CONTEXT:  COPY linefeatures, line 2',
    'psql:/x/.restore-1.sql:6: ERROR:  invalid input syntax for type integer: "secret-2"',
    'CONTEXT:  COPY userfeatures, line 1, column id: "secret-3"',
    'CONTEXT:  COPY userfeatures, line 1: "secret-4\tx"',
  ].join('\n');
  const shown = withoutRowData(stderr);
  assert.doesNotMatch(shown, /secret/);
  assert.match(shown, /duplicate key value violates unique constraint "linefeatures_pkey"/);
  assert.match(shown, /COPY linefeatures, line 2/);
  assert.match(shown, /invalid input syntax for type integer: \(value not shown\)/);
});

test('rows that no longer read as checked stop the stream before the end of their table reaches psql', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-data-dump-'));
  try {
    const file = path.join(dir, 'dump.sql');
    writeFileSync(file, SAMPLE_DUMP);
    const checked = readDataDumpText(SAMPLE_DUMP);
    checked.tables[0].rows = 2; // as if a row had been added since the check
    const chunks: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of rowStream(file, checked)) chunks.push(String(c));
      })(),
      /changed while it was restored/,
    );
    assert.doesNotMatch(chunks.join(''), /\\\./, 'the end of the table was never sent');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
