// The exchange area as the peer can leave it (issue: "plant symbolic links", "install setuid
// files", "readable secrets", "backups grow without end"): the receiving node's root processes
// never follow a link they did not make, never install devices, FIFOs or setuid bits, keep what
// they replace root-only, and keep `keep` files backups. Real rsync (the one installed, as the
// package depends on), real files; needs root (owners, a device node, another user).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { installFiles } from '../../../src/jobs/files';
import {
  copyStagedFile,
  exchangeSubdir,
  publishOutgoing,
  StagedPathError,
} from '../../../src/jobs/staged-tree';

const asRoot = process.getuid?.() === 0;
if (!asRoot && process.env.CI)
  test('root is available for the staging area tests', () =>
    assert.fail('these tests need root (CI is set: a failure, not a skip)'));

let root = '';
before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'pbx-ha-staged-'));
  chmodSync(root, 0o755); // nobody must reach what is not protected by the tree itself
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A slave: its configured path, the exchange area with the staged copy of it, a secret elsewhere. */
function slave(name: string) {
  const base = path.join(root, name);
  const target = path.join(base, 'etc/asterisk');
  const exchange = path.join(base, 'exchange');
  const staging = path.join(exchange, 'incoming/files');
  const staged = path.join(staging, target);
  const backupRoot = path.join(base, 'backup/files');
  const secret = path.join(base, 'root-ssh');
  for (const d of [target, staged, secret]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(secret, 'authorized_keys'), 'ssh-ed25519 AAAA-secret root@slave\n');
  writeFileSync(path.join(target, 'sip.conf'), 'slave\n');
  return { base, target, exchange, staging, staged, backupRoot, secret };
}

const install = (s: ReturnType<typeof slave>, keep = 5) =>
  installFiles(s.staging, [s.target], s.backupRoot, 60_000, keep);

test(
  'a link planted at a configured path is refused: the linked directory is not copied over the path',
  { skip: !asRoot },
  async () => {
    const s = slave('link-at-path');
    rmSync(s.staged, { recursive: true });
    symlinkSync(s.secret, s.staged);
    await assert.rejects(
      install(s),
      (e: unknown) => e instanceof StagedPathError && /is a symbolic link: refused/.test(e.message),
    );
    assert.deepEqual(readdirSync(s.target), ['sip.conf'], 'nothing of the linked directory was installed');
  },
);

test('a link planted above a configured path is refused too', { skip: !asRoot }, async () => {
  const s = slave('link-above');
  const etc = path.dirname(s.staged);
  rmSync(etc, { recursive: true });
  mkdirSync(path.join(s.secret, 'asterisk'));
  writeFileSync(path.join(s.secret, 'asterisk', 'planted.conf'), 'x\n');
  symlinkSync(s.secret, etc);
  await assert.rejects(install(s), /is a symbolic link: refused/);
  assert.deepEqual(readdirSync(s.target), ['sip.conf']);
});

test(
  'links inside the tree (stored munged by rrsync) are installed as the master had them, never followed',
  { skip: !asRoot },
  async () => {
    const s = slave('links-inside');
    writeFileSync(path.join(s.staged, 'sip.conf'), 'master\n');
    symlinkSync(`/rsyncd-munged/${s.secret}`, path.join(s.staged, 'keys'));
    symlinkSync('/rsyncd-munged/sip.conf', path.join(s.staged, 'alias.conf'));
    await install(s);
    assert.equal(readFileSync(path.join(s.target, 'sip.conf'), 'utf8'), 'master\n');
    assert.ok(
      lstatSync(path.join(s.target, 'keys')).isSymbolicLink(),
      'a link, not a copy of what it points to',
    );
    assert.equal(readlinkSync(path.join(s.target, 'keys')), s.secret);
    assert.equal(readlinkSync(path.join(s.target, 'alias.conf')), 'sip.conf');
  },
);

test(
  'setuid and setgid bits are taken off; devices, FIFOs and sockets are not installed',
  { skip: !asRoot },
  async () => {
    const s = slave('special');
    writeFileSync(path.join(s.staged, 'suid'), '#!/bin/sh\nid\n', { mode: 0o4755 });
    chmodSync(path.join(s.staged, 'suid'), 0o4755);
    writeFileSync(path.join(s.staged, 'sgid'), 'x', { mode: 0o2755 });
    chmodSync(path.join(s.staged, 'sgid'), 0o2755);
    assert.equal(spawnSync('mkfifo', [path.join(s.staged, 'fifo')]).status, 0);
    assert.equal(
      spawnSync('mknod', [path.join(s.staged, 'mem'), 'c', '1', '1']).status,
      0,
      'a device node like /dev/mem',
    );
    await install(s);
    assert.equal(statSync(path.join(s.target, 'suid')).mode & 0o7777, 0o755);
    assert.equal(statSync(path.join(s.target, 'sgid')).mode & 0o7777, 0o755);
    assert.equal(existsSync(path.join(s.target, 'fifo')), false, 'no FIFO');
    assert.equal(existsSync(path.join(s.target, 'mem')), false, 'no device');
  },
);

test(
  'what a files install replaces stays unreadable by others in the backup',
  { skip: !asRoot },
  async () => {
    const s = slave('modes');
    mkdirSync(path.join(s.target, 'private'), { mode: 0o750 });
    chmodSync(path.join(s.target, 'private'), 0o750);
    writeFileSync(path.join(s.target, 'private', 'manager.conf'), 'secret = slave-password\n', {
      mode: 0o644,
    });
    const asNobody = (file: string) =>
      spawnSync('runuser', ['-u', 'nobody', '--', 'cat', file], { encoding: 'utf8' });
    assert.notEqual(
      asNobody(path.join(s.target, 'private', 'manager.conf')).status,
      0,
      'protected by its directory on the slave',
    );
    mkdirSync(path.join(s.staged, 'private'), { mode: 0o750 });
    writeFileSync(path.join(s.staged, 'private', 'manager.conf'), 'secret = master-password\n', {
      mode: 0o644,
    });
    const r = await install(s);
    const kept = path.join(r.backupDir!, s.target, 'private', 'manager.conf');
    assert.equal(readFileSync(kept, 'utf8'), 'secret = slave-password\n', 'the replaced file is kept');
    const read = asNobody(kept);
    assert.notEqual(read.status, 0, `nobody read the kept manager.conf: ${read.stdout}`);
    assert.equal(statSync(r.backupDir!).mode & 0o777, 0o700);
    assert.equal(statSync(s.backupRoot).mode & 0o777, 0o700);
  },
);

test('keep applies to files backups: 7 installs with keep 5 leave 5', { skip: !asRoot }, async () => {
  const s = slave('keep');
  for (let i = 1; i <= 7; i++) {
    writeFileSync(path.join(s.staged, 'sip.conf'), `version ${i} ${'x'.repeat(i)}\n`); // another size: rsync sees the change
    await install(s, 5);
  }
  const left = readdirSync(s.backupRoot);
  assert.equal(left.length, 5, left.join(', '));
  // The newest are kept: the one replaced last held version 6.
  const newest = left.sort().at(-1)!;
  assert.equal(
    readFileSync(path.join(s.backupRoot, newest, s.target, 'sip.conf'), 'utf8'),
    `version 6 ${'x'.repeat(6)}\n`,
  );
});

test(
  'staged files are read without following links; incoming/ and outgoing/ are real root-only directories',
  { skip: !asRoot },
  async () => {
    const s = slave('files');
    const incoming = exchangeSubdir(s.exchange, 'incoming');
    mkdirSync(path.join(incoming, 'db'));
    symlinkSync(path.join(s.secret, 'authorized_keys'), path.join(incoming, 'db', 'asterisk.sql'));
    const copy = path.join(s.base, 'copy.sql');
    await assert.rejects(
      copyStagedFile(incoming, 'db/asterisk.sql', copy),
      /asterisk\.sql is a symbolic link: refused/,
    );
    rmSync(path.join(incoming, 'db'), { recursive: true });
    symlinkSync(s.secret, path.join(incoming, 'db'));
    await assert.rejects(
      copyStagedFile(incoming, 'db/authorized_keys', copy),
      /db is a symbolic link: refused/,
    );
    assert.equal(existsSync(copy), false);
    rmSync(path.join(incoming, 'db'));
    mkdirSync(path.join(incoming, 'db'));
    writeFileSync(path.join(incoming, 'db', 'asterisk.sql'), 'dump\n');
    assert.equal(await copyStagedFile(incoming, 'db/asterisk.sql', copy), 5);
    assert.equal(statSync(copy).mode & 0o777, 0o600);

    // A dangling outgoing link (every later copy failed with ENOENT), a link to another directory.
    const outgoing = path.join(s.exchange, 'outgoing');
    symlinkSync('/rsyncd-munged/nowhere', outgoing);
    assert.equal(exchangeSubdir(s.exchange, 'outgoing'), outgoing);
    assert.ok(lstatSync(outgoing).isDirectory());
    assert.equal(lstatSync(outgoing).mode & 0o777, 0o700);
    rmSync(outgoing, { recursive: true });
    symlinkSync(s.secret, outgoing);
    const mine = path.join(s.base, 'export.sqlite3');
    writeFileSync(mine, 'export');
    await publishOutgoing(s.exchange, mine, 'authorized_keys');
    assert.equal(
      readFileSync(path.join(s.secret, 'authorized_keys'), 'utf8'),
      'ssh-ed25519 AAAA-secret root@slave\n',
      'not written through the link',
    );
    assert.ok(lstatSync(outgoing).isDirectory());
    assert.equal(readFileSync(path.join(outgoing, 'authorized_keys'), 'utf8'), 'export');
    // A link planted at the exported file's name is replaced, not followed.
    rmSync(path.join(outgoing, 'authorized_keys'));
    symlinkSync(path.join(s.secret, 'authorized_keys'), path.join(outgoing, 'authorized_keys'));
    await publishOutgoing(s.exchange, mine, 'authorized_keys');
    assert.equal(
      readFileSync(path.join(s.secret, 'authorized_keys'), 'utf8'),
      'ssh-ed25519 AAAA-secret root@slave\n',
    );
    assert.ok(lstatSync(path.join(outgoing, 'authorized_keys')).isFile());
  },
);
