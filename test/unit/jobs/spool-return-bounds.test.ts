// What the peer's files can make a node do when a failback brings spool files and rows back
// (jobs/spool-return.ts, jobs/db/return.ts): bounded reads, each wanted file exported once, no
// link followed on the master's side, a dump without newlines refused rather than held whole.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PbxHaConfig } from '../../../src/config/types';
import { MAX_WANTED_BYTES, openDir, publishSpoolFiles, SPOOL_WANTED } from '../../../src/jobs/spool-return';
import { dumpContentDigest, MAX_DUMP_LINE_BYTES } from '../../../src/jobs/db/return';
import { prerequisite } from '../../fakes/prerequisites';

const AS_ROOT = prerequisite(
  'spool return bounds on real files',
  process.getuid?.() !== 0 ? 'needs root (chown)' : null,
).options;

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-return-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A slave's view: its exchange directory, state directory and one spool root with one voicemail. */
function slave(t: { after: (fn: () => void) => void }) {
  const top = scratch(t);
  const root = path.join(top, 'voicemail');
  mkdirSync(path.join(root, 'default/1001/INBOX'), { recursive: true });
  writeFileSync(path.join(root, 'default/1001/INBOX/msg0000.wav'), Buffer.alloc(4096, 7));
  const exchange = path.join(top, 'exchange');
  for (const sub of ['incoming/spool', 'outgoing'])
    mkdirSync(path.join(exchange, sub), { recursive: true, mode: 0o700 });
  const config = {
    agent: { stateDir: path.join(top, 'state') },
    replication: { exchangeDir: exchange, files: { spool: [root] } },
  } as unknown as PbxHaConfig;
  return { top, root, exchange, config, wanted: path.join(exchange, 'incoming', SPOOL_WANTED) };
}

test('slave: a list of wanted files larger than the bound is refused unread; each file named many times is exported once', async (t) => {
  const s = slave(t);
  writeFileSync(s.wanted, '');
  truncateSync(s.wanted, MAX_WANTED_BYTES + 1); // sparse: no memory, no disk
  await assert.rejects(publishSpoolFiles(s.config), /more than the \d+ pbx-ha reads: refused/);
  assert.equal(existsIn(path.join(s.exchange, 'outgoing')), 0, 'nothing exported');
  const one = { root: s.root, path: 'default/1001/INBOX/msg0000.wav' };
  writeFileSync(s.wanted, JSON.stringify(Array.from({ length: 2000 }, () => one)));
  const answer = await publishSpoolFiles(s.config);
  assert.deepEqual({ files: answer.files, bytes: answer.bytes }, { files: 1, bytes: 4096 });
  assert.deepEqual(readdirSync(path.join(s.exchange, 'outgoing', 'spool-files')).sort(), ['0', 'index.json']);
});

function existsIn(dir: string): number {
  return readdirSync(dir).length;
}

test(
  'master: a spool directory is opened step by step without following a link; a missing one is made like its parent',
  AS_ROOT,
  async (t) => {
    const top = scratch(t);
    const root = path.join(top, 'voicemail');
    mkdirSync(root, { mode: 0o750 });
    chownSync(root, 65534, 65534);
    const made = await openDir(root, 'default/1002/INBOX');
    try {
      assert.equal(await readlink(`/proc/self/fd/${made.fd}`), path.join(root, 'default/1002/INBOX'));
    } finally {
      await made.close();
    }
    const st = statSync(path.join(root, 'default/1002'));
    assert.deepEqual(
      [st.uid, st.gid, st.mode & 0o777],
      [65534, 65534, 0o750],
      'owner and mode of its parent',
    );
    // Whoever writes the spool puts a link where a directory goes: refused, nothing made there.
    const elsewhere = path.join(top, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, path.join(root, 'default/1003'));
    await assert.rejects(
      openDir(root, 'default/1003/INBOX'),
      /1003 is not a directory \(a link or a file is in its place\): refused/,
    );
    assert.deepEqual(readdirSync(elsewhere), []);
    assert.equal(statSync(elsewhere).mode & 0o777, 0o700, 'its mode untouched');
  },
);

test('a dump without a newline is refused past the line bound, not gathered until memory runs out; comments do not count', async (t) => {
  const dir = scratch(t);
  const a = path.join(dir, 'a.sql');
  const b = path.join(dir, 'b.sql');
  writeFileSync(
    a,
    '-- dumped on one day\n\\restrict abc\nCOPY t (x) FROM stdin;\n1\n\\.\n\\unrestrict abc\n',
  );
  writeFileSync(
    b,
    '-- dumped on another day\n\\restrict xyz\nCOPY t (x) FROM stdin;\n1\n\\.\n\\unrestrict xyz\n',
  );
  assert.equal(await dumpContentDigest(a), await dumpContentDigest(b));
  writeFileSync(b, readFileSync(b, 'utf8').replace('1\n', '2\n'));
  assert.notEqual(await dumpContentDigest(a), await dumpContentDigest(b));
  const endless = path.join(dir, 'endless.sql');
  writeFileSync(endless, Buffer.alloc(MAX_DUMP_LINE_BYTES + 1024 * 1024, 0x61));
  await assert.rejects(dumpContentDigest(endless), /a line longer than \d+ bytes: not a dump pbx-ha reads/);
});
