// The agent's status as `pbx-ha status` shows it. Built from the machine's view; times are
// converted to wall-clock ISO strings here, the one place that needs them.

import type { PbxHaConfig, Role } from '../config/types';
import type { MachineView, Transition } from '../domain/node-machine';
import type { Clock } from '../ports/clock';
import type { AgentStatus, StatusAnswer, TransitionRecord } from '../ports/status';
import { wallOf } from '../ports/clock';

export type { AgentStatus, StatusAnswer, TransitionRecord };

export function transitionRecord(clock: Clock, t: Transition): TransitionRecord {
  return { at: new Date(wallOf(clock, t.atMs)).toISOString(), from: t.from, to: t.to, reason: t.reason };
}

export function buildStatus(
  clock: Clock,
  config: PbxHaConfig,
  identity: { node: string; role: Role; peer: string; peerAddress: string },
  view: MachineView,
  transitions: TransitionRecord[],
): AgentStatus {
  const iso = (mono: number) => new Date(wallOf(clock, mono)).toISOString();
  return {
    node: identity.node,
    role: identity.role,
    state: view.state,
    since: iso(view.sinceMs),
    reason: view.lastReason,
    pid: process.pid,
    configFile: config.file,
    peer: {
      name: identity.peer,
      address: identity.peerAddress,
      reachability: view.peer.status,
      lastAnswer: view.peer.everAnswered ? iso(view.peer.lastAnswerMs) : null,
      rttMs: view.peer.lastRttMs === null ? null : Math.round(view.peer.lastRttMs * 100) / 100,
    },
    vips: config.vips.map((v) => ({
      name: v.name,
      address: `${v.address}/${v.prefixLength}`,
      interface: v.interface,
      held: view.held.includes(v.name),
    })),
    tracks: Object.entries(view.tracks).map(([address, d]) => ({ address, reachability: d.status })),
    checks: Object.entries(view.checks).map(([name, c]) => ({
      name,
      status: c.status,
      lastProblem: c.lastProblem,
    })),
    handedOver: view.handedOver,
    links: view.carrier ?? {},
    transitions,
  };
}
