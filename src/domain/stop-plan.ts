// What a node does with its VIPs when its agent stops (SIGTERM: systemctl stop, a shutdown, an
// upgrade). Pure: the node machine gives the facts, the agent carries the plan out.
//
// The rule (docs/behavior.md, "Stop"): a stop never leaves the pair with nobody serving when
// the peer could serve. Like keepalived's priority-0 advertisement, the active master hands
// over to the slave, through the trusted link, since the slave's detector never fires while the
// master's host still answers ICMP; and when nobody can take the VIPs over, they are kept, as
// `release_on_stop = no` keeps them.

import type { Role } from '../config/types';
import type { NodeState } from './states';

export interface StopFacts {
  /** `[agent] release_on_stop`, or false after `pbx-ha keep-vips-on-stop` (an upgrade). */
  release: boolean;
  role: Role;
  state: NodeState;
  /** This node holds (or must hold) VIPs now. */
  holds: boolean;
  /** The peer answers probes. */
  peerUp: boolean;
  /** The trusted link to the peer is in use (replication enabled). */
  trustedLink: boolean;
  /** Slave: the master handed over (it is in maintenance or fault and will not claim). */
  handedOver: boolean;
}

export type StopPlan =
  /** Nothing held: nothing to do. */
  | { kind: 'nothing' }
  /** Release the VIPs (nobody is left without a PBX who could have one). */
  | { kind: 'release'; why: string }
  /** Ask the peer to take over; once it has, release; if it cannot, keep. */
  | { kind: 'hand-over' }
  /** Keep the VIPs where they are. */
  | { kind: 'keep'; why: string };

export function planStop(f: StopFacts): StopPlan {
  if (!f.holds) return { kind: 'nothing' };
  if (!f.release)
    return { kind: 'keep', why: 'asked to keep them (release_on_stop = no, or pbx-ha keep-vips-on-stop)' };
  // A VIP held outside `active` is stale (a crash's leftover): it goes, as it would at reconcile.
  if (f.state !== 'active') return { kind: 'release', why: `this node is ${f.state}` };
  // A silent peer cannot serve whatever this node does: the VIPs go with the agent, as always.
  if (!f.peerUp) return { kind: 'release', why: 'the peer does not answer: nobody to hand over to' };
  if (f.role === 'master') {
    if (f.trustedLink) return { kind: 'hand-over' };
    // The slave hears this host and never takes over by itself: released, they would be nobody's.
    return {
      kind: 'keep',
      why: 'the slave answers but cannot be asked to take over (replication, and with it the trusted link, is off)',
    };
  }
  // The slave: the master, in standby, asks whether the VIPs are free and claims them once they
  // are; in maintenance or fault (it handed over), it would not.
  if (f.handedOver)
    return { kind: 'keep', why: 'the master handed over to this node and will not take them back by itself' };
  return { kind: 'release', why: 'the master answers and claims them once they are free' };
}
