// The files job's change copy: only the spool roots that changed are sent and installed, the
// slave installs only roots among its own spool paths, and the request's list is checked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JobNotApplicable } from '../../../src/jobs/runner';
import type { SpoolChanges } from '../../../src/jobs/spool-watch';
import { checkPeerRequest } from '../../../src/peer/protocol';
import { Replication } from '../../../src/peer/replication';
import type { PeerLink, PeerMessage } from '../../../src/ports/peer-link';
import { RecordingLogger } from '../../fakes';
import { configIn, TwoEnds } from './two-ends';

const signal = () => new AbortController().signal;

/** A master's Replication over a link that records what it was asked to send and install. */
function masterWith(dir: string, changes: () => SpoolChanges | null) {
  const base = configIn(dir);
  const config = {
    ...base,
    replication: {
      ...base.replication,
      files: {
        ...base.replication.files,
        paths: ['/etc/asterisk', '/var/spool/asterisk'],
        spool: ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor'],
      },
    },
  };
  const sent: string[][] = [];
  const requests: PeerMessage[] = [];
  const link: PeerLink = {
    open: () =>
      Promise.resolve({
        request: (req: PeerMessage) => {
          requests.push(req);
          return Promise.resolve(
            req.request === 'peer-hello'
              ? { ok: true, node: 'pbx2', role: 'slave', state: 'standby' }
              : { ok: true, detail: 'installed' },
          );
        },
        ask: () => Promise.reject(new Error('not used')),
        close: () => undefined,
      }),
    send: () => Promise.resolve(),
    sendTree: (paths: string[]) => {
      sent.push(paths);
      return Promise.resolve({ bytes: 1, sent: paths, missing: [] });
    },
    fetch: () => Promise.resolve(),
    paired: () => true,
  };
  const replication = new Replication({
    config: () => config,
    identity: () => ({ node: 'pbx1', role: 'master', peerAddress: '192.0.2.12' }),
    state: () => 'active',
    facts: { fact: () => null, setFact: () => undefined },
    log: new RecordingLogger(),
    link,
    spoolChanges: changes,
  });
  const files = replication.jobs().find((j) => j.kind === 'files')!;
  return { replication, files, sent, requests };
}

test('a change copy sends and installs only the spool roots that changed; other triggers copy every path', async () => {
  const ends = new TwoEnds();
  try {
    let changes: SpoolChanges | null = ['/var/spool/asterisk/voicemail', '/etc/not-a-spool-root'];
    const m = masterWith(ends.dir, () => changes);
    await m.files.run(signal(), 'change');
    assert.deepEqual(m.sent, [['/var/spool/asterisk/voicemail']], 'a root no longer configured is dropped');
    const install = m.requests.find((r) => r.request === 'peer-install')!;
    assert.deepEqual(install.paths, ['/var/spool/asterisk/voicemail']);

    changes = 'all';
    await m.files.run(signal(), 'change');
    await m.files.run(signal(), 'schedule');
    assert.deepEqual(m.sent.slice(1), [
      ['/etc/asterisk', '/var/spool/asterisk'],
      ['/etc/asterisk', '/var/spool/asterisk'],
    ]);
    const full = m.requests.filter((r) => r.request === 'peer-install').slice(1);
    assert.ok(
      full.every((r) => r.paths === undefined),
      'a full copy installs every configured path',
    );

    changes = null;
    await assert.rejects(m.files.run(signal(), 'change'), JobNotApplicable);
  } finally {
    ends.close();
  }
});

test("the slave installs a change copy's roots only if they are among its own spool paths", async () => {
  const ends = new TwoEnds();
  try {
    const slave = ends.slave;
    slave.state = 'standby';
    const root = path.join(ends.dir, 'slave-spool', 'voicemail');
    slave.config = {
      ...slave.config,
      replication: {
        ...slave.config.replication,
        files: { ...slave.config.replication.files, paths: [path.dirname(root)], spool: [root] },
      },
    };
    const answer = await slave.receiver.handle({
      request: 'peer-install',
      from: 'pbx1',
      kind: 'files',
      paths: ['/etc/asterisk'],
    });
    assert.equal(answer.ok, false);
    assert.match(
      String(answer.error),
      /\/etc\/asterisk is not among this node's \[sync\.files\] spool paths .*the two nodes' configurations differ/,
    );
    // One of its own: installed from the staging tree, and nothing else.
    mkdirSync(path.dirname(root), { recursive: true });
    const staged = path.join(slave.config.replication.exchangeDir, 'incoming', 'files', root);
    mkdirSync(staged, { recursive: true });
    writeFileSync(path.join(staged, 'msg0000.txt'), 'hello\n');
    const ok = await slave.receiver.handle({
      request: 'peer-install',
      from: 'pbx1',
      kind: 'files',
      paths: [root],
    });
    assert.equal(ok.ok, true, String(ok.error));
    assert.match(String(ok.detail), /^1 paths installed/);
    assert.equal(readFileSync(path.join(root, 'msg0000.txt'), 'utf8'), 'hello\n');
    // What a change copy replaces is kept under backup/spool/, apart from the scheduled copies'.
    // A file the master does not have (recorded here while this node served) is not removed by
    // a change copy: removals wait for the next full copy.
    writeFileSync(path.join(root, 'msg0001.txt'), 'recorded on the slave\n');
    writeFileSync(path.join(staged, 'msg0000.txt'), 'changed\n');
    const again = await slave.receiver.handle({
      request: 'peer-install',
      from: 'pbx1',
      kind: 'files',
      paths: [root],
    });
    assert.match(
      String((again as { detail?: unknown }).detail),
      /replaced files kept in .*\/backup\/spool\/files-/,
    );
    assert.ok(!existsSync(path.join(slave.config.replication.backupDir, 'files')));
    assert.equal(readFileSync(path.join(root, 'msg0001.txt'), 'utf8'), 'recorded on the slave\n');
  } finally {
    ends.close();
  }
});

test('the peer-install request: paths only for files, a bounded list of absolute paths', () => {
  const base = { request: 'peer-install', from: 'pbx1' };
  assert.deepEqual(checkPeerRequest({ ...base, kind: 'files', paths: ['/var/spool/asterisk/voicemail'] }), {
    ok: true,
    request: { ...base, kind: 'files', digest: undefined, paths: ['/var/spool/asterisk/voicemail'] },
  });
  for (const bad of [
    { kind: 'astdb', paths: ['/a'] },
    { kind: 'files', paths: 'a' },
    { kind: 'files', paths: ['relative'] },
    { kind: 'files', paths: [1] },
    { kind: 'files', paths: Array.from({ length: 65 }, (_, i) => `/p${i}`) },
    { kind: 'files', paths: [`/${'x'.repeat(5000)}`] },
  ]) {
    const r = checkPeerRequest({ ...base, ...bad });
    assert.equal(r.ok, false, JSON.stringify(bad).slice(0, 80));
    assert.match((r as { error: string }).error, /"paths" must be a list of at most 64 absolute paths/);
  }
});
