// Key material and passwords never reach messages (and so logs, `pbx-ha status`, the history).
//
// pbx-ha's private key is read in one place, src/adapters/ssh-control.ts (SshControl.connect, for
// ssh2); rsync and ssh get its path, never its content (src/link/target.ts). PostgreSQL is reached
// as the postgres role over its socket with --no-password: no password exists to leak. What can
// fail with the key in hand is SshControl.connect: a damaged or encrypted key, a peer that is down
// or speaks something else. Each failure's message must name the file or the peer, not the key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { askPeer, SshControl, type SshTarget } from '../../../src/adapters/ssh-control';
import { pgEnvironment } from '../../../src/jobs/db/commands';
import { pushArgv } from '../../../src/jobs/files';
import { rsyncRemoteShell } from '../../../src/link/target';

const ROOT = path.join(__dirname, '../../../..');

/** Every 12-character piece of the key's base64 body: none may appear in a message. */
function pieces(keyText: string): string[] {
  const body = keyText
    .split('\n')
    .filter((l) => !l.startsWith('-----'))
    .join('');
  const out: string[] = [];
  for (let i = 0; i + 12 <= body.length; i += 6) out.push(body.slice(i, i + 12));
  return out;
}

function assertNoKey(message: string, keyText: string, what: string): void {
  const leaked = pieces(keyText).find((p) => message.includes(p));
  assert.equal(leaked, undefined, `${what}: the message carries key material: ${message.slice(0, 300)}`);
  assert.doesNotMatch(message, /PRIVATE KEY/, what);
}

async function failureOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  }
  assert.fail('expected a failure');
}

test('secrets: a failing SSH connection never puts the private key in its message', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-secret-'));
  // A server that answers with garbage instead of an SSH banner, and one that closes at once.
  const garbage = net.createServer((c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  const closing = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => closing.listen(0, '127.0.0.1', r));
  try {
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, '');
    const realKey = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'secret-test', '-f', realKey]);
    const encryptedKey = path.join(dir, 'id_encrypted');
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      'a passphrase',
      '-C',
      'secret-test',
      '-f',
      encryptedKey,
    ]);
    const damagedKey = path.join(dir, 'id_damaged');
    const real = readFileSync(realKey, 'utf8');
    writeFileSync(damagedKey, real.replace(/\n([A-Za-z0-9+/]{20})/, '\n!!$1'));
    const notAKey = path.join(dir, 'id_text');
    writeFileSync(
      notAKey,
      `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from('S3CR3T-MARKER '.repeat(20)).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    );

    const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
    const target = (keyFile: string, p: number): SshTarget => ({
      host: '127.0.0.1',
      port: p,
      user: 'root',
      keyFile,
      knownHostsFile: knownHosts,
      connectTimeoutMs: 2000,
    });
    const cases: [string, string, number][] = [
      ['a good key, a peer that speaks HTTP', realKey, port(garbage)],
      ['a good key, a peer that hangs up', realKey, port(closing)],
      ['a good key, nobody listening', realKey, 1],
      ['an encrypted key', encryptedKey, port(garbage)],
      ['a damaged key', damagedKey, port(garbage)],
      ['a file that is not a key', notAKey, port(garbage)],
    ];
    for (const [what, keyFile, p] of cases) {
      const keyText = readFileSync(keyFile, 'utf8');
      const control = new SshControl(target(keyFile, p));
      const message = await failureOf(control.connect());
      control.close();
      assertNoKey(message, keyText, what);
      assert.doesNotMatch(message, /S3CR3T|UzNDUjNU/, what);
      const asked = await failureOf(
        askPeer(target(keyFile, p), { request: 'peer-hello', from: 'pbx1' }, 2000),
      );
      assertNoKey(asked, keyText, `${what} (askPeer)`);
    }
  } finally {
    garbage.close();
    closing.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secrets: rsync and ssh get the key path, never its content; PostgreSQL gets no password', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-secret-'));
  try {
    const keyFile = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const t: SshTarget = {
      host: '192.0.2.12',
      port: 22,
      user: 'root',
      keyFile,
      knownHostsFile: path.join(dir, 'known_hosts'),
      connectTimeoutMs: 5000,
    };
    // These argv end up in CommandError messages, hence in alerts and the history.
    const argv = [...pushArgv(t, ['/etc/asterisk'], 'incoming/files'), rsyncRemoteShell(t)];
    assert.ok(
      argv.some((a) => a.includes(keyFile)),
      'the key path is given to ssh',
    );
    assertNoKey(argv.join(' '), readFileSync(keyFile, 'utf8'), 'rsync argv');
    const env = pgEnvironment({ PATH: '/usr/bin' });
    assert.equal(env.PGPASSWORD, undefined);
    assert.equal(env.PGPASSFILE, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secrets: no source file handles a password, and only ssh-control.ts reads the private key', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.ok(files.length > 50);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const rel = path.relative(ROOT, file);
    // The one password pbx-ha sets, the streaming replication role's, reaches psql through the
    // environment (\getenv) and is named in SQL only as the psql variable :'pbx_ha_secret'.
    const checked =
      rel === 'src/jobs/db/streaming-node.ts' ? text.replace("PASSWORD :'pbx_ha_secret'", '') : text;
    assert.doesNotMatch(checked, /PGPASSWORD|sshpass|password\s*[:=]\s*['"`]/i, rel);
    // The private key is read as a file only to hand it to ssh2.
    if (/readFileSync\([^)]*\.keyFile\)|readFileSync\([^)]*keyPath\)/.test(text))
      assert.equal(rel, 'src/adapters/ssh-control.ts');
  }
});
