import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EMPTY_CONTENT_DIGEST } from '../../../../src/jobs/astdb/digest';
import {
  parseProvenance,
  provenancePath,
  readProvenance,
  shouldFetchFromSlave,
  writeProvenance,
  type FetchInputs,
  type Provenance,
} from '../../../../src/jobs/astdb/provenance';

const d = (c: string) => c.repeat(64);
const SENT = d('a');
const SLAVE_CHANGED = d('b');
const MASTER_CHANGED = d('c');
const EMPTY = EMPTY_CONTENT_DIGEST;

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pbx-ha-provenance-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('shouldFetchFromSlave: truth table', () => {
  const table: Array<[string, FetchInputs, boolean, RegExp]> = [
    [
      'slave unchanged since sent',
      { lastSentDigest: SENT, slaveDigest: SENT, masterDigest: SENT },
      false,
      /did not change/,
    ],
    [
      'slave unchanged, master changed since',
      { lastSentDigest: SENT, slaveDigest: SENT, masterDigest: MASTER_CHANGED },
      false,
      /did not change/,
    ],
    [
      'slave changed while serving',
      { lastSentDigest: SENT, slaveDigest: SLAVE_CHANGED, masterDigest: SENT },
      true,
      /served/,
    ],
    [
      'both changed: the slave served',
      { lastSentDigest: SENT, slaveDigest: SLAVE_CHANGED, masterDigest: MASTER_CHANGED },
      true,
      /master's changed too/,
    ],
    [
      'slave changed, master file missing',
      { lastSentDigest: SENT, slaveDigest: SLAVE_CHANGED, masterDigest: null },
      true,
      /served/,
    ],
    [
      'slave changed to the master content',
      { lastSentDigest: SENT, slaveDigest: MASTER_CHANGED, masterDigest: MASTER_CHANGED },
      false,
      /same content/,
    ],
    [
      'slave emptied, master has data',
      { lastSentDigest: SENT, slaveDigest: EMPTY, masterDigest: SENT },
      false,
      /empty/,
    ],
    [
      'slave has no astdb',
      { lastSentDigest: SENT, slaveDigest: null, masterDigest: SENT },
      false,
      /no readable astdb/,
    ],
    [
      'never sent, both differ: unknown origin',
      { lastSentDigest: null, slaveDigest: SLAVE_CHANGED, masterDigest: MASTER_CHANGED },
      false,
      /unknown origin/,
    ],
    [
      'never sent, same content',
      { lastSentDigest: null, slaveDigest: SENT, masterDigest: SENT },
      false,
      /same content/,
    ],
    [
      'never sent, master file missing',
      { lastSentDigest: null, slaveDigest: SLAVE_CHANGED, masterDigest: null },
      true,
      /missing/,
    ],
    [
      'never sent, master file empty',
      { lastSentDigest: null, slaveDigest: SLAVE_CHANGED, masterDigest: EMPTY },
      true,
      /empty/,
    ],
    [
      'never sent, both empty',
      { lastSentDigest: null, slaveDigest: EMPTY, masterDigest: EMPTY },
      false,
      /same content/,
    ],
    [
      'never sent, neither has one',
      { lastSentDigest: null, slaveDigest: null, masterDigest: null },
      false,
      /no readable astdb/,
    ],
  ];
  for (const [name, inputs, fetch, reason] of table) {
    const decision = shouldFetchFromSlave(inputs);
    assert.equal(decision.fetch, fetch, name);
    assert.match(decision.reason, reason, name);
  }
});

test('provenance: written beside the file, read back equal; no sidecar reads as null', async () => {
  const file = path.join(dir, 'astdb.sqlite3');
  assert.equal(await readProvenance(file), null);
  const record: Provenance = {
    digest: SENT,
    madeBy: 'pbx1',
    madeAtWall: '2025-01-02T03:04:05.678Z',
    basedOn: null,
  };
  await writeProvenance(file, record);
  assert.equal(provenancePath(file), `${file}.pbx-ha.json`);
  assert.deepEqual(await readProvenance(file), record);
  const next: Provenance = { ...record, digest: SLAVE_CHANGED, basedOn: SENT };
  await writeProvenance(file, next);
  assert.deepEqual(await readProvenance(file), next);
  assert.deepEqual((await fs.readdir(dir)).sort(), ['astdb.sqlite3.pbx-ha.json'], 'no temp file left behind');
});

test('provenance: a bad record is refused with the file, the key, the value and what was expected', () => {
  const good = { digest: SENT, madeBy: 'pbx1', madeAtWall: '2025-01-02T03:04:05Z', basedOn: null };
  const cases: Array<[string, RegExp]> = [
    ['not json', /x\.json: not JSON/],
    ['[1]', /expected a JSON object/],
    [JSON.stringify({ ...good, digest: 'ABC' }), /"digest" is "ABC", expected a SHA-256/],
    [JSON.stringify({ ...good, madeBy: '' }), /"madeBy" is "", expected a node name/],
    [
      JSON.stringify({ ...good, madeAtWall: 'yesterday' }),
      /"madeAtWall" is "yesterday", expected an ISO time/,
    ],
    [JSON.stringify({ ...good, basedOn: 'abc' }), /"basedOn" is "abc", expected null or a SHA-256/],
    [JSON.stringify({ ...good, basedOn: undefined }), /"basedOn" is undefined/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseProvenance(text, '/x.json'), message, text);
  assert.deepEqual(parseProvenance(JSON.stringify(good), '/x.json'), good);
});
