// `pbx-ha peer-command`: the forced command of pbx-ha's key in authorized_keys (see
// docs/replication.md). sshd runs it whatever the client asked for; the request is in
// SSH_ORIGINAL_COMMAND. Only two things pass:
//   `pbx-ha control`   JSON requests, checked here, answered by the local agent;
//   `rsync --server …` handed to Debian's rrsync, confined to the exchange directory.

import { createInterface } from 'node:readline';
import { controlRequest } from '../adapters/control-socket';
import { runPassThrough } from '../adapters/exec';
import os from 'node:os';
import { formatProblem, isConfigProblem, loadConfigFile, selectNode, type PbxHaConfig } from '../config';
import { parsePeerRequest } from '../peer/protocol';
import { EXCHANGE_SUBDIRS } from '../peer/staging';
import { exchangeSubdir } from '../jobs/staged-tree';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { EXIT_CONFIG } from './usage';

const RRSYNC = '/usr/bin/rrsync';
/** Longest a single rsync may run through the forced command (a first copy of many sounds). */
const RSYNC_TIMEOUT_MS = 6 * 3600_000;

/**
 * What this node says to `peer-hello` when its agent does not run (pairing is done before the
 * agents are started): who it is, and that its agent is stopped.
 */
function helloWithoutAgent(config: PbxHaConfig): Record<string, unknown> {
  const selection = selectNode(config, os.hostname(), config.file);
  if (isConfigProblem(selection)) return { ok: false, error: `${os.hostname()} is not in ${config.file}` };
  return { ok: true, node: selection.node.name, role: selection.role, state: 'stopped' };
}

async function controlLoop(config: PbxHaConfig): Promise<number> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const parsed = parsePeerRequest(line);
    let answer: unknown;
    if (!parsed.ok) {
      answer = { ok: false, error: parsed.error };
    } else {
      answer = await controlRequest(config.agent.socketPath, parsed.request, 15 * 60_000).catch((e: Error) =>
        parsed.request.request === 'peer-hello' && /not running/.test(e.message)
          ? helloWithoutAgent(config)
          : { ok: false, error: e.message },
      );
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  return 0;
}

export async function peerCommandCommand(args: string[]): Promise<number> {
  const values = parseOptions('peer-command', args, { ...CONFIG_OPTION });
  const original = (process.env.SSH_ORIGINAL_COMMAND ?? '').trim();
  const file = configFile(values);
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write('pbx-ha peer-command: the configuration is not valid; nothing is accepted\n');
    return EXIT_CONFIG;
  }
  const config = loaded.config;
  if (original === 'pbx-ha control') return controlLoop(config);
  if (/^rsync --server( |$)/.test(original)) {
    const exchange = config.replication.exchangeDir;
    // Real directories, whatever a previous rsync left in their place (a link, a file).
    for (const sub of EXCHANGE_SUBDIRS) exchangeSubdir(exchange, sub);
    // rrsync reads SSH_ORIGINAL_COMMAND itself, checks rsync's options and maps every path
    // inside `exchange`. -munge: every symbolic link the peer sends is stored with a
    // /rsyncd-munged/ prefix, so that no link in the exchange area leads anywhere (the files
    // install takes the prefix off, files.ts). -no-lock: its default lock lets one rsync at a
    // time in, and refuses the others at once; the master's copies of different kinds may
    // overlap, each in a directory of its own (and never two of one kind: the job runner does
    // not overlap them).
    await runPassThrough([RRSYNC, '-munge', '-no-lock', exchange], { timeoutMs: RSYNC_TIMEOUT_MS });
    return 0;
  }
  process.stderr.write(
    `pbx-ha: this key may only run pbx-ha's replication ("pbx-ha control" or rsync into ${config.replication.exchangeDir}); ` +
      `refused: ${JSON.stringify(original.slice(0, 200))}\n`,
  );
  return 1;
}
