import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkOwnDirOnDisk } from '../../../src/adapters/own-dir-security';
import { netnsMissing, prerequisite } from '../../fakes/prerequisites';

const NOBODY = 65534;
// Counted as skipped when not root; a failure under CI.
const AS_ROOT = prerequisite(
  'own directory checks on real files',
  process.getuid?.() !== 0 ? 'needs root (chown)' : null,
).options;

/** A scratch tree in the system's temporary directory (root's, sticky), removed afterwards. */
function scratch(t: { after: (fn: () => void) => void }): string {
  const top = mkdtempSync(path.join(tmpdir(), 'pbx-ha-owndir-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  return top;
}

test(
  'a directory of root, writable by root alone, under /tmp is accepted; one not yet made is judged by its parent',
  AS_ROOT,
  (t) => {
    const top = scratch(t);
    mkdirSync(path.join(top, 'state'), { mode: 0o700 });
    assert.deepEqual(checkOwnDirOnDisk(path.join(top, 'state')), { ok: true });
    assert.deepEqual(checkOwnDirOnDisk(path.join(top, 'not-yet', 'state')), { ok: true });
  },
);

test('a directory another user made first (a squatted /tmp/pbx-ha) is refused, naming it', AS_ROOT, (t) => {
  const top = scratch(t);
  const squatted = path.join(top, 'pbx-ha');
  mkdirSync(squatted, { mode: 0o755 });
  chownSync(squatted, NOBODY, NOBODY);
  const verdict = checkOwnDirOnDisk(path.join(squatted, 'state'));
  assert.equal(verdict.ok, false);
  assert.match(
    !verdict.ok ? verdict.reason : '',
    new RegExp(`directory ${squatted} is owned by uid ${NOBODY}, not root`),
  );
});

test(
  'the directory itself open to others is refused even when sticky; a sticky ancestor is not',
  AS_ROOT,
  (t) => {
    const top = scratch(t);
    const open = path.join(top, 'open');
    mkdirSync(open);
    chmodSync(open, 0o1777);
    const verdict = checkOwnDirOnDisk(open);
    assert.equal(verdict.ok, false);
    assert.match(!verdict.ok ? verdict.reason : '', /writable by others than root \(mode 1777\)/);
    mkdirSync(path.join(open, 'state'), { mode: 0o700 });
    assert.deepEqual(checkOwnDirOnDisk(path.join(open, 'state')), { ok: true });
    const groupWritable = path.join(top, 'group');
    mkdirSync(groupWritable);
    chmodSync(groupWritable, 0o775);
    assert.equal(checkOwnDirOnDisk(path.join(groupWritable, 'state')).ok, false);
  },
);

test(
  'a symbolic link of another user on the way, or a file where the directory should be, is refused',
  AS_ROOT,
  (t) => {
    const top = scratch(t);
    mkdirSync(path.join(top, 'real'), { mode: 0o700 });
    const link = path.join(top, 'link');
    symlinkSync(path.join(top, 'real'), link);
    assert.deepEqual(checkOwnDirOnDisk(link), { ok: true });
    lchownSync(link, NOBODY, NOBODY);
    const verdict = checkOwnDirOnDisk(link);
    assert.match(!verdict.ok ? verdict.reason : '', /symbolic link .* is owned by uid 65534/);
    const notDir = path.join(top, 'file');
    rmSync(notDir, { force: true });
    symlinkSync('/dev/null', notDir);
    assert.equal(checkOwnDirOnDisk(notDir).ok, false);
    assert.equal(checkOwnDirOnDisk('relative/dir').ok, false);
  },
);

const MAIN = path.join(__dirname, '../../../src/cli/main.js');
const ROOT = path.join(__dirname, '../../../..');

test(
  'agent: a state directory below one another user made first keeps the agent from starting (78), saying which',
  prerequisite('the agent refusing a squatted state directory', netnsMissing()).options,
  async (t) => {
    const top = scratch(t);
    mkdirSync(path.join(top, 'squatter'));
    chownSync(path.join(top, 'squatter'), NOBODY, NOBODY);
    const minimal = readFileSync(path.join(ROOT, 'test/unit/config/fixtures/minimal.conf'), 'utf8');
    const file = path.join(top, 'pbx-ha.conf');
    writeFileSync(
      file,
      `${minimal}\n[agent]\nsocket = ${top}/pbx-ha.sock\nstate_dir = ${top}/squatter/state\n`,
    );
    // In a network namespace of its own with the node's address, so that only the directory is wrong.
    const script =
      'ip link set lo up && ip link add eth0 type veth peer name eth0-peer && ip address add 192.0.2.11/24 dev eth0 && ' +
      'ip link set eth0 up && exec "$0" "$@"';
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      // SIGTERM on the time limit: an agent that did start stops its children.
      execFile(
        'unshare',
        ['--net', 'sh', '-c', script, process.execPath, MAIN, 'agent', '--config', file, '--node', 'pbx1'],
        { timeout: 20_000, killSignal: 'SIGTERM' },
        (error, _stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stderr }),
      );
    });
    assert.equal(r.code, 78, r.stderr);
    assert.match(
      r.stderr,
      /\[agent\] state_dir = .*squatter\/state: directory .*squatter is owned by uid 65534, not root; the agent does not start/,
    );
    assert.equal(
      existsSync(path.join(top, 'squatter', 'state')),
      false,
      'nothing made in the squatted directory',
    );
  },
);
