// The control socket never clobbers what it finds (issue: "the control socket clobbers its
// path"): it creates its own directory 0700, leaves the mode of a directory it did not create
// alone and refuses one open to others, removes only a stale socket (one nobody answers on), and
// refuses to start, without touching the socket, when another agent answers on it. The agent
// itself then exits with 78 (EX_CONFIG), which systemd's RestartPreventExitStatus does not retry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ControlServer,
  ControlSocketError,
  controlRequest,
  socketAnswers,
} from '../../../src/adapters/control-socket';
import { RecordingLogger } from '../../fakes/logger';
import { netnsMissing, prerequisite } from '../../fakes/prerequisites';

const ROOT = path.join(__dirname, '../../../..');
const MAIN = path.join(__dirname, '../../../src/cli/main.js');

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'pbx-ha-ctl-'));
}

function server(socketPath: string, log = new RecordingLogger()): ControlServer {
  return new ControlServer(socketPath, async (req) => ({ ok: true, echo: req.request }), log);
}

const mode = (p: string): number => statSync(p).mode & 0o7777;

/** A socket file left by a process killed while listening: nobody answers on it. */
function staleSocket(socketPath: string): void {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ],
    { timeout: 10_000 },
  );
  assert.equal(r.signal, 'SIGKILL', `the helper was not killed while listening: ${r.stderr}`);
  assert.ok(statSync(socketPath).isSocket());
}

test('control socket: its directory is created 0700, and the socket 0600', async () => {
  const dir = tempDir();
  try {
    const socketPath = path.join(dir, 'run', 'pbx-ha.sock');
    const s = server(socketPath);
    await s.start();
    try {
      assert.equal(mode(path.join(dir, 'run')), 0o700);
      assert.equal(mode(socketPath), 0o600);
      assert.deepEqual(await controlRequest(socketPath, { request: 'status' }), { ok: true, echo: 'status' });
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control socket: a directory it did not create keeps its mode, and one open to others is refused', async () => {
  const dir = tempDir();
  try {
    // Like /tmp: world-writable with the sticky bit (`socket = /tmp/pbx-ha.sock` made /tmp 0700).
    const shared = path.join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const s = server(path.join(shared, 'pbx-ha.sock'));
    await assert.rejects(s.start(), (e: Error) => {
      assert.ok(e instanceof ControlSocketError, e.message);
      assert.match(e.message, /directory .*shared has mode 1777, open to group or others/);
      return true;
    });
    assert.equal(mode(shared), 0o1777, 'the mode of a directory pbx-ha did not create was changed');
    // A directory of its own that it did not create (systemd's RuntimeDirectory): used, not changed.
    const own = path.join(dir, 'own');
    mkdirSync(own);
    chmodSync(own, 0o500);
    chmodSync(own, 0o700);
    const t = server(path.join(own, 'pbx-ha.sock'));
    await t.start();
    await t.stop();
    assert.equal(mode(own), 0o700);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control socket: a file or a link at the socket path is never removed', async () => {
  const dir = tempDir();
  try {
    const socketPath = path.join(dir, 'pbx-ha.sock');
    writeFileSync(socketPath, 'precious\n');
    await assert.rejects(server(socketPath).start(), /is a regular file, not a socket/);
    assert.equal(readFileSync(socketPath, 'utf8'), 'precious\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control socket: a second agent refuses to start while the first answers, and the first keeps its socket', async () => {
  const dir = tempDir();
  try {
    const socketPath = path.join(dir, 'pbx-ha.sock');
    const first = server(socketPath);
    await first.start();
    try {
      await assert.rejects(server(socketPath).start(), (e: Error) => {
        assert.ok(e instanceof ControlSocketError, e.message);
        assert.match(e.message, /another agent answers on the control socket/);
        return true;
      });
      assert.equal(await socketAnswers(socketPath), true);
      assert.deepEqual(await controlRequest(socketPath, { request: 'still-first' }), {
        ok: true,
        echo: 'still-first',
      });
    } finally {
      await first.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control socket: a stale socket (nobody answers) is removed and replaced', async () => {
  const dir = tempDir();
  try {
    const socketPath = path.join(dir, 'pbx-ha.sock');
    staleSocket(socketPath);
    assert.equal(await socketAnswers(socketPath), false);
    const log = new RecordingLogger();
    const s = server(socketPath, log);
    await s.start();
    try {
      assert.equal(log.matching(/removing the stale control socket/).length, 1);
      assert.deepEqual(await controlRequest(socketPath, { request: 'status' }), { ok: true, echo: 'status' });
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The agent itself, in a network namespace of its own (a veth eth0 with the node's address, so
// that the host checks pass): with another agent on its socket it exits 78 before doing anything.
const needs = prerequisite('the agent refusing a socket another agent answers on', netnsMissing());

test(
  'agent: another agent answering on the socket makes it exit with 78, the socket untouched',
  needs.options,
  async () => {
    const dir = tempDir();
    const socketPath = path.join(dir, 'pbx-ha.sock');
    const first = server(socketPath);
    await first.start();
    try {
      const minimal = readFileSync(path.join(ROOT, 'test/unit/config/fixtures/minimal.conf'), 'utf8');
      const file = path.join(dir, 'pbx-ha.conf');
      writeFileSync(file, `${minimal}\n[agent]\nsocket = ${socketPath}\nstate_dir = ${dir}/state\n`);
      const script =
        'ip link set lo up && ip link add eth0 type veth peer name eth0-peer && ip address add 192.0.2.11/24 dev eth0 && ' +
        'ip link set eth0 up && exec "$0" "$@"';
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        // SIGTERM on the time limit: an agent that did start (the old behaviour) stops its children.
        execFile(
          'unshare',
          ['--net', 'sh', '-c', script, process.execPath, MAIN, 'agent', '--config', file, '--node', 'pbx1'],
          { timeout: 20_000, killSignal: 'SIGTERM' },
          (error, _stdout, stderr) =>
            resolve({
              code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
              stderr,
            }),
        );
      });
      assert.equal(r.code, 78, r.stderr);
      assert.match(
        r.stderr,
        /another agent answers on the control socket .*pbx-ha\.sock.*; the agent does not start/,
      );
      assert.deepEqual(await controlRequest(socketPath, { request: 'first' }), { ok: true, echo: 'first' });
    } finally {
      await first.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
