import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inotifywaitArgv, startInotifywait, type WatcherHandlers } from '../../../src/adapters/inotify-watch';
import { parseEventLine } from '../../../src/domain/spool-events';

function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

function recorder() {
  const seen = { lines: [] as string[], ready: false, exits: [] as string[], overlong: 0 };
  const on: WatcherHandlers = {
    line: (l) => seen.lines.push(l),
    overlong: () => seen.overlong++,
    ready: () => (seen.ready = true),
    exited: (why) => seen.exits.push(why),
  };
  return { seen, on };
}

test('the argv is an array: options, then the roots as given', () => {
  const argv = inotifywaitArgv(['/var/spool/asterisk/voicemail', '/srv/a b']);
  assert.deepEqual(argv.slice(0, 5), [
    '/usr/bin/setpriv',
    '--pdeathsig',
    'KILL',
    '--',
    '/usr/bin/inotifywait',
  ]);
  assert.deepEqual(argv.slice(-2), ['/var/spool/asterisk/voicemail', '/srv/a b']);
  assert.ok(argv.includes('--recursive') && argv.includes('--monitor') && argv.includes('--no-dereference'));
  // Each event ends with a NUL, which no file name can hold (a newline can).
  assert.ok(argv.includes('--no-newline'));
  assert.equal(argv[argv.indexOf('--format') + 1], '%e %w%f%0');
});

test("Debian's inotifywait reports files written, renamed in and deleted, in new subdirectories too", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'inotify-watch-'));
  const root = path.join(dir, 'voicemail');
  mkdirSync(root);
  const { seen, on } = recorder();
  const child = startInotifywait([root], on);
  try {
    await until(() => seen.ready, 'Watches established');
    mkdirSync(path.join(root, 'INBOX'));
    await until(() => seen.lines.some((l) => l.startsWith('CREATE,ISDIR ')), 'the new directory');
    // The watch on the new directory is added when its CREATE is read: give it a moment.
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(path.join(root, 'INBOX', 'tmp-msg'), 'x');
    renameSync(path.join(root, 'INBOX', 'tmp-msg'), path.join(root, 'INBOX', 'msg0000.txt'));
    rmSync(path.join(root, 'INBOX', 'msg0000.txt'));
    writeFileSync(path.join(root, 'a\nQ_OVERFLOW'), 'x');
    await until(() => seen.lines.some((l) => l.startsWith('DELETE ')), 'the deletion');
    await until(
      () => seen.lines.some((l) => l === `CREATE ${root}/a\nQ_OVERFLOW`),
      'the name with a newline, as one event',
    );
    const events = seen.lines.map((l) => parseEventLine(l, [root]));
    assert.ok(
      seen.lines.includes(`CLOSE_WRITE,CLOSE ${root}/INBOX/tmp-msg`) &&
        seen.lines.includes(`MOVED_TO ${root}/INBOX/msg0000.txt`) &&
        seen.lines.includes(`DELETE ${root}/INBOX/msg0000.txt`),
      seen.lines.join('\n'),
    );
    for (const e of events) assert.ok(e.kind === 'change' || e.kind === 'ignored');
    // A name cannot forge an event: no overflow was read, and no record is a name's tail.
    assert.ok(!events.some((e) => e.kind === 'overflow'), seen.lines.join('\n'));
    assert.ok(!seen.lines.includes('Q_OVERFLOW'));
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(seen.exits, [], 'a stop asked for is not reported as a death');
});

test('a watcher that cannot start or that dies is reported with the reason', async () => {
  const missing = recorder();
  const a = startInotifywait(['/nonexistent/spool'], missing.on);
  await until(() => missing.seen.exits.length > 0, 'the exit');
  assert.match(missing.seen.exits[0], /inotifywait exited with code 1: .*\/nonexistent\/spool/);
  await a.stop();
  const absent = recorder();
  const b = startInotifywait(['/tmp'], absent.on, '/nonexistent/inotifywait');
  await until(() => absent.seen.exits.length > 0, 'the failure to start');
  assert.match(
    absent.seen.exits[0],
    /nonexistent\/inotifywait exited with code 127: .*No such file or directory/,
  );
  await b.stop();
});
