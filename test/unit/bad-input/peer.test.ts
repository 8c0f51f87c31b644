// The peer channel fed bad input: the request parser of the receiving side (parsePeerRequest), the
// checks of the peer's answers (parseHello, SshControl's line parsing), the forced command's
// control loop (`pbx-ha peer-command` with SSH_ORIGINAL_COMMAND="pbx-ha control"), and the agent's
// control socket (ControlServer). Malformed JSON, wrong types, huge strings, unknown requests,
// prototype-pollution attempts, arrays and nulls: each is refused with a clear error and nothing
// is thrown out; the server still answers a good request afterwards.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlServer, controlRequest, type ControlRequest } from '../../../src/adapters/control-socket';
import { SshControl } from '../../../src/adapters/ssh-control';
import { parsePublicKey, restrictedLine } from '../../../src/link/authorized-keys';
import { parseHello, parsePeerRequest, parseQuiesceAnswer, PEER_REQUESTS } from '../../../src/peer/protocol';
import { MAX_REQUEST_LINE_BYTES } from '../../../src/peer/request-lines';
import { RecordingLogger } from '../../fakes';
import { Prng } from './prng';

const ROOT = path.join(__dirname, '../../../..');
const MAIN = path.join(__dirname, '../../../src/cli/main.js');
const DIGEST = 'a'.repeat(64);

/** Bad request lines: each must be refused. */
function badLines(): [string, string][] {
  const prng = new Prng(0x5eed0010);
  const lines: [string, string][] = [
    ['empty line', ''],
    ['blank line', '   '],
    ['not JSON', 'hello'],
    ['truncated JSON', '{"request":"peer-hello","from":"pbx1"'],
    ['trailing garbage', '{"request":"peer-hello","from":"pbx1"} x'],
    ['two objects', '{"request":"peer-hello","from":"pbx1"}{"request":"peer-hello","from":"pbx1"}'],
    ['JSON null', 'null'],
    ['JSON true', 'true'],
    ['JSON number', '42'],
    ['JSON string', '"peer-hello"'],
    ['JSON array', '["peer-hello","pbx1"]'],
    ['array of the request', '[{"request":"peer-hello","from":"pbx1"}]'],
    ['empty object', '{}'],
    ['request null', '{"request":null,"from":"pbx1"}'],
    ['request number', '{"request":1,"from":"pbx1"}'],
    ['request array', '{"request":["peer-hello"],"from":"pbx1"}'],
    ['request object', '{"request":{"toString":"peer-hello"},"from":"pbx1"}'],
    ['unknown request', '{"request":"peer-shell","from":"pbx1"}'],
    ['admin request through the peer', '{"request":"failover","from":"pbx1"}'],
    ['status through the peer', '{"request":"status","from":"pbx1"}'],
    ['request in upper case', '{"request":"PEER-HELLO","from":"pbx1"}'],
    ['request with a blank', '{"request":"peer-hello ","from":"pbx1"}'],
    ['request "constructor"', '{"request":"constructor","from":"pbx1"}'],
    ['request "__proto__"', '{"request":"__proto__","from":"pbx1"}'],
    ['request "toString"', '{"request":"toString","from":"pbx1"}'],
    ['request "hasOwnProperty"', '{"request":"hasOwnProperty","from":"pbx1"}'],
    ['the request inside __proto__', '{"__proto__":{"request":"peer-hello","from":"pbx1"}}'],
    ['from inside __proto__', '{"request":"peer-hello","__proto__":{"from":"pbx1"}}'],
    [
      'the request inside constructor.prototype',
      '{"constructor":{"prototype":{"request":"peer-hello","from":"pbx1"}}}',
    ],
    ['from missing', '{"request":"peer-hello"}'],
    ['from null', '{"request":"peer-hello","from":null}'],
    ['from number', '{"request":"peer-hello","from":7}'],
    ['from empty', '{"request":"peer-hello","from":""}'],
    ['from with a newline', '{"request":"peer-hello","from":"pbx1\\nALERT: forged"}'],
    ['from with an escape sequence', '{"request":"peer-hello","from":"pbx1\\u001b[2J"}'],
    ['from with a NUL', '{"request":"peer-hello","from":"pbx1\\u0000"}'],
    ['from with a slash', '{"request":"peer-hello","from":"../../etc"}'],
    ['from in another script', '{"request":"peer-hello","from":"pbx\u00e9"}'],
    ['from too long', `{"request":"peer-hello","from":"${'a'.repeat(64)}"}`],
    ['from huge', `{"request":"peer-hello","from":"${'a'.repeat(1_000_000)}"}`],
    ['request huge', `{"request":"${'p'.repeat(1_000_000)}","from":"pbx1"}`],
    ['request deeply nested', `{"request":${'['.repeat(5000)}${']'.repeat(5000)},"from":"pbx1"}`],
    ['install without kind', '{"request":"peer-install","from":"pbx1"}'],
    ['install of an unknown kind', '{"request":"peer-install","from":"pbx1","kind":"etc"}'],
    ['install kind null', '{"request":"peer-install","from":"pbx1","kind":null}'],
    ['install kind array', '{"request":"peer-install","from":"pbx1","kind":["files"]}'],
    ['install kind with a path', '{"request":"peer-install","from":"pbx1","kind":"../files"}'],
    ['install digest null', `{"request":"peer-install","from":"pbx1","kind":"astdb","digest":null}`],
    ['install digest number', `{"request":"peer-install","from":"pbx1","kind":"astdb","digest":1}`],
    [
      'install digest too short',
      `{"request":"peer-install","from":"pbx1","kind":"astdb","digest":"${'a'.repeat(63)}"}`,
    ],
    [
      'install digest in upper case',
      `{"request":"peer-install","from":"pbx1","kind":"astdb","digest":"${'A'.repeat(64)}"}`,
    ],
    [
      'install digest huge',
      `{"request":"peer-install","from":"pbx1","kind":"astdb","digest":"${'a'.repeat(1_000_000)}"}`,
    ],
  ];
  for (let i = 0; i < 40; i++)
    lines.push([
      `random bytes #${i}`,
      prng
        .bytes(1 + prng.int(300))
        .toString('latin1')
        .replace(/\n/g, ' '),
    ]);
  for (let i = 0; i < 40; i++) {
    // A good request with one character replaced at random.
    const good = `{"request":"peer-install","from":"pbx1","kind":"files","digest":"${DIGEST}"}`;
    const at = prng.int(good.length);
    const replaced = `${good.slice(0, at)}${String.fromCharCode(32 + prng.int(95))}${good.slice(at + 1)}`;
    if (parsePeerRequest(replaced).ok) continue; // a replacement by a character that keeps it valid
    lines.push([`one character changed at ${at} #${i}`, replaced]);
  }
  return lines;
}

test('peer: parsePeerRequest refuses every bad request with a short, clear error', () => {
  const failures: string[] = [];
  const lines = badLines();
  for (const [name, line] of lines) {
    let result: ReturnType<typeof parsePeerRequest>;
    try {
      result = parsePeerRequest(line);
    } catch (e) {
      failures.push(`${name}: threw ${(e as Error).message}`);
      continue;
    }
    if (result.ok) failures.push(`${name}: accepted as ${JSON.stringify(result.request).slice(0, 200)}`);
    else if (typeof result.error !== 'string' || result.error.trim() === '')
      failures.push(`${name}: refused without a reason`);
    // The error goes back to the peer and into logs: a huge request must not make a huge message.
    else if (result.error.length > 500) failures.push(`${name}: a ${result.error.length}-character error`);
    else if (/[\0-\x08\x0b-\x1f\x7f]/.test(result.error))
      failures.push(`${name}: control characters in the error ${JSON.stringify(result.error)}`);
  }
  assert.ok(lines.length >= 100, `${lines.length} bad lines`);
  assert.deepEqual(failures, []);
  // Nothing leaked into the prototypes.
  assert.equal(({} as Record<string, unknown>).request, undefined);
  assert.equal(({} as Record<string, unknown>).from, undefined);
});

test('peer: parsePeerRequest accepts the good requests, and returns only the known fields', () => {
  for (const request of PEER_REQUESTS) {
    const line =
      request === 'peer-install'
        ? JSON.stringify({ request, from: 'pbx1', kind: 'astdb', digest: DIGEST })
        : request === 'peer-pg-follow'
          ? JSON.stringify({ request, from: 'pbx1', secret: 'Zq0-test-secret-never-logged_42' })
          : JSON.stringify({ request, from: 'pbx1' });
    const result = parsePeerRequest(line);
    assert.ok(result.ok, `${request}: ${result.ok ? '' : result.error}`);
  }
  const extra = parsePeerRequest(
    '{"request":"peer-hello","from":"pbx1","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"shell":"rm -rf /"}',
  );
  assert.ok(extra.ok);
  if (extra.ok) {
    assert.deepEqual(Object.keys(extra.request).sort(), ['from', 'request']);
    assert.equal(Object.getPrototypeOf(extra.request), Object.prototype);
    assert.equal((extra.request as unknown as Record<string, unknown>).admin, undefined);
  }
  assert.equal(({} as Record<string, unknown>).admin, undefined);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('peer: peer-pg-follow needs a secret pbx-ha makes, and the refusal never quotes it', () => {
  for (const secret of [
    undefined,
    7,
    '',
    'short',
    'a'.repeat(129),
    "x'; DROP ROLE postgres; --xxxxxxx",
    'ok-but with space-x',
  ])
    for (const line of [JSON.stringify({ request: 'peer-pg-follow', from: 'pbx1', secret })]) {
      const r = parsePeerRequest(line);
      assert.equal(r.ok, false, line);
      if (!r.ok && typeof secret === 'string' && secret.length > 0)
        assert.ok(!r.error.includes(secret), r.error);
    }
});

test('peer: parseHello refuses malformed answers with a message, and accepts good ones', () => {
  const bad: [string, unknown][] = [
    ['empty', {}],
    ['node missing', { ok: true, role: 'master', state: 'active' }],
    ['node number', { ok: true, node: 1, role: 'master', state: 'active' }],
    ['node null', { ok: true, node: null, role: 'master', state: 'active' }],
    ['node empty', { ok: true, node: '', role: 'master', state: 'active' }],
    ['node with a newline', { ok: true, node: 'pbx2\nALERT', role: 'slave', state: 'standby' }],
    ['node huge', { ok: true, node: 'n'.repeat(1_000_000), role: 'slave', state: 'standby' }],
    ['role unknown', { ok: true, node: 'pbx2', role: 'boss', state: 'standby' }],
    ['role array', { ok: true, node: 'pbx2', role: ['slave'], state: 'standby' }],
    ['state missing', { ok: true, node: 'pbx2', role: 'slave' }],
    ['state unknown', { ok: true, node: 'pbx2', role: 'slave', state: 'on fire' }],
    ['state huge', { ok: true, node: 'pbx2', role: 'slave', state: 's'.repeat(1_000_000) }],
    ['state object', { ok: true, node: 'pbx2', role: 'slave', state: { toString: 'standby' } }],
    ['a refusal', { ok: false, error: 'no' }],
    ['null', null],
    ['an array', ['pbx2', 'slave', 'standby']],
    ['a string', 'standby'],
    [
      'role inside __proto__',
      JSON.parse('{"ok":true,"node":"pbx2","state":"standby","__proto__":{"role":"slave"}}'),
    ],
  ];
  const failures: string[] = [];
  for (const [name, answer] of bad) {
    try {
      const hello = parseHello(answer as Record<string, unknown>);
      failures.push(`${name}: accepted as ${JSON.stringify(hello).slice(0, 200)}`);
    } catch (e) {
      const message = (e as Error).message;
      if (!(e instanceof Error)) failures.push(`${name}: threw a ${typeof e}, not an Error`);
      else if (!/peer-hello/.test(message))
        failures.push(`${name}: unclear message ${message.slice(0, 200)}`);
      else if (message.length > 500) failures.push(`${name}: a ${message.length}-character message`);
    }
  }
  assert.deepEqual(failures, []);
  for (const state of ['init', 'active', 'standby', 'fault', 'maintenance', 'stopped']) {
    assert.deepEqual(parseHello({ ok: true, node: 'pbx2', role: 'slave', state }), {
      node: 'pbx2',
      role: 'slave',
      state,
    });
  }
});

// ---------------------------------------------------------------------------------------------
// SshControl's answer parsing, on a fake channel (no SSH connection).

interface FakeChannel {
  written: string[];
  write(data: string): boolean;
  end(): void;
}

function fakeControl(): { control: SshControl; feed: (chunk: string) => void; channel: FakeChannel } {
  const control = new SshControl({
    host: '192.0.2.12',
    port: 22,
    user: 'root',
    keyFile: '/nonexistent',
    knownHostsFile: '/nonexistent',
    connectTimeoutMs: 1000,
  });
  const channel: FakeChannel = {
    written: [],
    write: (d) => (channel.written.push(d), true),
    end: () => undefined,
  };
  const inner = control as unknown as { channel: FakeChannel; onData(chunk: string): void };
  inner.channel = channel;
  return { control, feed: (chunk) => inner.onData(chunk), channel };
}

test('peer: SshControl refuses malformed answers without throwing, and keeps the answers in order', async () => {
  const answers: [string, string, RegExp | null][] = [
    ['not JSON', 'hello\n', /malformed answer: "hello"/],
    ['null', 'null\n', /malformed answer/],
    ['an array', '[1,2]\n', /malformed answer/],
    ['a number', '7\n', /malformed answer/],
    ['a string', '"ok"\n', /malformed answer/],
    ['truncated', '{"ok":tr\n', /malformed answer/],
    ['an escape sequence', '\x1b[2J\x1b[31mowned\n', /malformed answer/],
    ['a good answer', '{"ok":true,"node":"pbx2"}\n', null],
    ['a good answer with __proto__', '{"ok":true,"__proto__":{"polluted":true}}\n', null],
  ];
  const { control, feed } = fakeControl();
  for (const [name, line, refused] of answers) {
    const pending = control.request({ request: 'peer-hello', from: 'pbx1' }, 5000);
    assert.doesNotThrow(() => feed(line), name);
    if (refused === null) {
      const answer = await pending;
      assert.equal(answer.ok, true, name);
    } else {
      await assert.rejects(
        pending,
        (e: Error) => refused.test(e.message) && e.message.length < 500 && !/\x1b/.test(e.message),
        name,
      );
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);

  // An answer cut into pieces, and two answers in one piece.
  const first = control.request({ request: 'peer-hello', from: 'pbx1' }, 5000);
  const second = control.request({ request: 'peer-astdb-info', from: 'pbx1' }, 5000);
  feed('{"ok":tr');
  feed('ue,"n":1}\n{"ok":true,"n":2}\n');
  assert.equal((await first).n, 1);
  assert.equal((await second).n, 2);
  // An answer nobody waits for is dropped, not thrown.
  assert.doesNotThrow(() => feed('{"ok":true,"late":1}\n'));
  control.close();
});

test('peer: SshControl refuses a huge answer with a short message, and an endless line does not grow without bound', async () => {
  const { control, feed } = fakeControl();
  const huge = control.request({ request: 'peer-hello', from: 'pbx1' }, 5000);
  feed(`${'x'.repeat(5_000_000)}\n`);
  await assert.rejects(
    huge,
    (e: Error) => /^the peer sent a malformed answer: "x{200}"…$/.test(e.message) && e.message.length < 500,
  );

  const { control: endless, feed: feedEndless } = fakeControl();
  const waiting = endless.request({ request: 'peer-hello', from: 'pbx1' }, 5000);
  const chunk = 'y'.repeat(1024 * 1024);
  for (let i = 0; i < 20; i++) feedEndless(chunk);
  await assert.rejects(
    waiting,
    /^Error: the peer sent an answer longer than 1048576 characters without ending it; the control channel is closed$/,
  );
  const buffered = (endless as unknown as { buffered: string }).buffered;
  assert.ok(buffered.length <= 2 * 1024 * 1024, `${buffered.length} characters kept`);
  control.close();
  endless.close();
});

test('peer: an OpenSSH public key line cannot smuggle a second line or options into authorized_keys', () => {
  const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
  assert.ok(parsePublicKey(`ssh-ed25519 ${key} pbx-ha@pbx1`));
  // Refused, or taken as one key whose line in authorized_keys is still one restricted line (a
  // second key after a newline ends up in the first one's comment).
  for (const text of [
    `ssh-ed25519 ${key} a\nssh-rsa ${key} b`,
    `ssh-ed25519 ${key} a\rcommand="sh" ssh-rsa ${key}`,
    `ssh-ed25519 ${key} a\u2028ssh-rsa ${key}`,
    `command="sh" ssh-ed25519 ${key}`,
    `ssh-ed25519 ${key}\nssh-ed25519 ${key}`,
    `ssh-dss ${key}`,
    `ssh-ed25519 not*base64`,
    '',
  ]) {
    const parsed = parsePublicKey(text);
    if (parsed === null) continue;
    const line = restrictedLine(parsed, '/usr/bin/pbx-ha peer-command');
    assert.doesNotMatch(line, /[\n\r\u2028\u2029\0]/, JSON.stringify(text));
    assert.match(
      line,
      /^restrict,command="\/usr\/bin\/pbx-ha peer-command" ssh-ed25519 /,
      JSON.stringify(text),
    );
  }
  for (const bad of [
    'ssh-dss AAAA',
    'command="sh" ssh-ed25519 AAAA',
    `ssh-ed25519 ${key} a\nssh-rsa ${key} b`,
    '',
  ]) {
    assert.equal(parsePublicKey(bad), null, JSON.stringify(bad));
  }
});

// ---------------------------------------------------------------------------------------------
// The forced command's control loop: what a peer reaches through pbx-ha's restricted key.

test('peer: the forced command answers every bad line with a refusal, one answer per line, and ends cleanly', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-peer-'));
  try {
    const file = path.join(dir, 'pbx-ha.conf');
    const minimal = readFileSync(path.join(ROOT, 'test/unit/config/fixtures/minimal.conf'), 'utf8');
    // No agent listens on this socket: good requests get "not running", which is an answer too.
    writeFileSync(file, `${minimal}\n[agent]\nsocket = ${dir}/agent.sock\nstate_dir = ${dir}/state\n`);
    // Lines over the length bound end the connection: forced-command-bounds.test.ts has them.
    const lines = badLines()
      .map(([, line]) => line)
      .filter((line) => !line.includes('\r') && Buffer.byteLength(line) <= MAX_REQUEST_LINE_BYTES);
    lines.push('{"request":"peer-astdb-info","from":"pbx1"}');
    const input = `${lines.join('\n')}\n`;
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const child = execFile(
        process.execPath,
        [MAIN, 'peer-command', '--config', file],
        {
          env: { ...process.env, SSH_ORIGINAL_COMMAND: 'pbx-ha control' },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 60_000,
        },
        (error, out, err) =>
          resolve({
            code: error === null ? 0 : ((error as unknown as { code: number }).code ?? null),
            stdout: String(out),
            stderr: String(err),
          }),
      );
      child.stdin!.end(input);
    });
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /^\s+at\s/m);
    const answers = stdout.split('\n').filter((l) => l !== '');
    assert.equal(answers.length, lines.length, 'one answer per request line');
    answers.forEach((answer, i) => {
      const parsed = JSON.parse(answer) as { ok: boolean; error?: string };
      assert.equal(parsed.ok, false, `line ${i + 1}: ${answer.slice(0, 200)}`);
      assert.ok(
        typeof parsed.error === 'string' && parsed.error.length > 0 && parsed.error.length < 500,
        `line ${i + 1}: ${answer.slice(0, 200)}`,
      );
    });
    assert.match(answers[answers.length - 1], /agent is not running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// The agent's control socket.

function rawExchange(
  socketPath: string,
  send: (conn: net.Socket) => void,
  timeoutMs = 5000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socketPath);
    let received = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(
        new Error(
          `no end from the server within ${timeoutMs} ms; got ${JSON.stringify(received.slice(0, 200))}`,
        ),
      );
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => (received += d));
    conn.on('error', () => undefined);
    conn.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    conn.on('connect', () => send(conn));
  });
}

test('peer: the control socket answers or closes on garbage, never crashes, and still answers a good request', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-ctl-'));
  const socketPath = path.join(dir, 'run', 'pbx-ha.sock');
  const log = new RecordingLogger();
  const handled: ControlRequest[] = [];
  const server = new ControlServer(
    socketPath,
    async (req) => {
      handled.push(req);
      if (req.request === 'throw') throw new Error('handler failed');
      if (req.request === 'slow') await new Promise((r) => setTimeout(r, 200));
      return { ok: true, echo: req.request };
    },
    log,
  );
  await server.start();
  try {
    const answerOf = (text: string) =>
      JSON.parse(text.trim()) as { ok: boolean; error?: string; echo?: string };
    const bad: [string, string, RegExp][] = [
      ['not JSON', 'hello\n', /not JSON/],
      ['null', 'null\n', /must be an object/],
      ['an array', '[1]\n', /must be an object/],
      ['a number', '1\n', /must be an object/],
      ['request missing', '{}\n', /must be an object with a "request" string/],
      ['request number', '{"request":1}\n', /"request" string/],
      ['request inside __proto__', '{"__proto__":{"request":"status"}}\n', /"request" string/],
      ['request null', '{"request":null}\n', /"request" string/],
      ['a NUL byte', '\0\n', /not JSON/],
      ['invalid UTF-8', '\xff\xfe\n', /not JSON/],
      ['a handler that throws', '{"request":"throw"}\n', /handler failed/],
    ];
    for (const [name, line, says] of bad) {
      const text = await rawExchange(socketPath, (c) => c.write(Buffer.from(line, 'latin1')));
      const answer = answerOf(text);
      assert.equal(answer.ok, false, name);
      assert.match(answer.error ?? '', says, name);
    }
    assert.equal(({} as Record<string, unknown>).request, undefined);

    // A 1 MB line: refused as too large.
    const big = await rawExchange(socketPath, (c) => c.write(`${'x'.repeat(1024 * 1024)}\n`));
    assert.match(big, /request too large/);
    // A 1 MB request without newline, then the client stops writing.
    const endless = await rawExchange(socketPath, (c) => c.end('{'.repeat(1024 * 1024)));
    assert.match(endless, /request too large/);
    // An unterminated line, then the client closes: nothing to answer, nothing crashes.
    await rawExchange(socketPath, (c) => c.end('{"request":"status"'));
    // A connection that closes in the middle of a request, and one reset at once.
    await rawExchange(socketPath, (c) => {
      c.write('{"request":"sl');
      setTimeout(() => c.destroy(), 20);
    });
    await rawExchange(socketPath, (c) => c.destroy());
    // A client gone before a slow answer is written.
    await rawExchange(socketPath, (c) => {
      c.write('{"request":"slow"}\n');
      setTimeout(() => c.destroy(), 20);
    });
    // Many connections at once, good and bad mixed.
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0
          ? controlRequest(socketPath, { request: `r${i}` })
          : rawExchange(socketPath, (c) => c.end('garbage\n')).then(answerOf),
      ),
    );
    many.forEach((answer, i) =>
      assert.equal(answer.ok, i % 2 === 0, `connection ${i}: ${JSON.stringify(answer)}`),
    );

    await new Promise((r) => setTimeout(r, 300));
    const after = await controlRequest(socketPath, { request: 'status' });
    assert.deepEqual(after, { ok: true, echo: 'status' });
    assert.deepEqual(log.messages('error'), []);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('peer: the control socket runs at most one request per connection', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-ctl-'));
  const socketPath = path.join(dir, 'pbx-ha.sock');
  const handled: string[] = [];
  const server = new ControlServer(
    socketPath,
    async (req) => {
      handled.push(req.request);
      await new Promise((r) => setTimeout(r, 100));
      return { ok: true };
    },
    new RecordingLogger(),
  );
  await server.start();
  try {
    await rawExchange(socketPath, (c) => {
      c.write('{"request":"first"}\n');
      setTimeout(() => c.write('{"request":"second"}\n'), 20);
    });
    assert.deepEqual(handled, ['first']);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('peer: parseQuiesceAnswer refuses malformed answers with a message naming the field, and accepts good ones', () => {
  const good = {
    ok: true,
    node: 'pbx2',
    state: 'active',
    quiesced: true,
    data: { astdb: { digest: DIGEST, keys: 3 } },
  };
  const bad: [string, unknown][] = [
    ['null', null],
    ['an array', [good]],
    ['a refusal', { ok: false, error: 'no' }],
    ['node missing', { ...good, node: undefined }],
    ['node with a newline', { ...good, node: 'pbx2\nALERT' }],
    ['state unknown', { ...good, state: 'on fire' }],
    ['quiesced a string', { ...good, quiesced: 'yes' }],
    ['quiesced missing', { ...good, quiesced: undefined }],
    ['data missing', { ...good, data: undefined }],
    ['data an array', { ...good, data: [{ digest: DIGEST }] }],
    ['kind with a slash', { ...good, data: { '../astdb': { digest: DIGEST } } }],
    ['kind __proto__', { ...good, data: JSON.parse(`{"__proto__":{"digest":"${DIGEST}"}}`) }],
    [
      'too many kinds',
      {
        ...good,
        data: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, { digest: null }])),
      },
    ],
    ['digest not hex', { ...good, data: { astdb: { digest: 'z'.repeat(64) } } }],
    ['digest short', { ...good, data: { astdb: { digest: 'a'.repeat(63) } } }],
    ['digest huge', { ...good, data: { astdb: { digest: 'a'.repeat(1_000_000) } } }],
    ['digest missing', { ...good, data: { astdb: {} } }],
    ['kind a string', { ...good, data: { astdb: DIGEST } }],
  ];
  const failures: string[] = [];
  for (const [name, answer] of bad) {
    try {
      const parsed = parseQuiesceAnswer(answer as Record<string, unknown>);
      failures.push(`${name}: accepted as ${JSON.stringify(parsed).slice(0, 200)}`);
    } catch (e) {
      const message = (e as Error).message;
      if (!/peer-quiesce/.test(message)) failures.push(`${name}: unclear message ${message.slice(0, 200)}`);
      else if (message.length > 500) failures.push(`${name}: a ${message.length}-character message`);
    }
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(parseQuiesceAnswer(good), {
    node: 'pbx2',
    state: 'active',
    quiesced: true,
    digests: { astdb: DIGEST },
    data: { astdb: { digest: DIGEST, keys: 3 } },
  });
  // The database gives its transaction id instead of a digest: passed on as it came, for the
  // code that compares it (jobs/db/return.ts); any other kind without a digest is refused.
  assert.deepEqual(
    parseQuiesceAnswer({ ...good, data: { ...good.data, db: { installed: true, xid: '812' } } }).data.db,
    { installed: true, xid: '812' },
  );
  assert.throws(
    () => parseQuiesceAnswer({ ...good, data: { ...good.data, spool: { xid: '812' } } }),
    /"data\.spool\.digest" is neither/,
  );
  // Kind-agnostic: another kind's digest comes through; a slave without a readable astdb says null.
  assert.deepEqual(
    parseQuiesceAnswer({
      ...good,
      quiesced: false,
      data: { astdb: { digest: null, problem: 'missing' }, spool: { digest: DIGEST } },
    }).digests,
    { astdb: null, spool: DIGEST },
  );
});
