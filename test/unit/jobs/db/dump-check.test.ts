import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkDumpFile, checkDumpText, DumpCheckError } from '../../../../src/jobs/db/dump-check';

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

ALTER TABLE "My Schema"."Mixed ""Case""" DISABLE TRIGGER ALL;

COPY "My Schema"."Mixed ""Case""" (id) FROM stdin;
\\.


ALTER TABLE "My Schema"."Mixed ""Case""" ENABLE TRIGGER ALL;

SELECT pg_catalog.setval('public.a_id_seq', 1, true);


--
-- PostgreSQL database dump complete
--

\\unrestrict 0okEcY8ClcdNr9NWK9lXBRdbe4tAvsSbwhKWankqjOLVQOvWz8hJmXpM0aCUE6R

`;

test('a complete data-only dump passes and names the tables it holds', () => {
  const s = checkDumpText(SAMPLE_DUMP);
  assert.deepEqual(s.tables, [{ schema: 'public', name: 'a' }, { schema: 'My Schema', name: 'Mixed "Case"' }]);
  assert.equal(s.bytes, Buffer.byteLength(SAMPLE_DUMP));
  // Older pg_dump versions: no \restrict lines.
  const old = SAMPLE_DUMP.replace(/^\\(un)?restrict .*\n/gm, '');
  assert.equal(checkDumpText(old).tables.length, 2);
});

test('broken dumps are refused with a reason', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['not a dump', 'hello\nworld\n', /header/],
    ['cut before the end', SAMPLE_DUMP.slice(0, SAMPLE_DUMP.indexOf('SELECT pg_catalog.setval')), /dump complete/],
    ['cut inside a COPY', SAMPLE_DUMP.slice(0, SAMPLE_DUMP.indexOf('3\tCREATE')), /public\.a \(COPY at line 23\) has no end/],
    ['schema in it', SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', 'CREATE TABLE public.x (id int);'), /no CREATE or DROP/],
    ['drop in it', SAMPLE_DUMP.replace('SET SESSION AUTHORIZATION DEFAULT;', 'DROP TABLE public.a;'), /no CREATE or DROP/],
    ['text after the end', `${SAMPLE_DUMP}DELETE FROM public.a;\n`, /after/],
    ['odd COPY', SAMPLE_DUMP.replace('COPY public.a (id, n) FROM stdin;', 'COPY public.a (id, n) FROM \'/etc/passwd\';'), /unexpected COPY/],
  ];
  for (const [what, text, reason] of cases) {
    assert.throws(() => checkDumpText(text, 'x.sql'), (e: unknown) => e instanceof DumpCheckError && /^x\.sql: not a usable data dump/.test(e.message) && reason.test(e.message), what);
  }
});

test('checkDumpFile streams a file with the same rules', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-dump-check-'));
  try {
    const good = path.join(dir, 'good.sql');
    writeFileSync(good, SAMPLE_DUMP);
    assert.deepEqual(await checkDumpFile(good), checkDumpText(SAMPLE_DUMP));
    const cut = path.join(dir, 'cut.sql');
    writeFileSync(cut, SAMPLE_DUMP.slice(0, 400));
    await assert.rejects(checkDumpFile(cut), (e: unknown) => e instanceof DumpCheckError && e.message.startsWith(`${cut}: `));
    const empty = path.join(dir, 'empty.sql');
    writeFileSync(empty, '');
    await assert.rejects(checkDumpFile(empty), /empty file/);
    await assert.rejects(checkDumpFile(path.join(dir, 'missing.sql')), /missing\.sql: not a usable data dump: ENOENT/);
    await assert.rejects(checkDumpFile(dir), /not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
