// `pbx-ha pair`: sets up the trusted link once, from the master (as `xivo-sync -i` did, but
// safely): pbx-ha's own ed25519 key, the peer's host key recorded in pbx-ha's own known_hosts
// (checked against --fingerprint, or confirmed on a terminal), and the public key installed
// on the peer restricted to pbx-ha's forced command. Finally, a request over the new link.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { runCommand, runPassThrough } from '../adapters/exec';
import { askPeer } from '../adapters/ssh-control';
import { formatProblem } from '../config';
import { fingerprint, knownHostsLine, parseKeyscanLine } from '../link/known-hosts';
import { parseHello } from '../peer/protocol';
import { peerTarget } from '../link/target';
import { loadNode } from '../agent/load-node';
import { CONFIG_OPTION, configFile, NODE_OPTION, parseOptions } from './options';
import { selfPath } from './self';
import { EXIT_CONFIG, UsageError } from './usage';

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function pairCommand(args: string[]): Promise<number> {
  const values = parseOptions('pair', args, {
    ...CONFIG_OPTION,
    ...NODE_OPTION,
    fingerprint: { type: 'string' },
    yes: { type: 'boolean' },
    manual: { type: 'boolean' },
  });
  // Checked before anything is created or scanned: a mistyped fingerprint is a usage mistake.
  if (values.fingerprint !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(values.fingerprint)) {
    throw new UsageError(
      `pbx-ha pair: --fingerprint expects the peer's host key fingerprint as ssh-keygen -lf prints it, ` +
        `"SHA256:" and 43 characters, got ${JSON.stringify(values.fingerprint.slice(0, 100))}`,
    );
  }
  const file = configFile(values);
  const loaded = await loadNode(file, values.node);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return EXIT_CONFIG;
  }
  const { config, selection } = loaded;
  if (selection.role !== 'master') {
    process.stderr.write(
      `pbx-ha pair: run it on the master (${config.master}); this is ${selection.node.name}, the slave\n`,
    );
    return 1;
  }
  const target = peerTarget(config, selection.peer.address);
  const say = (s: string) => process.stdout.write(`${s}\n`);

  // 1. pbx-ha's own key.
  if (!existsSync(target.keyFile)) {
    mkdirSync(path.dirname(target.keyFile), { recursive: true, mode: 0o700 });
    await runCommand(
      [
        'ssh-keygen',
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        `pbx-ha@${selection.node.name}`,
        '-f',
        target.keyFile,
      ],
      { timeoutMs: 30_000 },
    );
    say(`created pbx-ha's key ${target.keyFile}`);
  } else {
    say(`using pbx-ha's key ${target.keyFile}`);
  }
  const publicKey = readFileSync(`${target.keyFile}.pub`, 'utf8').trim();

  // 2. The peer's host key.
  const scan = await runCommand(
    [
      'ssh-keyscan',
      '-T',
      String(Math.ceil(target.connectTimeoutMs / 1000)),
      '-t',
      'ed25519',
      '-p',
      String(target.port),
      target.host,
    ],
    { timeoutMs: target.connectTimeoutMs + 5000 },
  );
  const hostKey = scan.stdout
    .split('\n')
    .map(parseKeyscanLine)
    .find((k) => k !== null);
  if (!hostKey) {
    process.stderr.write(
      `pbx-ha pair: ${target.host}:${target.port} sent no ed25519 host key (is sshd running on ${selection.peer.name}?)\n`,
    );
    return 1;
  }
  const offered = fingerprint(Buffer.from(hostKey.base64, 'base64'));
  say(`${selection.peer.name} (${target.host}) presents host key ${offered}`);
  if (values.fingerprint !== undefined) {
    if (values.fingerprint !== offered) {
      process.stderr.write(
        `pbx-ha pair: REFUSED: expected ${values.fingerprint}, the host at ${target.host} presents ${offered}\n`,
      );
      return 1;
    }
  } else if (!values.yes) {
    if (!process.stdin.isTTY) {
      process.stderr.write(
        `pbx-ha pair: cannot confirm that key without a terminal; pass --fingerprint ${offered} after checking it on ` +
          `${selection.peer.name} with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub", or --yes\n`,
      );
      return 1;
    }
    if (
      !(await confirm(
        `Compare with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" on ${selection.peer.name}. Is it the same? [y/N] `,
      ))
    ) {
      process.stderr.write('pbx-ha pair: not confirmed; nothing was changed on the peer\n');
      return 1;
    }
  }
  writeAtomically(target.knownHostsFile, knownHostsLine(target.host, target.port, hostKey) + '\n');
  say(`recorded it in ${target.knownHostsFile}`);

  // 3. The key on the peer: already there (pairing again), pasted by the administrator on
  // the peer's console (--manual: Debian's sshd refuses root passwords by default), or
  // installed through the administrator's own SSH access (password or key), once.
  const alreadyThere = await askPeer(
    target,
    { request: 'peer-hello', from: selection.node.name },
    15_000,
  ).then(
    () => true,
    () => false,
  );
  if (alreadyThere) {
    say(`pbx-ha's key is already installed on ${selection.peer.name}`);
  } else if (values.manual) {
    say(`on ${selection.peer.name}, as root, run:`);
    say(`  echo '${publicKey}' | ${selfPath()} accept-peer-key`);
    say('then run "pbx-ha pair" here again to check the link');
    return 0;
  } else {
    say(
      `installing pbx-ha's key on ${selection.peer.name} as ${target.user} (you may be asked for ${target.user}'s password there)`,
    );
    await runPassThrough(
      [
        'ssh',
        '-p',
        String(target.port),
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${target.knownHostsFile}`,
        `${target.user}@${target.host}`,
        `${selfPath()} accept-peer-key`,
      ],
      { timeoutMs: 5 * 60_000, input: publicKey + '\n' },
    );
  }

  // 4. The link itself, with the restricted key.
  const hello = parseHello(
    await askPeer(target, { request: 'peer-hello', from: selection.node.name }, 15_000),
  );
  say(`paired: ${hello.node} (${hello.role}, ${hello.state}) answers through pbx-ha's restricted key`);
  return 0;
}
