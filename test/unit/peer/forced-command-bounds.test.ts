// The forced command of pbx-ha's key (`pbx-ha peer-command`, SSH_ORIGINAL_COMMAND="pbx-ha
// control"), run as sshd runs it, with pipes for stdin and stdout: a request line is at most
// MAX_REQUEST_LINE_BYTES, a connection carries at most MAX_REQUESTS_PER_CONNECTION requests,
// and waits at most REQUEST_IDLE_TIMEOUT_MS for the next one (issue: "Exhaust the forced
// command"). Each bound passed is answered with the reason, and the command exits, reading no
// more. The idle bound and the reader's memory are shown on RequestLines itself, with small
// limits (the command's own 60 s would make a slow test).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import {
  MAX_REQUEST_LINE_BYTES,
  MAX_REQUESTS_PER_CONNECTION,
  REQUEST_IDLE_TIMEOUT_MS,
  REQUEST_LINE_LIMITS,
  RequestLines,
} from '../../../src/peer/request-lines';
import { PEER_SLOTS } from '../../../src/adapters/peer-slots';

const ROOT = path.join(__dirname, '../../../..');
const MAIN = path.join(__dirname, '../../../src/cli/main.js');
const MiB = 1024 * 1024;

/** A configuration whose agent socket nobody listens on: good requests are answered "not running". */
function withConfig(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-bounds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'pbx-ha.conf');
  const minimal = readFileSync(path.join(ROOT, 'test/unit/config/fixtures/minimal.conf'), 'utf8');
  writeFileSync(file, `${minimal}\n[agent]\nsocket = ${dir}/agent.sock\nstate_dir = ${dir}/state\n`);
  return file;
}

interface Run {
  code: number | null;
  answers: string[];
  stderr: string;
  /** Bytes of input the command took (written into its stdin pipe) before it exited. */
  taken: number;
}

/**
 * Runs the forced command and feeds it `input` (chunks, produced only as the pipe takes them),
 * until the input ends or the command exits; fails after `limitMs`.
 */
function runForced(file: string, input: Iterable<Buffer>, limitMs = 30_000): Promise<Run> {
  const child = spawn(process.execPath, [MAIN, 'peer-command', '--config', file], {
    env: { ...process.env, SSH_ORIGINAL_COMMAND: 'pbx-ha control' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {}); // EPIPE once the command has stopped reading
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let done = false;
  let taken = 0;
  void exited.then(() => (done = true));
  const feed = (async () => {
    for (const chunk of input) {
      if (done || child.stdin.destroyed) return;
      taken += chunk.length;
      if (!child.stdin.write(chunk))
        await new Promise<void>((resolve) => {
          const go = () => resolve();
          child.stdin.once('drain', go);
          void exited.then(go);
        });
    }
    child.stdin.end();
  })();
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return Promise.all([exited, feed]).then(([code]) => {
    clearTimeout(timer);
    return { code, answers: stdout.split('\n').filter((l) => l !== ''), stderr, taken };
  });
}

/** `total` bytes of 'a' without a newline, 1 MiB at a time, made only when asked for. */
function* endless(total: number): Iterable<Buffer> {
  const chunk = Buffer.alloc(MiB, 'a');
  for (let sent = 0; sent < total; sent += MiB) yield chunk;
}

function lines(texts: string[]): Iterable<Buffer> {
  return [Buffer.from(texts.map((l) => `${l}\n`).join(''))];
}

test('the bounds are named constants of the documented size', () => {
  assert.equal(MAX_REQUEST_LINE_BYTES, 64 * 1024);
  assert.equal(MAX_REQUESTS_PER_CONNECTION, 1000);
  assert.equal(REQUEST_IDLE_TIMEOUT_MS, 60_000);
  assert.deepEqual(REQUEST_LINE_LIMITS, {
    maxLineBytes: MAX_REQUEST_LINE_BYTES,
    maxRequests: MAX_REQUESTS_PER_CONNECTION,
    idleTimeoutMs: REQUEST_IDLE_TIMEOUT_MS,
  });
});

test('600 MB without a newline: refused after the first 64 KiB, having taken at most a few MiB of it', async (t) => {
  const file = withConfig(t);
  const started = Date.now();
  const run = await runForced(file, endless(600 * MiB));
  assert.equal(run.code, 1, run.stderr);
  assert.deepEqual(run.answers, [
    JSON.stringify({ ok: false, error: 'request line longer than 65536 bytes: connection closed' }),
  ]);
  assert.match(run.stderr, /^pbx-ha peer-command: request line longer than 65536 bytes: connection closed$/m);
  assert.doesNotMatch(run.stderr, /RangeError|^\s+at\s/m);
  // What the command never read, it cannot hold: the pipe stopped taking input at once.
  assert.ok(run.taken <= 4 * MiB, `the command took ${run.taken} bytes of the 600 MB`);
  assert.ok(Date.now() - started < 30_000);
});

test('a line of exactly 64 KiB is still read (and refused as not JSON); one byte more ends the connection', async (t) => {
  const file = withConfig(t);
  const atBound = 'a'.repeat(MAX_REQUEST_LINE_BYTES);
  const ok = await runForced(file, lines([atBound, 'x']));
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(
    ok.answers.map((a) => JSON.parse(a) as unknown),
    [
      { ok: false, error: 'request is not JSON' },
      { ok: false, error: 'request is not JSON' },
    ],
  );
  const over = await runForced(file, lines([`${atBound}a`, 'x']));
  assert.equal(over.code, 1);
  assert.deepEqual(
    over.answers.map((a) => JSON.parse(a) as unknown),
    [{ ok: false, error: 'request line longer than 65536 bytes: connection closed' }],
  );
});

test('more than 1000 requests on one connection: the first 1000 answered, then the connection is closed', async (t) => {
  const file = withConfig(t);
  const many = Array.from({ length: MAX_REQUESTS_PER_CONNECTION + 5 }, () => 'x');
  const run = await runForced(file, lines(many));
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.answers.length, MAX_REQUESTS_PER_CONNECTION + 1);
  for (const a of run.answers.slice(0, MAX_REQUESTS_PER_CONNECTION))
    assert.deepEqual(JSON.parse(a), { ok: false, error: 'request is not JSON' });
  assert.deepEqual(JSON.parse(run.answers[MAX_REQUESTS_PER_CONNECTION]), {
    ok: false,
    error: 'more than 1000 requests on one connection: connection closed',
  });
});

// --- the reader, with small limits -----------------------------------------------------------

const SMALL = { maxLineBytes: 16, maxRequests: 3, idleTimeoutMs: 200 };

test('reader: lines in any chunking, CR LF, a last line without newline, then the end', async () => {
  const input = new PassThrough();
  const reader = new RequestLines(input, SMALL);
  input.write('ab');
  input.write('c\r\nde');
  input.end('f');
  assert.deepEqual(await reader.next(), { kind: 'line', line: 'abc' });
  assert.deepEqual(await reader.next(), { kind: 'line', line: 'def' });
  assert.deepEqual(await reader.next(), { kind: 'end' });
});

test('reader: idle for longer than the timeout, it gives up; time spent between requests does not add up', async () => {
  const input = new PassThrough();
  const reader = new RequestLines(input, SMALL);
  setTimeout(() => input.write('one\n'), 120);
  assert.deepEqual(await reader.next(), { kind: 'line', line: 'one' });
  // 150 ms of "answering", then the next line 120 ms later: under the bound from the ask.
  await new Promise((r) => setTimeout(r, 150));
  setTimeout(() => input.write('two\n'), 120);
  assert.deepEqual(await reader.next(), { kind: 'line', line: 'two' });
  const started = Date.now();
  assert.deepEqual(await reader.next(), {
    kind: 'refused',
    error: 'no request for 0.2 s: connection closed',
  });
  assert.ok(Date.now() - started >= 190);
});

test('reader: an endless line is refused, and the reader takes no more than one chunk past the bound', async () => {
  const input = new PassThrough({ highWaterMark: 1024 });
  const reader = new RequestLines(input, { ...SMALL, maxLineBytes: 4096 });
  let written = 0;
  const chunk = Buffer.alloc(1024, 'a');
  // Writes as long as the stream takes them; stops when it reports back-pressure for 50 ms.
  const writer = (async () => {
    for (let i = 0; i < 100_000; i++) {
      written += chunk.length;
      if (!input.write(chunk)) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => input.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 50)),
        ]);
        if (!drained) return;
      }
    }
  })();
  assert.deepEqual(await reader.next(), {
    kind: 'refused',
    error: 'request line longer than 4096 bytes: connection closed',
  });
  await writer;
  assert.ok(written < 16 * 1024, `${written} bytes went into the stream for a 4 KiB bound`);
});

/** The slot file's content naming the running test process (alive) or a process that has ended. */
function slotOwner(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\n`;
}

test(`at most ${PEER_SLOTS} sessions of the key at once: one more is refused, saying why; a dead session's slot is taken back`, async (t) => {
  const file = withConfig(t);
  const dir = path.dirname(file);
  // Every slot held by a live process (this test's own): the next session is refused at once.
  for (let n = 0; n < PEER_SLOTS; n++)
    writeFileSync(path.join(dir, `peer-slot-${n}`), slotOwner(process.pid));
  const hello = JSON.stringify({ request: 'peer-hello', from: 'pbx2' });
  const refused = await runForced(file, lines([hello]));
  assert.equal(refused.code, 1);
  assert.deepEqual(
    refused.answers.map((a) => JSON.parse(a) as unknown),
    [{ ok: false, error: `${PEER_SLOTS} sessions of pbx-ha's key already run on this node` }],
  );
  assert.match(
    refused.stderr,
    new RegExp(`${PEER_SLOTS} sessions of pbx-ha's key already run on this node; refused`),
  );
  // One slot whose owner has ended (a session killed outright): taken back, the session served.
  const ended = spawnSync('true');
  writeFileSync(path.join(dir, `peer-slot-${PEER_SLOTS - 1}`), `${ended.pid} 1\n`);
  const served = await runForced(file, lines([hello]));
  assert.equal(served.code, 0, served.stderr);
  assert.equal(served.answers.length, 1);
  assert.doesNotMatch(served.answers[0], /sessions of pbx-ha's key/);
  assert.equal(
    existsSync(path.join(dir, `peer-slot-${PEER_SLOTS - 1}`)),
    false,
    'freed when the session ended',
  );
  assert.deepEqual(
    readdirSync(dir).filter((n) => /stale|claim/.test(n)),
    [],
    'no claim or stale file left',
  );
});
