// What the node machine needs to know, from the configuration: one function, used by the
// agent and by the tests' fakes alike.

import type { PbxHaConfig } from '../config/types';
import type { MachineSettings } from '../domain/node-machine';
import type { Identity } from './identity';

/** `ownInterfaces`: the interfaces carrying this node's own address; their carrier matters too. */
export function machineSettingsFor(
  config: PbxHaConfig,
  identity: Identity,
  ownInterfaces: string[],
): MachineSettings {
  return {
    nodeName: identity.node,
    role: identity.role,
    peerName: identity.peer,
    peerAddress: identity.peerAddress,
    vips: config.vips,
    watchedInterfaces: [...new Set([...config.vips.map((v) => v.interface), ...ownInterfaces])],
    tracks: config.health.track,
    timing: { downAfterMs: config.health.fall * config.health.intervalMs, rise: config.health.rise },
    checks: config.checks.map((c) => ({ name: c.name, rise: c.rise, fall: c.fall })),
    failback: config.failover.failback,
    failbackDelayMs: config.failover.failbackDelayMs,
    intervalMs: config.health.intervalMs,
    trustedLink: config.replication.enabled,
  };
}
