import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { IpBatch, SENTINEL, unsafeBatchLine } from '../../../src/adapters/ip-batch';

// A stand-in for `ip -force -batch -` that keeps iproute2's conventions: lines numbered from 1,
// a failed line prints its message then `Command failed -:N` on stderr, an unknown object fails,
// stdout flushed per command. Its commands: `set K` (remember K), `get` (print what was set, as
// one JSON line), `fail MSG`, `slow MS` (take that long), `hang` (never answer), `die` (exit).
const FAKE = `
let n = 0, buf = '', busy = false, queue = [];
const applied = [];
function next() {
  if (busy || !queue.length) return;
  const line = queue.shift(); n++;
  const [cmd, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  if (cmd === 'set') applied.push(arg);
  else if (cmd === 'get') process.stdout.write(JSON.stringify(applied) + '\\n');
  else if (cmd === 'fail') process.stderr.write('Error: ' + arg + '\\nCommand failed -:' + n + '\\n');
  else if (cmd === 'die') process.exit(3);
  else if (cmd === 'hang') { busy = true; return; }
  else if (cmd === 'slow') { busy = true; setTimeout(() => { busy = false; next(); }, Number(arg)); return; }
  else process.stderr.write('Object "' + cmd + '" is unknown, try "ip help".\\nCommand failed -:' + n + '\\n');
  next();
}
process.stdin.setEncoding('utf8').on('data', (d) => {
  buf += d; const lines = buf.split('\\n'); buf = lines.pop();
  queue.push(...lines); next();
});
process.stdin.on('end', () => process.exit(0));
`;

// Closed at the end even when a test timed out with its request pending (the file must exit).
const opened: IpBatch[] = [];
after(() => opened.forEach((b) => b.close()));

function fakeBatch(restarts: string[] = []): IpBatch {
  return track(
    new IpBatch({
      argv: [process.execPath, '-e', FAKE],
      stdoutLinesOf: (l) => (l === 'get' ? 1 : 0),
      onRestart: (why) => restarts.push(why),
    }),
  );
}

function track(b: IpBatch): IpBatch {
  opened.push(b);
  return b;
}

test(
  'ip-batch: requests run in the order given, each answered once its lines ran',
  { timeout: 20_000 },
  async () => {
    const b = fakeBatch();
    try {
      const answers = await Promise.all([
        b.run(['set a', 'set b'], 5000),
        b.run(['set c'], 5000),
        b.run(['get'], 5000),
        b.run(['set d', 'get'], 5000),
      ]);
      assert.deepEqual(answers[0], { stdout: [], failures: [] });
      assert.deepEqual(answers[2].stdout, ['["a","b","c"]']);
      assert.deepEqual(answers[3].stdout, ['["a","b","c","d"]']);
      assert.equal(b.starts, 1, 'one process for all the requests');
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: each failed line is reported with its own message, the others run',
  { timeout: 20_000 },
  async () => {
    const b = fakeBatch();
    try {
      const first = await b.run(['set a', 'fail no such device', 'set b', 'fail bad gateway'], 5000);
      assert.deepEqual(first.failures, [
        { index: 1, message: 'Error: no such device' },
        { index: 3, message: 'Error: bad gateway' },
      ]);
      // Line numbers keep counting across requests: the next request's failure is its own index.
      const second = await b.run(['fail later', 'get'], 5000);
      assert.deepEqual(second.failures, [{ index: 0, message: 'Error: later' }]);
      assert.deepEqual(second.stdout, ['["a","b"]']);
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: a process that dies mid-request fails that request, and a new one serves the next',
  { timeout: 20_000 },
  async () => {
    const restarts: string[] = [];
    const b = fakeBatch(restarts);
    try {
      await b.run(['set a'], 5000);
      const dying = b.run(['set b', 'die', 'set c'], 5000);
      const queued = b.run(['set d', 'get'], 5000);
      await assert.rejects(
        dying,
        /exited \(code 3.*may or may not have been applied: "ip set b", "ip die", "ip set c"/,
      );
      // The new process knows nothing of the old one's state (like the kernel's, it is read anew).
      assert.deepEqual((await queued).stdout, ['["d"]']);
      assert.equal(b.starts, 2);
      assert.equal(restarts.length, 1);
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: a request that takes longer than its timeout fails, the process is replaced',
  { timeout: 20_000 },
  async () => {
    const b = fakeBatch();
    try {
      const started = performance.now();
      await assert.rejects(b.run(['set a', 'hang'], 300), /did not answer within 300 ms.*may or may not/);
      assert.ok(performance.now() - started < 3000);
      assert.deepEqual(
        (await b.run(['get'], 5000)).stdout,
        ['[]'],
        'a fresh process answers the next request',
      );
      assert.equal(b.starts, 2);
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: a request still queued when its time is up fails without being run',
  { timeout: 20_000 },
  async () => {
    const b = fakeBatch();
    try {
      const slow = b.run(['slow 600'], 5000);
      const queued = b.run(['set never'], 200);
      await assert.rejects(queued, /not run within 200 ms/);
      await slow;
      assert.deepEqual((await b.run(['get'], 5000)).stdout, ['[]']);
      assert.equal(b.starts, 1);
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: a program that cannot start fails the request and is tried again at the next one',
  { timeout: 20_000 },
  async () => {
    const b = new IpBatch({ argv: ['/nonexistent/ip', '-batch', '-'] });
    try {
      await assert.rejects(b.run(['set a'], 2000), /could not be started/);
      await assert.rejects(b.run(['set a'], 2000), /could not be started/);
      assert.equal(b.starts, 2);
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: lines the batch parser would split or take as a comment are refused, nothing run',
  { timeout: 20_000 },
  async () => {
    for (const line of [
      '',
      'address add 1.2.3.4/24 dev eth0\nroute flush',
      'a # b',
      'a "b"',
      'help',
      '-json x',
    ])
      assert.ok(unsafeBatchLine(line), JSON.stringify(line));
    assert.equal(unsafeBatchLine('address replace 192.0.2.10/24 dev eth0.12'), null);
    const b = fakeBatch();
    try {
      await assert.rejects(b.run(['set a', 'set b # c'], 5000), /not run/);
      assert.deepEqual((await b.run(['get'], 5000)).stdout, ['[]']);
    } finally {
      b.close();
    }
  },
);

test(
  'ip-batch: with the real iproute2 (read-only commands), failures and output are matched to their lines',
  { timeout: 20_000 },
  async () => {
    const b = new IpBatch({
      argv: ['/usr/sbin/ip', '-json', '-force', '-batch', '-'],
      stdoutLinesOf: (l) => (/^link show/.test(l) ? 1 : 0),
    });
    try {
      const a = await b.run(['link show dev lo', 'link show dev pbxhanosuch0', 'link show dev lo'], 5000);
      assert.equal(a.failures.length, 1);
      assert.equal(a.failures[0].index, 1);
      assert.match(a.failures[0].message, /pbxhanosuch0/);
      assert.equal(a.stdout.length, 2);
      for (const doc of a.stdout) assert.equal((JSON.parse(doc) as { ifname: string }[])[0].ifname, 'lo');
      const again = await b.run([SENTINEL], 5000);
      assert.equal(again.failures[0]?.index, 0, 'the sentinel itself fails like any unknown object');
    } finally {
      b.close();
    }
  },
);
