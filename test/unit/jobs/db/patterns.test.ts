import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListedTable } from '../../../../src/jobs/db/patterns';
import {
  exactPattern,
  parseTablePattern,
  patternMatches,
  tablesCovered,
  tablesExcluded,
  TablePatternError,
} from '../../../../src/jobs/db/patterns';

const t = (schema: string, name: string, visible = schema === 'public'): ListedTable => ({
  schema,
  name,
  visible,
});
const matches = (pattern: string, table: ListedTable) => patternMatches(parseTablePattern(pattern), table);

test('patterns match whole names, with * and ? as wildcards', () => {
  const table: Array<[string, ListedTable, boolean]> = [
    ['cel', t('public', 'cel'), true],
    ['cel', t('public', 'cel_id_seq'), false],
    ['cel', t('public', 'xcel'), false],
    ['stat_*', t('public', 'stat_call_on_queue'), true],
    ['stat_*', t('public', 'stat_'), true],
    ['stat_*', t('public', 'stat'), false],
    ['stat_*', t('public', 'xstat_agent'), false],
    ['*', t('public', 'anything'), true],
    ['?el', t('public', 'cel'), true],
    ['?el', t('public', 'el'), false],
    ['queue_log', t('public', 'queue_log'), true],
    ['queue_log', t('public', 'queueXlog'), false], // _ is not a wildcard
    ['a$b', t('public', 'a$b'), true],
    ['a$b', t('public', 'a'), false],
  ];
  for (const [pattern, tbl, expected] of table)
    assert.equal(matches(pattern, tbl), expected, `${pattern} vs ${tbl.schema}.${tbl.name}`);
});

test('unquoted letters fold to lower case; double quotes keep case and make every character literal', () => {
  assert.equal(matches('CEL', t('public', 'cel')), true);
  assert.equal(matches('CEL', t('public', 'CEL')), false);
  assert.equal(matches('"CEL"', t('public', 'CEL')), true);
  assert.equal(matches('"CEL"', t('public', 'cel')), false);
  assert.equal(matches('"Stat_*"', t('public', 'Stat_*')), true);
  assert.equal(matches('"Stat_*"', t('public', 'Stat_x')), false);
  assert.equal(matches('"a.b"', t('public', 'a.b')), true);
  assert.equal(matches('"a""b"', t('public', 'a"b')), true);
  assert.equal(matches('"my table"', t('public', 'my table')), true);
  assert.equal(matches('Call"Log"*', t('public', 'callLog_2024')), true);
});

test('a schema part matches schemas; without one, only tables visible in the search_path', () => {
  assert.equal(matches('cel', t('other', 'cel', false)), false);
  assert.equal(matches('cel', t('other', 'cel', true)), true);
  assert.equal(matches('other.cel', t('other', 'cel', false)), true);
  assert.equal(matches('public.cel', t('other', 'cel', true)), false);
  assert.equal(matches('*.cel', t('other', 'cel', false)), true);
  assert.equal(matches('*.cel', t('public', 'cel')), true);
  assert.equal(matches('"Other".*', t('Other', 'x', false)), true);
  assert.equal(matches('"Other".*', t('other', 'x', false)), false);
});

test('unsupported or malformed patterns are refused', () => {
  for (const bad of [
    '',
    'a.b.c',
    '"unterminated',
    'cel[0-9]',
    'a|b',
    'a+',
    '(a)',
    '.cel',
    'public.',
    '-cel',
    'a b',
    'x\\y',
    '^cel',
  ]) {
    assert.throws(() => parseTablePattern(bad), TablePatternError, JSON.stringify(bad));
  }
});

test('tablesCovered and tablesExcluded split a listing the way pg_dump does', () => {
  const tables = [
    t('public', 'cel'),
    t('public', 'queue_log'),
    t('public', 'stat_agent'),
    t('public', 'stat_queue'),
    t('public', 'userfeatures'),
    t('public', 'linefeatures'),
    t('other', 'cel', false),
  ];
  const patterns = ['cel', 'queue_log', 'call_log', 'stat_*'];
  assert.deepEqual(
    tablesCovered(tables, patterns).map((x) => `${x.schema}.${x.name}`),
    ['public.userfeatures', 'public.linefeatures', 'other.cel'],
  );
  assert.deepEqual(
    tablesExcluded(tables, patterns).map((x) => x.name),
    ['cel', 'queue_log', 'stat_agent', 'stat_queue'],
  );
  assert.deepEqual(tablesCovered(tables, []).length, tables.length);
});

test('exactPattern matches exactly one relation, whatever its name', () => {
  for (const [schema, name] of [
    ['public', 'cel_id_seq'],
    ['My Schema', 'Weird"Name*?'],
    ['public', 'a.b'],
  ]) {
    const p = exactPattern({ schema, name });
    assert.equal(matches(p, t(schema, name, false)), true, p);
    assert.equal(matches(p, t(schema, `${name}x`, false)), false, p);
    assert.equal(matches(p, t('public2', name, false)), false, p);
  }
  assert.equal(exactPattern({ schema: 'public', name: 'a"b' }), '"public"."a""b"');
});
