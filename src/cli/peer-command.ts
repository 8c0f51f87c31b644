// `pbx-ha peer-command`: the forced command of pbx-ha's key in authorized_keys (see
// docs/replication.md). sshd runs it whatever the client asked for; the request is in
// SSH_ORIGINAL_COMMAND. Only two things pass:
//   `pbx-ha control`   JSON requests, one per line, checked here, answered by the local agent;
//                      lines, requests and idle time bounded (peer/request-lines.ts);
//   `rsync --server …` handed to Debian's rrsync, confined to the exchange directory.

import { controlRequest, ensureSocketDir } from '../adapters/control-socket';
import { takePeerSlot } from '../adapters/peer-slots';
import path from 'node:path';
import { runPassThrough } from '../adapters/exec';
import os from 'node:os';
import { formatProblem, isConfigProblem, loadConfigFile, selectNode, type PbxHaConfig } from '../config';
import { parsePeerRequest } from '../peer/protocol';
import { REQUEST_IDLE_TIMEOUT_MS, RequestLines } from '../peer/request-lines';
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

/** Writes one answer line; false when the peer did not take it within the idle timeout. */
async function answer(value: unknown): Promise<boolean> {
  if (process.stdout.write(JSON.stringify(value) + '\n')) return true;
  // A peer that sends requests without reading the answers must not make them pile up here.
  const drained = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REQUEST_IDLE_TIMEOUT_MS);
    process.stdout.once('drain', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  return drained;
}

/**
 * Answers the peer's request lines, one at a time, within the bounds of request-lines.ts; a
 * bound passed is answered with the reason, and the command ends (exit 1), reading no more.
 */
async function controlLoop(config: PbxHaConfig): Promise<number> {
  const lines = new RequestLines(process.stdin);
  for (;;) {
    const next = await lines.next();
    if (next.kind === 'end') return 0;
    if (next.kind === 'refused') {
      process.stderr.write(`pbx-ha peer-command: ${next.error}\n`);
      await answer({ ok: false, error: next.error });
      return 1;
    }
    const line = next.line;
    const parsed = parsePeerRequest(line);
    let reply: unknown;
    if (!parsed.ok) {
      reply = { ok: false, error: parsed.error };
    } else {
      reply = await controlRequest(config.agent.socketPath, parsed.request, 15 * 60_000).catch((e: Error) =>
        parsed.request.request === 'peer-hello' && /not running/.test(e.message)
          ? helloWithoutAgent(config)
          : { ok: false, error: e.message },
      );
    }
    if (!(await answer(reply))) {
      process.stderr.write('pbx-ha peer-command: the peer reads no answers: connection closed\n');
      return 1;
    }
  }
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
  // Bounded before anything else runs for this session (adapters/peer-slots.ts).
  let slot: ReturnType<typeof takePeerSlot>;
  try {
    const dir = path.dirname(config.agent.socketPath);
    ensureSocketDir(dir);
    slot = takePeerSlot(dir);
  } catch (e) {
    process.stderr.write(`pbx-ha peer-command: ${(e as Error).message}; nothing is accepted\n`);
    return 1;
  }
  if ('refused' in slot) {
    process.stderr.write(`pbx-ha peer-command: ${slot.refused}; refused\n`);
    if (original === 'pbx-ha control') await answer({ ok: false, error: slot.refused });
    return 1;
  }
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
