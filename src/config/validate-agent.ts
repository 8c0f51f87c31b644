// [agent]: optional; the agent's own settings.
//
//   AGENT_KEYS
//   readAgent(reader): { config: AgentConfig | null; stateDir }   config null when a value was
//                                                                  refused (recorded); stateDir for
//                                                                  [replication]'s checks
//
// state_dir and the control socket's directory are pbx-ha's own directories (own-dirs.ts). The
// socket is a file directly in such a directory: the agent creates that directory, or finds it
// owned by root and closed to others (as systemd's RuntimeDirectory makes /run/pbx-ha), and
// never changes the mode of a directory it did not create (control-socket.ts).

import { CONFIG_DEFAULTS as D, CONFIG_LIMITS as L } from './defaults';
import { checkOwnDir, OWN_DIR_RULE } from './own-dirs';
import { checkPath, type PathCheck } from './paths';
import type { SectionReader } from './read-values';
import type { AgentConfig } from './types';

export const AGENT_KEYS: readonly string[] = ['reconcile_interval', 'socket', 'state_dir', 'release_on_stop'];

/** A socket's file name: no "/", not hidden, nothing a shell or a log would misread. */
const SOCKET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** `socket`: DIR/NAME where DIR is one of pbx-ha's own directories; the problem otherwise. */
export function checkSocketPath(text: string): PathCheck {
  const checked = checkPath(text);
  if (!checked.ok) return checked;
  const slash = checked.path.lastIndexOf('/');
  const dir = checked.path.slice(0, slash);
  const name = checked.path.slice(slash + 1);
  if (!SOCKET_NAME.test(name))
    return { ok: false, problem: 'the socket\'s name is not letters, digits, "_", "." and "-"' };
  const inDir = checkOwnDir(dir === '' ? '/' : dir);
  if (!inDir.ok) return { ok: false, problem: `the socket's directory ${dir || '/'}: ${inDir.problem}` };
  if (Buffer.byteLength(checked.path) > L.socketPathBytes)
    return { ok: false, problem: `path too long (the limit of a Unix socket address)` };
  return checked;
}

export function readAgent(agent: SectionReader): { config: AgentConfig | null; stateDir: string | null } {
  const reconcileIntervalMs = agent.duration('reconcile_interval', {
    defaultMs: D.agent.reconcileIntervalMs,
    minMs: L.reconcileIntervalMs.min,
    maxMs: L.reconcileIntervalMs.max,
  });
  const socketPath = agent.path(
    'socket',
    D.agent.socketPath,
    `a socket file directly in ${OWN_DIR_RULE}; at most ${L.socketPathBytes} bytes; such as ${D.agent.socketPath}`,
    checkSocketPath,
  );
  const stateDir = agent.path('state_dir', D.agent.stateDir, `${OWN_DIR_RULE}`, checkOwnDir);
  const releaseOnStop = agent.boolean('release_on_stop', D.agent.releaseOnStop);
  if (reconcileIntervalMs === null || socketPath === null || stateDir === null || releaseOnStop === null)
    return { config: null, stateDir };
  return { config: { reconcileIntervalMs, socketPath, stateDir, releaseOnStop }, stateDir };
}
