import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandError, runCommand } from '../../../src/adapters/exec';

const bin = (name: string) => path.resolve(__dirname, '../../../../test/fixtures/bin', name);

async function failure(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof CommandError, `a CommandError, not ${String(e)}`);
    return e;
  }
  assert.fail('the command should have failed');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

function tempFile(name: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-exec-'));
  return { file: path.join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('success: stdout and stderr are returned; arguments are passed as they are, no shell', async () => {
  const r = await runCommand([bin('print-args'), 'start', 'two words', '$HOME', '*', 'a;b'], {
    timeoutMs: 5000,
  });
  assert.equal(r.stdout, 'arg: start\narg: two words\narg: $HOME\narg: *\narg: a;b\n');
  assert.equal(r.stderr, 'a warning on stderr\n');
  assert.ok(r.durationMs >= 0 && r.durationMs < 5000);
});

test('non-zero exit: CommandError with the exit code, the argv and the end of stderr', async () => {
  const e = await failure(runCommand([bin('fail-with'), '7'], { timeoutMs: 5000 }));
  assert.equal(e.exitCode, 7);
  assert.equal(e.signal, null);
  assert.equal(e.timedOut, false);
  assert.deepEqual(e.argv, [bin('fail-with'), '7']);
  assert.equal(e.stdout, 'partial stdout\n');
  assert.match(e.stderr, /the real reason: disk full\n$/);
  assert.ok(e.message.startsWith(`${bin('fail-with')} 7 exited with code 7: `), e.message);
  assert.match(e.message, /the real reason: disk full$/, 'the message ends with the reason');
  assert.ok(!e.message.includes('first line of stderr'), 'the message keeps the tail, not the whole stderr');
  assert.ok(e.message.length < 1000, `message of ${e.message.length} characters`);
});

test('killed by a signal: CommandError says which', async () => {
  const e = await failure(runCommand([bin('kill-self')], { timeoutMs: 5000 }));
  assert.equal(e.signal, 'SIGTERM');
  assert.equal(e.exitCode, null);
  assert.equal(e.timedOut, false);
  assert.match(e.message, /was killed by SIGTERM/);
});

test('timeout: CommandError with timedOut, and the child is really killed', async () => {
  const { file, cleanup } = tempFile('pid');
  try {
    const started = Date.now();
    const e = await failure(runCommand([bin('sleep-forever'), file], { timeoutMs: 300 }));
    const elapsed = Date.now() - started;
    assert.equal(e.timedOut, true);
    assert.equal(e.signal, 'SIGKILL');
    assert.match(e.message, /timed out and was killed/);
    assert.ok(elapsed >= 290 && elapsed < 3000, `gave up after ${elapsed} ms`);
    const pid = Number(readFileSync(file, 'utf8'));
    assert.ok(pid > 1);
    assert.equal(alive(pid), false, `process ${pid} is gone`);
  } finally {
    cleanup();
  }
});

test('timeout: a child the command left behind does not hold the caller past the timeout', async () => {
  const { file, cleanup } = tempFile('pid');
  try {
    const started = Date.now();
    const e = await failure(runCommand([bin('hang-in-child'), file, '2'], { timeoutMs: 200 }));
    assert.equal(e.timedOut, true);
    assert.ok(Date.now() - started < 1500, `gave up after ${Date.now() - started} ms`);
  } finally {
    cleanup();
  }
});

test('a missing program: CommandError "could not be started", no exit code', async () => {
  const missing = bin('no-such-program');
  const e = await failure(runCommand([missing, 'x'], { timeoutMs: 5000 }));
  assert.equal(e.exitCode, null);
  assert.equal(e.timedOut, false);
  assert.match(e.message, /^\S+no-such-program x could not be started \(.*ENOENT/);
  assert.ok(e.cause instanceof Error);
});

test('a program that is not executable: could not be started', async () => {
  const e = await failure(runCommand([bin('not-executable')], { timeoutMs: 5000 }));
  assert.match(e.message, /could not be started \(.*EACCES/);
});

test('input is written to stdin, then stdin is closed', async () => {
  const input = 'address replace 192.0.2.10/24 dev eth0\nroute replace default via 198.51.100.1 dev eth1\n';
  const r = await runCommand([bin('read-stdin')], { timeoutMs: 5000, input });
  // $(cat) drops the final newline.
  assert.equal(r.stdout, `got ${input.length - 1} bytes: [${input.slice(0, -1)}]\n`);
  const empty = await runCommand([bin('read-stdin')], { timeoutMs: 5000 });
  assert.equal(
    empty.stdout,
    'got 0 bytes: []\n',
    'no input: stdin is closed at once, the child does not hang',
  );
});

test('a child that exits without reading a large input is not an error', async () => {
  const r = await runCommand([bin('exit-early')], { timeoutMs: 5000, input: 'x'.repeat(4 * 1024 * 1024) });
  assert.equal(r.stdout, '');
});

test('env replaces the environment of the child', async () => {
  const r = await runCommand(['/usr/bin/env'], { timeoutMs: 5000, env: { PBX_HA_TEST: 'yes' } });
  assert.equal(r.stdout, 'PBX_HA_TEST=yes\n');
});

test('an empty argv is refused', async () => {
  await assert.rejects(runCommand([], { timeoutMs: 1000 }), /empty argv/);
});

test('an aborted command is reported as cancelled, not as "could not be started"', async () => {
  const { file, cleanup } = tempFile('pid');
  try {
    const abort = new AbortController();
    const pending = failure(
      runCommand([bin('sleep-forever'), file], { timeoutMs: 10_000, signal: abort.signal }),
    );
    setTimeout(() => abort.abort(), 100);
    const e = await pending;
    assert.equal(e.aborted, true);
    assert.equal(e.timedOut, false);
    assert.match(e.message, /was cancelled and killed/);
  } finally {
    cleanup();
  }
});
