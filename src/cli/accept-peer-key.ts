// `pbx-ha accept-peer-key`: run on the peer by `pbx-ha pair`, over the administrator's own
// SSH access, once. Reads pbx-ha's public key on standard input and installs it in root's
// authorized_keys, restricted to pbx-ha's forced command.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePublicKey, restrictedLine, withKeyLine } from '../link/authorized-keys';
import { fingerprint } from '../link/known-hosts';
import { parseOptions } from './options';
import { selfPath } from './self';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function acceptPeerKeyCommand(args: string[]): Promise<number> {
  parseOptions('accept-peer-key', args, {});
  const text = (await readStdin()).trim();
  const key = parsePublicKey(text);
  if (!key) {
    process.stderr.write(
      `pbx-ha accept-peer-key: expected one OpenSSH public key line on standard input, got ${JSON.stringify(text.slice(0, 80))}\n`,
    );
    return 1;
  }
  const sshDir = path.join(os.homedir(), '.ssh');
  const file = path.join(sshDir, 'authorized_keys');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const line = restrictedLine(key, `${selfPath()} peer-command`);
  // Written beside and renamed: a cut in the middle never leaves root without its keys.
  const tmp = `${file}.pbx-ha-${process.pid}`;
  writeFileSync(tmp, withKeyLine(existing, line, key), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  process.stdout.write(
    `${os.hostname()}: pbx-ha key ${fingerprint(Buffer.from(key.base64, 'base64'))} installed in ${file}, restricted to "pbx-ha peer-command"\n`,
  );
  return 0;
}
