// What the domain asks the agent to do. The domain returns these and performs none; the
// agent executes them in the order given (BEHAVIOR.md, "Order").

import type { NodeState } from './states';

/** One change of addresses or routes, applied by iproute2. Idempotent by construction. */
export type NetChange =
  | { kind: 'add-address'; vip: string; address: string; prefixLength: number; ifname: string }
  | { kind: 'delete-address'; vip: string; address: string; prefixLength: number; ifname: string }
  | {
      kind: 'add-route';
      vip: string;
      destination: string;
      via: string | null;
      ifname: string;
      source: string;
    }
  | {
      kind: 'delete-route';
      vip: string;
      destination: string;
      via: string | null;
      ifname: string;
      source: string;
    };

/** The requests a node's machine makes of its peer (the master of its slave, but for a takeover). */
export type PeerRequestName = 'peer-takeover' | 'peer-release' | 'peer-quiesce' | 'peer-resume';

export type Action =
  /** Apply address and route changes in one go, in the order given. */
  | { kind: 'net'; changes: NetChange[]; reason: string }
  /** Announce these VIPs with bursts of gratuitous ARP (the agent repeats and refreshes them). */
  | { kind: 'garp'; vips: string[] }
  /**
   * Ask now, on each VIP's link, whether another MAC answers for the VIPs this node holds (as
   * the periodic check does); an answer comes back as a `conflict` event.
   */
  | { kind: 'conflict-check' }
  /**
   * Start or stop the PBX services. `wait`: the next actions must wait for the command
   * (going passive, services stop before the addresses go); otherwise it runs on its own
   * lane so that a slow start never delays the takeover.
   */
  | { kind: 'services'; command: 'start' | 'stop'; wait: boolean }
  /**
   * Failback: bring what the slave changed while it served (its astdb) across to this master,
   * merged with the master's own changes, as a job that does not hold the event queue. Its
   * completion comes back as a `failback-data` event with the same `id`; an event with another
   * id belongs to a failback that was abandoned meanwhile. `final`: the slave has already
   * released the VIPs (only the last changes are missing); otherwise it still serves.
   */
  /**
   * Master: bring the slave's data across for a failback (see NodeMachine). `slaveServed`: the
   * slave was seen holding the VIPs since this node last held them, so it served last and its
   * value wins a key both changed; else (a first claim, the slave never seen serving) the
   * master's does.
   */
  | { kind: 'failback-fetch'; id: number; final: boolean; slaveServed: boolean }
  /**
   * A planned handover: the last astdb copy to the slave, after the services stopped (so it
   * is final) and before the addresses go.
   */
  | { kind: 'final-sync' }
  /**
   * Ask the peer's agent over the trusted link: take over now, release the VIPs, or (two-phase
   * failback) quiesce — stop its services and keep the VIPs until the release — or resume.
   */
  | { kind: 'peer-request'; request: PeerRequestName }
  /** Run the notify script, never waited for. */
  | { kind: 'notify'; event: string; state: NodeState }
  /** Something an administrator must see (logged and sent to the notify script). */
  | { kind: 'alert'; message: string };
