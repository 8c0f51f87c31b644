// `pbx-ha status [--json]`: asks the running agent over its control socket.

import { AgentNotRunningError, controlRequest } from '../adapters/control-socket';
import type { StatusAnswer } from '../ports/status';
import { ago, copyLines } from './copy-lines';
import { dbLines } from './db-lines';

/** What the agent answers: its state, and its copies when replication runs. */
export type { StatusAnswer };
import { CONFIG_DEFAULTS, DEFAULT_CONFIG_FILE, loadConfigFile } from '../config';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { ConfigError } from './usage';

/**
 * The socket path from the configuration. The default file may be missing or being edited (the
 * agent then runs with the default socket, or its last good file): the default socket is used.
 * A file named with --config must be usable, or the command would talk to another agent than the
 * one asked for, and say only that no agent runs.
 */
export function socketPathFor(file: string): string {
  const loaded = loadConfigFile(file);
  if (loaded.ok) return loaded.config.agent.socketPath;
  if (file !== DEFAULT_CONFIG_FILE) throw new ConfigError(file, loaded.problems);
  return CONFIG_DEFAULTS.agent.socketPath;
}

export function formatStatus(s: StatusAnswer, nowMs = Date.now()): string {
  const lines = [
    `node        ${s.node} (${s.role})`,
    `state       ${s.state.toUpperCase()} since ${ago(s.since, nowMs)} — ${s.reason}`,
    `peer        ${s.peer.name} ${s.peer.address}: ${s.peer.reachability}, last answer ${ago(s.peer.lastAnswer, nowMs)}` +
      (s.peer.rttMs !== null ? `, rtt ${s.peer.rttMs} ms` : ''),
    ...s.vips.map(
      (v) =>
        `vip ${v.name.padEnd(7)} ${v.address} on ${v.interface}: ${v.held ? 'HELD here' : 'not held here'}`,
    ),
    ...s.tracks.map((t) => `track       ${t.address}: ${t.reachability}`),
    ...(s.checks ?? []).map(
      (c) =>
        `check ${c.name.padEnd(6)}${c.status}${c.status === 'down' && c.lastProblem ? ` — ${c.lastProblem}` : ''}`,
    ),
    `links       ${Object.entries(s.links)
      .filter(([i]) => i !== 'lo')
      .map(([i, up]) => `${i} ${up ? 'up' : 'NO CARRIER'}`)
      .join(', ')}`,
    ...copyLines(s, nowMs),
    ...dbLines(s, nowMs),
    'transitions',
    ...(s.transitions.length
      ? s.transitions.map((t) => `  ${t.at}  ${t.from} -> ${t.to}  (${t.reason})`)
      : ['  none yet']),
  ];
  return lines.join('\n') + '\n';
}

/** LSB's "program is not running" status code (init-functions, `status` action). */
export const EXIT_NOT_RUNNING = 3;

export async function statusCommand(args: string[]): Promise<number> {
  const values = parseOptions('status', args, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const socket = socketPathFor(configFile(values));
  let answer;
  try {
    answer = await controlRequest(socket, { request: 'status' });
  } catch (e) {
    if (!(e instanceof AgentNotRunningError)) throw e;
    process.stderr.write(`pbx-ha status: ${e.message}\n`);
    return EXIT_NOT_RUNNING;
  }
  if (!answer.ok) {
    process.stderr.write(`pbx-ha status: the agent refused: ${answer.error}\n`);
    return 1;
  }
  const status = answer.status as StatusAnswer;
  process.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
  return 0;
}
