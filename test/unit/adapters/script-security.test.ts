import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkScript,
  judgeScript,
  walkScriptPath,
  type ScriptEntry,
  type ScriptVerdict,
} from '../../../src/adapters/script-security';
import { Agent, identityFor } from '../../../src/agent/agent';
import { Executor } from '../../../src/agent/executor';
import { GarpScheduler } from '../../../src/agent/garp-scheduler';
import type { PbxHaConfig } from '../../../src/config';
import { scriptProblems } from '../../../src/agent/load-node';
import { formatProblem } from '../../../src/config';
import {
  FakeArp,
  FakeClock,
  FakeLan,
  FakeProber,
  RecordingLogger,
  RecordingRunner,
  flushPromises,
} from '../../fakes';
import { baseAddresses, nodeOf, pairConfig } from '../../fakes/config';
import { prerequisite } from '../../fakes/prerequisites';

const NOBODY = 65534;
const ROOT_DIR = path.join(__dirname, '../../../..');
// Counted as skipped when not root; a failure under CI.
const AS_ROOT = prerequisite(
  'script checks on real files',
  process.getuid?.() !== 0 ? 'needs root (chown)' : null,
).options;

// ---------------------------------------------------------------------------------------------
// The decision alone, on made-up walks.

const dir = (p: string, mode = 0o755, uid = 0): ScriptEntry => ({
  path: p,
  role: 'directory',
  type: 'directory',
  uid,
  mode,
});
const file = (p: string, mode = 0o755, uid = 0, type: ScriptEntry['type'] = 'file'): ScriptEntry => ({
  path: p,
  role: 'file',
  type,
  uid,
  mode,
});
const link = (p: string, uid = 0): ScriptEntry => ({
  path: p,
  role: 'link',
  type: 'symlink',
  uid,
  mode: 0o777,
});
const judge = (...entries: ScriptEntry[]): ScriptVerdict => judgeScript({ ok: true, entries });
const refused = (v: ScriptVerdict, pattern: RegExp): void => {
  assert.equal(v.ok, false, 'should be refused');
  if (!v.ok) assert.match(v.reason, pattern);
};

test('judgeScript: root-owned, root-writable file in root-owned, root-writable directories is accepted', () => {
  assert.deepEqual(judge(dir('/'), dir('/usr'), dir('/usr/sbin'), file('/usr/sbin/x')), { ok: true });
  assert.deepEqual(judge(dir('/'), dir('/etc'), file('/etc/x', 0o700)), { ok: true });
  assert.deepEqual(
    judge(dir('/'), dir('/etc'), file('/etc/x', 0o4755)),
    { ok: true },
    'set-id bits are not write access',
  );
  // Read and execute for the group and others are fine, as is a group that is not root's.
  assert.deepEqual(judge(dir('/'), dir('/opt', 0o2755), file('/opt/x', 0o750)), { ok: true });
});

test('judgeScript: a file not owned by root, or writable by its group or others, is refused', () => {
  refused(judge(dir('/'), file('/x', 0o755, NOBODY)), /^\/x is owned by uid 65534, not root$/);
  refused(judge(dir('/'), file('/x', 0o775)), /^\/x is writable by its group \(mode 0775\)$/);
  refused(judge(dir('/'), file('/x', 0o757)), /^\/x is writable by others \(mode 0757\)$/);
  refused(judge(dir('/'), file('/x', 0o777)), /writable by its group and others \(mode 0777\)/);
  // Sticky means nothing on a file.
  refused(judge(dir('/'), file('/x', 0o1777)), /writable by its group and others/);
});

test('judgeScript: not executable, a directory, a device or no file at all is refused', () => {
  refused(judge(dir('/'), file('/x', 0o644)), /^\/x is not executable \(mode 0644\)$/);
  refused(judge(dir('/'), file('/x', 0o755, 0, 'directory')), /^\/x is a directory$/);
  refused(judge(dir('/'), file('/x', 0o755, 0, 'other')), /^\/x is not a regular file$/);
  refused(judge(dir('/')), /no file/);
  refused(judgeScript({ ok: false, reason: '/x does not exist' }), /^\/x does not exist$/);
});

test('judgeScript: every directory above must be root-owned and writable by root alone, unless root-owned and sticky', () => {
  refused(
    judge(dir('/'), dir('/srv', 0o775), file('/srv/x')),
    /^directory \/srv is writable by its group \(mode 0775\)$/,
  );
  refused(judge(dir('/'), dir('/srv', 0o757), file('/srv/x')), /^directory \/srv is writable by others/);
  refused(
    judge(dir('/'), dir('/srv', 0o755, NOBODY), file('/srv/x')),
    /^directory \/srv is owned by uid 65534, not root$/,
  );
  refused(judge(dir('/', 0o777), dir('/srv'), file('/srv/x')), /^directory \/ is writable/);
  // /tmp: others can add entries, but not rename or delete root's.
  assert.deepEqual(judge(dir('/'), dir('/tmp', 0o1777), file('/tmp/x')), { ok: true });
  // A sticky directory that is not root's: its owner can delete anything in it.
  refused(judge(dir('/'), dir('/home/u/tmp', 0o1777, NOBODY), file('/home/u/tmp/x')), /owned by uid 65534/);
  // Sticky does not excuse the file itself.
  refused(
    judge(dir('/'), dir('/tmp', 0o1777), file('/tmp/x', 0o755, NOBODY)),
    /^\/tmp\/x is owned by uid 65534/,
  );
});

test('judgeScript: a symbolic link on the way must be root-owned', () => {
  assert.deepEqual(judge(dir('/'), dir('/etc'), link('/etc/x'), dir('/usr'), file('/usr/x')), { ok: true });
  refused(
    judge(dir('/'), dir('/tmp', 0o1777), link('/tmp/x', NOBODY), dir('/usr'), file('/usr/x')),
    /^symbolic link \/tmp\/x is owned by uid 65534, not root$/,
  );
});

// ---------------------------------------------------------------------------------------------
// The real file system: temporary files and directories with various owners and modes.

function tree(): {
  base: string;
  script: (rel: string, mode?: number, content?: string) => string;
  dir: (rel: string, mode?: number) => string;
  done: () => void;
} {
  // mkdtemp: 0700, root's, in /tmp (root's, sticky): a secure place to start from.
  const base = mkdtempSync(path.join(tmpdir(), 'pbx-ha-script-'));
  return {
    base,
    script: (rel, mode = 0o755, content = '#!/bin/sh\nexit 0\n') => {
      const p = path.join(base, rel);
      mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
      writeFileSync(p, content);
      chmodSync(p, mode);
      return p;
    },
    dir: (rel, mode = 0o755) => {
      const p = path.join(base, rel);
      mkdirSync(p, { recursive: true });
      chmodSync(p, mode);
      return p;
    },
    done: () => rmSync(base, { recursive: true, force: true }),
  };
}

test('checkScript: secure and insecure files, directories and links on disk', AS_ROOT, () => {
  const t = tree();
  try {
    assert.equal(statSync(tmpdir()).uid, 0, 'the test needs a root-owned temporary directory');
    const good = t.script('bin/good');
    assert.deepEqual(checkScript(good), { ok: true });

    const notRoots = t.script('bin/not-roots');
    chownSync(notRoots, NOBODY, NOBODY);
    refused(checkScript(notRoots), new RegExp(`^${notRoots} is owned by uid 65534, not root$`));

    refused(checkScript(t.script('bin/group-writable', 0o775)), /is writable by its group \(mode 0775\)$/);
    refused(checkScript(t.script('bin/world-writable', 0o757)), /is writable by others/);
    refused(checkScript(t.script('bin/not-executable', 0o644)), /is not executable \(mode 0644\)$/);
    refused(checkScript(path.join(t.base, 'bin/missing')), /bin\/missing does not exist$/);
    refused(checkScript(t.dir('bin/a-directory')), /a-directory is a directory$/);
    refused(checkScript(`${good}/below`), new RegExp(`^${good} is not a directory$`));
    refused(checkScript('relative/script'), /is not an absolute path$/);
    const fifo = path.join(t.base, 'bin/fifo');
    execFileSync('mkfifo', ['-m', '0755', fifo]);
    refused(checkScript(fifo), /fifo is not a regular file$/);

    // A group-writable directory above the script, one owned by somebody else, one writable by all.
    t.dir('shared', 0o775);
    const inShared = t.script('shared/script');
    chmodSync(path.join(t.base, 'shared'), 0o775);
    refused(
      checkScript(inShared),
      new RegExp(`^directory ${t.base}/shared is writable by its group \\(mode 0775\\)$`),
    );
    const owned = t.dir('owned');
    const inOwned = t.script('owned/sub/script');
    chownSync(owned, NOBODY, NOBODY);
    refused(checkScript(inOwned), new RegExp(`^directory ${owned} is owned by uid 65534, not root$`));
    // Deeper down is no better: the insecure directory is found wherever it is.
    t.dir('deep/a/b/c');
    const deep = t.script('deep/a/b/c/script');
    chmodSync(path.join(t.base, 'deep/a'), 0o777);
    refused(checkScript(deep), /directory .*\/deep\/a is writable by its group and others \(mode 0777\)$/);

    // A root-owned sticky directory (as /tmp) is fine; one owned by somebody else is not.
    t.dir('sticky', 0o1777);
    assert.deepEqual(checkScript(t.script('sticky/script')), { ok: true });
    t.dir('sticky-not-roots', 0o1777);
    const inStickyNotRoots = t.script('sticky-not-roots/script');
    chownSync(path.join(t.base, 'sticky-not-roots'), NOBODY, NOBODY);
    refused(checkScript(inStickyNotRoots), /sticky-not-roots is owned by uid 65534/);
  } finally {
    t.done();
  }
});

test(
  'checkScript: symbolic links are followed one by one, and each place they go through is checked',
  AS_ROOT,
  () => {
    const t = tree();
    try {
      const good = t.script('bin/good');
      const secureLink = path.join(t.base, 'bin/link');
      symlinkSync(good, secureLink);
      assert.deepEqual(checkScript(secureLink), { ok: true });
      const relative = path.join(t.base, 'bin/relative');
      symlinkSync('../bin/./good', relative);
      assert.deepEqual(checkScript(relative), { ok: true });

      // A secure link to an insecure target: the target decides.
      const bad = t.script('bin/bad');
      chownSync(bad, NOBODY, NOBODY);
      const toBad = path.join(t.base, 'bin/to-bad');
      symlinkSync(bad, toBad);
      refused(checkScript(toBad), new RegExp(`^${bad} is owned by uid 65534, not root$`));

      // A secure target in a group-writable directory.
      t.dir('open', 0o775);
      const inOpen = t.script('open/script');
      chmodSync(path.join(t.base, 'open'), 0o775);
      const toOpen = path.join(t.base, 'bin/to-open');
      symlinkSync(inOpen, toOpen);
      refused(checkScript(toOpen), /^directory .*\/open is writable by its group/);

      // The link itself in a directory others can write (they could point it elsewhere), though its
      // target is secure: realpath alone would not see it.
      const linkInOpen = path.join(t.base, 'open/to-good');
      symlinkSync(good, linkInOpen);
      refused(checkScript(linkInOpen), /^directory .*\/open is writable by its group/);

      // A link owned by somebody else (in a root-owned sticky directory its owner could replace it).
      t.dir('sticky', 0o1777);
      const nobodysLink = path.join(t.base, 'sticky/link');
      symlinkSync(good, nobodysLink);
      lchownSync(nobodysLink, NOBODY, NOBODY);
      refused(checkScript(nobodysLink), /^symbolic link .*\/sticky\/link is owned by uid 65534, not root$/);

      // A link to a link in an insecure place, to a secure file: the middle one's directory counts.
      const middle = path.join(t.base, 'open/middle');
      symlinkSync(good, middle);
      const toMiddle = path.join(t.base, 'bin/to-middle');
      symlinkSync(middle, toMiddle);
      refused(checkScript(toMiddle), /^directory .*\/open is writable by its group/);

      // A directory on the way that is a link to an insecure directory.
      const dirLink = path.join(t.base, 'dirlink');
      symlinkSync(path.join(t.base, 'open'), dirLink);
      refused(checkScript(path.join(dirLink, 'script')), /^directory .*\/open is writable by its group/);

      // Loops end.
      const loopA = path.join(t.base, 'bin/loop-a');
      const loopB = path.join(t.base, 'bin/loop-b');
      symlinkSync(loopB, loopA);
      symlinkSync(loopA, loopB);
      refused(checkScript(loopA), /too many symbolic links/);
      // A dangling link.
      const dangling = path.join(t.base, 'bin/dangling');
      symlinkSync(path.join(t.base, 'nowhere'), dangling);
      refused(checkScript(dangling), /nowhere does not exist$/);
    } finally {
      t.done();
    }
  },
);

test(
  'walkScriptPath: records each directory, link and the file, in the order the kernel goes through them',
  AS_ROOT,
  () => {
    const t = tree();
    try {
      const good = t.script('bin/good');
      const viaLink = path.join(t.base, 'link');
      symlinkSync('bin', viaLink);
      const walk = walkScriptPath(path.join(viaLink, 'good'));
      assert.ok(walk.ok);
      if (!walk.ok) return;
      const roles = walk.entries.map((e) => `${e.role} ${e.path}`);
      assert.equal(roles[0], 'directory /');
      assert.ok(roles.includes(`link ${viaLink}`), roles.join('\n'));
      assert.ok(roles.includes(`directory ${path.join(t.base, 'bin')}`), roles.join('\n'));
      assert.equal(roles[roles.length - 1], `file ${good}`);
    } finally {
      t.done();
    }
  },
);

test(
  'the lab scripts from this checkout pass, when the checkout is root-owned and not group- or other-writable',
  AS_ROOT,
  (t) => {
    const repo = walkScriptPath(path.join(ROOT_DIR, 'package.json'));
    const repoSecure =
      repo.ok &&
      repo.entries
        .filter((e) => e.role !== 'file')
        .every((e) => judgeScript({ ok: true, entries: [e, file('/x')] }).ok);
    if (!repoSecure) {
      t.skip(`the checkout ${ROOT_DIR} is not root-owned and root-writable all the way up`);
      return;
    }
    for (const script of ['scripts/lab-fake-service', 'test/fixtures/bin/fail-if-exists']) {
      assert.deepEqual(checkScript(path.join(ROOT_DIR, script)), { ok: true }, script);
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Where the checks are used: check-config and agent start (scriptProblems), the executor.

function configWith(programs: {
  start?: string;
  stop?: string;
  notify?: string;
  check?: string;
}): PbxHaConfig {
  const base = pairConfig();
  const cmd = (p: string | undefined) => (p === undefined ? null : { argv: [p, 'arg'], timeoutMs: 1000 });
  return {
    ...base,
    file: '/etc/pbx-ha/pbx-ha.conf',
    services: { start: cmd(programs.start), stop: cmd(programs.stop) },
    notify: { script: cmd(programs.notify) },
    checks:
      programs.check === undefined
        ? []
        : [
            {
              name: 'asterisk',
              command: [programs.check, '-rx', 'core show uptime'],
              intervalMs: 5000,
              timeoutMs: 3000,
              rise: 2,
              fall: 3,
            },
          ],
  };
}

test(
  'check-config and agent start: an insecure program is a problem naming its section, key and value',
  AS_ROOT,
  () => {
    const t = tree();
    try {
      const good = t.script('bin/good');
      const bad = t.script('bin/bad', 0o777);
      const missing = path.join(t.base, 'bin/missing');
      assert.deepEqual(
        scriptProblems(configWith({ start: good, stop: good, notify: good, check: good }), checkScript),
        [],
      );
      const problems = scriptProblems(
        configWith({ start: bad, stop: good, notify: missing, check: bad }),
        checkScript,
      );
      assert.deepEqual(
        problems.map((p) => `${p.section} ${p.key} ${p.value}`),
        [`services start ${bad}`, `notify script ${missing}`, `track.asterisk command ${bad}`],
      );
      for (const p of problems) {
        assert.ok(p.expected.length > 0);
        assert.match(
          formatProblem(p),
          /^\/etc\/pbx-ha\/pbx-ha\.conf: \[[a-z.]+\] [a-z]+ = "[^"]+": not run as root: .+; expected an executable file owned by root/,
        );
      }
      assert.match(problems[0].problem ?? '', /is writable by its group and others \(mode 0777\)/);
      assert.match(problems[1].problem ?? '', /does not exist/);
    } finally {
      t.done();
    }
  },
);

test('executor: an insecure program is never run, and is alerted once, not at every attempt', async () => {
  const programs = { start: '/srv/insecure/start', stop: '/usr/sbin/stop', notify: '/usr/sbin/notify' };
  const config = configWith(programs);
  const clock = new FakeClock(0);
  const lan = new FakeLan(clock);
  const net = lan.addNode('pbx2', baseAddresses(config, 'pbx2'));
  const log = new RecordingLogger();
  const runner = new RecordingRunner(clock);
  const alerts: string[] = [];
  const verdicts = new Map<string, ScriptVerdict>([
    [programs.start, { ok: false, reason: 'directory /srv/insecure is writable by its group (mode 0775)' }],
  ]);
  const executor = new Executor({
    net,
    garp: new GarpScheduler(
      new FakeArp(lan, 'pbx2'),
      clock,
      log,
      () => config,
      () => true,
    ),
    run: runner.run,
    log,
    config: () => config,
    identity: () => ({ node: 'pbx2', role: 'slave' }),
    state: () => 'active',
    onAlert: (m) => alerts.push(m),
    checkScript: (p) => verdicts.get(p) ?? { ok: true },
  });
  for (let i = 0; i < 5; i++) await executor.servicesNow('start');
  await flushPromises();
  const ran = () => runner.calls.map((c) => c.argv[0]);
  assert.ok(!ran().includes(programs.start), 'the insecure start was run');
  assert.equal(alerts.length, 1, alerts.join('\n'));
  assert.match(
    alerts[0],
    /^services start: \/srv\/insecure\/start is not run as root: directory \/srv\/insecure is writable by its group \(mode 0775\)/,
  );
  // The alert went to the notify script (which is fine), once.
  assert.equal(ran().filter((p) => p === programs.notify).length, 1);
  assert.equal(log.matching(/is not run as root/, 'warn').length >= 5, true);

  // Fixed: it runs again; broken again: one new alert.
  verdicts.delete(programs.start);
  await executor.servicesNow('start');
  assert.ok(ran().includes(programs.start));
  verdicts.set(programs.start, { ok: false, reason: '/srv/insecure/start is owned by uid 65534, not root' });
  await executor.servicesNow('start');
  await executor.servicesNow('start');
  assert.equal(alerts.length, 2);

  // An insecure notify script: alerted once, never run, and its alert does not try to run it.
  verdicts.set(programs.notify, { ok: false, reason: '/usr/sbin/notify is writable by others (mode 0757)' });
  const notifyRuns = ran().filter((p) => p === programs.notify).length;
  for (let i = 0; i < 3; i++) await executor.run([{ kind: 'notify', event: 'transition', state: 'active' }]);
  await flushPromises();
  assert.equal(ran().filter((p) => p === programs.notify).length, notifyRuns);
  assert.equal(alerts.length, 3);
  assert.match(alerts[2], /^notify script: \/usr\/sbin\/notify is not run as root/);

  // A tracked check through the executor: refused (a failed check), not run, no new alert for the same reason.
  const check = ['/srv/insecure/check', '-x'];
  verdicts.set(check[0], {
    ok: false,
    reason: 'directory /srv/insecure is writable by its group (mode 0775)',
  });
  for (let i = 0; i < 3; i++)
    await assert.rejects(
      executor.runConfigured(check, { timeoutMs: 1000 }, 'tracked check asterisk'),
      /tracked check asterisk: \/srv\/insecure\/check is not run as root/,
    );
  assert.ok(!ran().includes(check[0]));
  assert.equal(alerts.length, 4);
});

test('agent: an insecure tracked check is never run; it counts as failed, the serving node goes to fault, one alert', async () => {
  const config = pairConfig({
    'track.asterisk': {
      command: '/srv/insecure/check -rx uptime',
      interval: '1s',
      timeout: '500ms',
      fall: '2',
      rise: '1',
    },
  });
  const clock = new FakeClock(0);
  const lan = new FakeLan(clock);
  for (const n of config.nodes) lan.addNode(n.name, baseAddresses(config, n.name));
  lan.setAlive('pbx2', false);
  const log = new RecordingLogger();
  const runner = new RecordingRunner(clock);
  const alerts: string[] = [];
  const agent = new Agent(config, identityFor(config, nodeOf(config, 'pbx1')), {
    clock,
    log,
    net: lan.net('pbx1'),
    prober: new FakeProber(lan, 'pbx1'),
    arp: new FakeArp(lan, 'pbx1'),
    run: runner.run,
    history: { add: (e) => void (e.kind === 'alert' && alerts.push(e.summary)) },
    checkScript: (p) =>
      p === '/srv/insecure/check'
        ? { ok: false, reason: 'directory /srv/insecure is writable by its group (mode 0775)' }
        : { ok: true },
  });
  await agent.start();
  await clock.advanceUntil(() => agent.status().state === 'active', 30_000, 100);
  assert.equal(agent.status().state, 'active');
  await clock.advanceUntil(() => agent.status().state === 'fault', 30_000, 100);
  assert.equal(agent.status().state, 'fault');
  await clock.advance(10_000);
  assert.equal(runner.callsOf(['/srv/insecure/check']).length, 0, 'the insecure check was run');
  const refusals = alerts.filter((a) =>
    /tracked check asterisk: \/srv\/insecure\/check is not run as root: directory \/srv\/insecure is writable/.test(
      a,
    ),
  );
  assert.equal(refusals.length, 1, alerts.join('\n'));
  await agent.stop(true);
});
