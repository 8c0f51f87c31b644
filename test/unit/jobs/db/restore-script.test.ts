import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatQualified, parseQualifiedPrefix, quoteIdent, quoteQualified } from '../../../../src/jobs/db/names';
import { makeRestoreScript, restorePreamble } from '../../../../src/jobs/db/restore-script';

test('identifiers are always quoted, quotes doubled', () => {
  assert.equal(quoteIdent('cel'), '"cel"');
  assert.equal(quoteIdent('a"b'), '"a""b"');
  assert.equal(quoteQualified({ schema: 'public', name: 'Mixed Case' }), '"public"."Mixed Case"');
  assert.throws(() => quoteIdent(''));
  assert.equal(formatQualified({ schema: 'public', name: 'cel' }), 'public.cel');
  assert.equal(formatQualified({ schema: 'public', name: 'Cel' }), 'public."Cel"');
});

test('qualified names are read as pg_dump writes them', () => {
  assert.deepEqual(parseQualifiedPrefix('public.a (id) FROM stdin;'), { name: { schema: 'public', name: 'a' }, rest: ' (id) FROM stdin;' });
  assert.deepEqual(parseQualifiedPrefix('"My Schema"."a""b" FROM stdin;')?.name, { schema: 'My Schema', name: 'a"b' });
  assert.deepEqual(parseQualifiedPrefix('public."x.y"')?.name, { schema: 'public', name: 'x.y' });
  assert.equal(parseQualifiedPrefix('a FROM stdin;'), null);
  assert.equal(parseQualifiedPrefix('"unterminated.a'), null);
  assert.equal(parseQualifiedPrefix('Public.a'), null); // pg_dump would have quoted it
});

test('the restore script: replica role, TRUNCATE of the dumped tables, then the dump', () => {
  const script = makeRestoreScript('/var/lib/pbx-ha/exchange/incoming/db/asterisk.sql', [
    { schema: 'public', name: 'userfeatures' },
    { schema: 'public', name: 'Mixed "Case"' },
  ]);
  assert.equal(
    script,
    [
      '-- written by pbx-ha: restore of asterisk.sql (psql --single-transaction -v ON_ERROR_STOP=1)',
      "SET client_encoding = 'UTF8';",
      "SET lock_timeout = '60000ms';",
      'SET session_replication_role = replica;',
      'TRUNCATE TABLE "public"."userfeatures", "public"."Mixed ""Case""";',
      "\\i '/var/lib/pbx-ha/exchange/incoming/db/asterisk.sql'",
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(script, /CASCADE/);
});

test('no TRUNCATE without tables; lock timeout adjustable', () => {
  const p = restorePreamble([], { lockTimeoutMs: 1500 });
  assert.doesNotMatch(p, /TRUNCATE/);
  assert.match(p, /SET lock_timeout = '1500ms';/);
});

test('dump paths that psql would misread are refused', () => {
  for (const bad of ['relative.sql', "/tmp/it's.sql", '/tmp/back\\slash.sql', '/tmp/new\nline.sql']) {
    assert.throws(() => makeRestoreScript(bad, []), /restore script/, JSON.stringify(bad));
  }
});
