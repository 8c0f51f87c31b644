// The real command line (node dist/src/cli/main.js, argv arrays, no shell) misused: unknown
// commands and options, missing and bad values, --config pointing at a missing file, a directory or
// a binary file. Each must end with a clear message on stderr, the documented exit code (64 usage,
// 78 configuration, 1 otherwise: src/cli/usage.ts) and never a stack trace.
//
// No agent is started: every configuration used here points the control socket and the state
// directory into a temporary directory, so nothing on the machine is touched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Prng } from './prng';

const MAIN = path.join(__dirname, '../../../src/cli/main.js');
const ROOT = path.join(__dirname, '../../../..');
const EXIT_USAGE = 64;
const EXIT_CONFIG = 78;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(argv: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...argv],
      { timeout: 30_000, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code =
          error === null
            ? 0
            : typeof (error as NodeJS.ErrnoException & { code?: unknown }).code === 'number'
              ? (error as unknown as { code: number }).code
              : null;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** A stack trace line as Node prints it: "    at fn (file:line:col)". */
const STACK = /^\s+at\s/m;

interface Case {
  argv: string[];
  code: number;
  /** What stderr must say. */
  says: RegExp;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

async function runAll(cases: Case[]): Promise<void> {
  const failures: string[] = [];
  const results = await Promise.all(cases.map((c) => cli(c.argv, { input: c.input, env: c.env })));
  cases.forEach((c, i) => {
    const r = results[i];
    const name = `pbx-ha ${c.argv.map((a) => (a.length > 60 ? `${a.slice(0, 60)}…` : a)).join(' ')}`;
    const problems: string[] = [];
    if (r.code !== c.code) problems.push(`exit ${r.code}, expected ${c.code}`);
    if (r.stderr.trim() === '') problems.push('nothing on stderr');
    if (!c.says.test(r.stderr)) problems.push(`stderr does not match ${c.says}`);
    if (STACK.test(r.stderr) || STACK.test(r.stdout)) problems.push('a stack trace');
    if (/\b(?:TypeError|ReferenceError|RangeError|SyntaxError)\b/.test(r.stderr))
      problems.push('a JavaScript error name');
    if (problems.length > 0)
      failures.push(
        `${name}: ${problems.join('; ')}\n    stderr: ${r.stderr.slice(0, 600).replace(/\n/g, '\n    ')}`,
      );
  });
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} command lines misbehaved`);
}

let dir = '';
let good = '';
let missing = '';
let binary = '';
let invalid = '';
let corruptHistory = '';

test.before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-cli-'));
  const minimal = readFileSync(path.join(ROOT, 'test/unit/config/fixtures/minimal.conf'), 'utf8');
  const agent = (name: string) =>
    `\n[agent]\nsocket = ${dir}/${name}.sock\nstate_dir = ${dir}/${name}-state\n`;
  good = path.join(dir, 'good.conf');
  writeFileSync(good, minimal + agent('good'));
  corruptHistory = path.join(dir, 'corrupt-history.conf');
  writeFileSync(corruptHistory, minimal + agent('corrupt'));
  mkdirSync(path.join(dir, 'corrupt-state'));
  writeFileSync(path.join(dir, 'corrupt-state', 'state.db'), 'this is not an SQLite database\n');
  missing = path.join(dir, 'missing.conf');
  binary = path.join(dir, 'binary.conf');
  writeFileSync(binary, new Prng(0x5eed0003).bytes(4096));
  invalid = path.join(dir, 'invalid.conf');
  writeFileSync(invalid, '[cluster]\nmaster = pbx1\n');
});

test.after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('cli: usage mistakes exit with 64 and say what is wrong', async () => {
  const usage: [string[], RegExp][] = [
    [[], /usage: pbx-ha COMMAND/],
    [['bogus'], /unknown command "bogus"/],
    [['--bogus'], /unknown command "--bogus"/],
    [['STATUS'], /unknown command "STATUS"/],
    [[''], /unknown command ""/],
    [['status', '--bogus'], /Unknown option '--bogus'/],
    [['status', '-x'], /Unknown option '-x'/],
    [['status', '--json=yes'], /--json' does not take an argument/],
    [['status', 'extra'], /Unexpected argument 'extra'/],
    [['check-config', '--config'], /--config <value>' argument missing/],
    [['check-config', '--node'], /--node <value>' argument missing/],
    [['check-config', '--config', '--node', 'x'], /Option '--config' argument is ambiguous/],
    [['agent', '--bogus'], /Unknown option '--bogus'/],
    [['agent', 'now'], /Unexpected argument 'now'/],
    [['history', '--limit', 'abc'], /--limit expects a whole number from 1 to 100000, got "abc"/],
    [['history', '--limit', '0'], /--limit expects a whole number/],
    [['history', '--limit=-5'], /--limit expects a whole number/],
    [['history', '--limit', '1.5'], /--limit expects a whole number/],
    [['history', '--limit', '1e3'], /--limit expects a whole number/],
    [['history', '--limit', '0x10'], /--limit expects a whole number/],
    [['history', '--limit', ' 7 '], /--limit expects a whole number/],
    [['history', '--limit', ''], /--limit expects a whole number/],
    [['history', '--limit', '9'.repeat(400)], /--limit expects a whole number/],
    [['history', '--limit'], /--limit <value>' argument missing/],
    [['sync', 'bogus'], /expected files, db, astdb or all, got "bogus"/],
    [['sync', 'FILES'], /expected files, db, astdb or all/],
    [['sync', 'files', 'db'], /Unexpected argument 'db'/],
    [['sync', '--now=1'], /does not take an argument/],
    [['ifup'], /expected an interface name/],
    [['ifup', '--config', 'x'], /expected an interface name/],
    [['ifup', '../../etc'], /expected an interface name, got "..\/..\/etc"/],
    [['ifup', 'a'.repeat(16)], /expected an interface name/],
    [['ifup', 'eth0', 'eth1'], /Unexpected argument 'eth1'/],
    [['failover', '--to'], /--to <value>' argument missing/],
    [['failover', 'pbx2'], /Unexpected argument 'pbx2'/],
    [['failback', '--to', 'pbx1'], /Unknown option '--to'/],
    [['keep-vips-on-stop', '--now'], /Unknown option '--now'/],
    [['pair', '--fingerprint'], /--fingerprint <value>' argument missing/],
    [
      ['pair', '--fingerprint', 'bogus', '--config', '/nonexistent/pbx-ha.conf'],
      /--fingerprint expects.*SHA256:/,
    ],
    [
      ['pair', '--fingerprint', 'SHA256:short', '--config', '/nonexistent/pbx-ha.conf'],
      /--fingerprint expects/,
    ],
    [['pair', '--bogus'], /Unknown option '--bogus'/],
    [['peer-command', '--bogus'], /Unknown option '--bogus'/],
    [['accept-peer-key', '--yes'], /Unknown option '--yes'/],
  ];
  await runAll(usage.map(([argv, says]) => ({ argv, code: EXIT_USAGE, says })));
});

test('cli: a --config that is missing, a directory, binary or invalid exits with 78 and names the file', async () => {
  const commands: string[][] = [
    ['check-config'],
    ['agent'],
    ['status'],
    ['status', '--json'],
    ['history'],
    ['sync', 'files'],
    ['sync'],
    ['failover'],
    ['failback'],
    ['keep-vips-on-stop'],
    ['pair', '--yes'],
    ['peer-command'],
  ];
  const files: [string, RegExp][] = [
    [missing, /cannot read the file \(ENOENT/],
    [dir, /not a regular file \(a directory\)/],
    [binary, /:\d+: invalid UTF-8; expected a UTF-8 text file/],
    [invalid, /missing/],
  ];
  const cases: Case[] = [];
  for (const argv of commands) {
    for (const [file, says] of files) {
      const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      cases.push({
        argv: [...argv, '--config', file],
        code: EXIT_CONFIG,
        says: new RegExp(`${escaped}.*(?:${says.source})`),
        env: { SSH_ORIGINAL_COMMAND: 'pbx-ha control' },
      });
    }
  }
  await runAll(cases);
});

test('cli: other failures exit with 1 and say why', async () => {
  await runAll([
    { argv: ['sync', 'astdb', '--config', good], code: 1, says: /agent is not running/ },
    { argv: ['failover', '--to', 'x'.repeat(5000), '--config', good], code: 1, says: /agent is not running/ },
    { argv: ['failback', '--force', '--config', good], code: 1, says: /agent is not running/ },
    { argv: ['history', '--config', good], code: 1, says: /no history yet/ },
    { argv: ['history', '--config', corruptHistory], code: 1, says: /corrupt-state\/state\.db/ },
    // The forced command of pbx-ha's key refuses anything but its two requests.
    {
      argv: ['peer-command', '--config', good],
      code: 1,
      says: /refused: ""/,
      env: { SSH_ORIGINAL_COMMAND: '' },
    },
    {
      argv: ['peer-command', '--config', good],
      code: 1,
      says: /refused: "rm -rf \/"/,
      env: { SSH_ORIGINAL_COMMAND: 'rm -rf /' },
    },
    {
      argv: ['peer-command', '--config', good],
      code: 1,
      says: /refused/,
      env: { SSH_ORIGINAL_COMMAND: 'pbx-ha control; sh' },
    },
    {
      argv: ['peer-command', '--config', good],
      code: 1,
      says: /refused/,
      env: { SSH_ORIGINAL_COMMAND: 'rsync --serverx' },
    },
    // HOME in the temporary directory: a wrongly accepted key must not reach root's authorized_keys.
    {
      argv: ['accept-peer-key'],
      code: 1,
      says: /expected one OpenSSH public key line/,
      env: { HOME: dir },
      input: '',
    },
    {
      argv: ['accept-peer-key'],
      code: 1,
      says: /expected one OpenSSH public key line/,
      env: { HOME: dir },
      input: new Prng(0x5eed0004).bytes(10_000).toString('latin1'),
    },
    {
      argv: ['accept-peer-key'],
      code: 1,
      says: /expected one OpenSSH public key line/,
      env: { HOME: dir },
      input: 'ssh-ed25519 AAAA a\nssh-rsa BBBB b\n',
    },
    {
      argv: ['accept-peer-key'],
      code: 1,
      says: /expected one OpenSSH public key line/,
      env: { HOME: dir },
      input: 'command="sh" ssh-ed25519 AAAA',
    },
  ]);
});

test('cli: status without a running agent exits with 3 (LSB: not running) and says so in one line', async () => {
  const socket = `${dir}/good.sock`;
  for (const argv of [
    ['status', '--config', good],
    ['status', '--json', '--config', good],
  ]) {
    const r = await cli(argv);
    assert.equal(r.code, 3, `${argv.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `pbx-ha status: the pbx-ha agent is not running (no socket at ${socket})\n`);
    assert.equal(r.stdout, '');
  }
});

test('cli: the ifupdown hook never fails the network start-up, even with a bad --config', async () => {
  for (const file of [missing, dir, binary, good]) {
    const r = await cli(['ifup', 'eth0', '--config', file]);
    assert.equal(r.code, 0, `ifup --config ${file}: ${r.stderr}`);
    assert.match(r.stderr, /pbx-ha ifup eth0: /);
    assert.doesNotMatch(r.stderr, STACK);
  }
});

test('cli: help goes to stdout and exits 0', async () => {
  for (const argv of [['help'], ['--help'], ['-h']]) {
    const r = await cli(argv);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: pbx-ha COMMAND/);
    assert.equal(r.stderr, '');
  }
});
