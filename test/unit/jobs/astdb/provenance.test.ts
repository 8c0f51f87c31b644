import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  parseProvenance,
  provenancePath,
  readProvenance,
  writeProvenance,
  type Provenance,
} from '../../../../src/jobs/astdb/provenance';

const d = (c: string) => c.repeat(64);
const SENT = d('a');
const SLAVE_CHANGED = d('b');

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pbx-ha-provenance-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
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
