// The command line's manners as a Debian system tool: --version, COMMAND --help for every command,
// internal commands kept out of the "unknown command" list, and pbx-ha(8) naming exactly the
// commands and options the command line accepts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMAND_HELP, INTERNAL_COMMANDS, PUBLIC_COMMANDS } from '../../../src/cli/help';

const MAIN = path.join(__dirname, '../../../src/cli/main.js');
const ROOT = path.join(__dirname, '../../../..');

function cli(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...argv], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code =
        error === null
          ? 0
          : typeof (error as { code?: unknown }).code === 'number'
            ? (error as unknown as { code: number }).code
            : null;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

test('--version and -V print the version of package.json and the Node.js that runs it', async () => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `pbx-ha ${version} (Node.js ${process.version}, ABI ${process.versions.modules})\n`,
    );
    assert.equal(r.stderr, '');
  }
});

test('every command answers --help and -h on stdout with its usage, exit 0, and runs nothing', async () => {
  const commands = [...PUBLIC_COMMANDS.filter((c) => c !== 'help'), ...INTERNAL_COMMANDS];
  assert.deepEqual(
    Object.keys(COMMAND_HELP).sort(),
    [...commands, 'help'].sort(),
    'a help text for each command, no more',
  );
  for (const command of commands) {
    // Other options around --help do not matter (a --config that does not exist is not read).
    for (const argv of [
      [command, '--help'],
      [command, '-h'],
      [command, '--config', '/nonexistent/pbx-ha.conf', '--help'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, `${argv.join(' ')}: exit ${r.code}, ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`usage: pbx-ha ${command}`), `${argv.join(' ')}: ${r.stdout}`);
      assert.equal(r.stderr, '', argv.join(' '));
    }
  }
});

test('the "unknown command" message offers the public commands only', async () => {
  const r = await cli(['bogus']);
  assert.equal(r.code, 64);
  const list = /unknown command "bogus"; commands: (.*)\n/.exec(r.stderr)?.[1];
  assert.equal(list, PUBLIC_COMMANDS.join(', '));
  for (const internal of INTERNAL_COMMANDS) assert.doesNotMatch(r.stderr, new RegExp(internal));
});

/** pbx-ha(8)'s SYNOPSIS: each `.B pbx-ha COMMAND` with the long options up to the next `.br`. */
function manSynopsis(): Map<string, string[]> {
  const page = readFileSync(path.join(ROOT, 'man/pbx-ha.8'), 'utf8');
  const synopsis = page.slice(page.indexOf('.SH SYNOPSIS'), page.indexOf('.SH DESCRIPTION'));
  const result = new Map<string, string[]>();
  for (const block of synopsis.split(/^\.br$/m)) {
    const command = /^\.B pbx-ha (\S+)/m.exec(block)?.[1];
    if (command === undefined) continue;
    result.set(command, [...block.matchAll(/\\-\\-([a-z-]+)/g)].map((m) => `--${m[1]}`).sort());
  }
  return result;
}

test('pbx-ha(8) names the commands the command line offers, each with the options its --help names', () => {
  const man = manSynopsis();
  assert.deepEqual([...man.keys()].sort(), [...PUBLIC_COMMANDS].sort());
  for (const command of PUBLIC_COMMANDS) {
    const usageLine = COMMAND_HELP[command].split('\n')[0];
    const options = [...usageLine.matchAll(/--([a-z-]+)/g)].map((m) => `--${m[1]}`).sort();
    assert.deepEqual(man.get(command), options, `pbx-ha ${command}: pbx-ha(8) against "${usageLine}"`);
  }
});

test('each option a --help names is accepted by the command (no "Unknown option")', async () => {
  for (const command of [...PUBLIC_COMMANDS, ...INTERNAL_COMMANDS]) {
    const usageLine = COMMAND_HELP[command].split('\n')[0];
    for (const m of usageLine.matchAll(/--([a-z-]+)/g)) {
      // A missing value or a refused run is fine here; the option itself must be known.
      const r = await cli([command, `--${m[1]}`, '--config', '/nonexistent/pbx-ha.conf']);
      assert.doesNotMatch(r.stderr, /Unknown option/, `pbx-ha ${command} --${m[1]}: ${r.stderr}`);
    }
  }
});
