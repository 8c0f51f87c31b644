// [agent]: optional; the agent's own settings.
//
//   AGENT_KEYS
//   readAgent(reader): { config: AgentConfig | null; stateDir }   config null when a value was
//                                                                  refused (recorded); stateDir for
//                                                                  [replication]'s checks

import { CONFIG_DEFAULTS as D, CONFIG_LIMITS as L } from './defaults';
import type { SectionReader } from './read-values';
import type { AgentConfig } from './types';

export const AGENT_KEYS: readonly string[] = ['reconcile_interval', 'socket', 'state_dir', 'release_on_stop'];

export function readAgent(agent: SectionReader): { config: AgentConfig | null; stateDir: string | null } {
  const reconcileIntervalMs = agent.duration('reconcile_interval', {
    defaultMs: D.agent.reconcileIntervalMs,
    minMs: L.reconcileIntervalMs.min,
    maxMs: L.reconcileIntervalMs.max,
  });
  const socketPath = agent.absolutePath('socket', D.agent.socketPath, L.socketPathBytes);
  const stateDir = agent.absolutePath('state_dir', D.agent.stateDir);
  const releaseOnStop = agent.boolean('release_on_stop', D.agent.releaseOnStop);
  if (reconcileIntervalMs === null || socketPath === null || stateDir === null || releaseOnStop === null)
    return { config: null, stateDir };
  return { config: { reconcileIntervalMs, socketPath, stateDir, releaseOnStop }, stateDir };
}
