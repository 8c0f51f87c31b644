// Whether a request from the peer, over the trusted link, makes sense in this node's role and
// state: the rule the receiving side applies before it acts (docs/security.md). Pure; the
// check that the request names the configured peer is made where requests arrive
// (peer/receiver.ts).
//
// The link is one-way: only the master holds a key to the slave (pairing installs it there),
// and only the master copies, hands over and asks for the VIPs back. So every request that
// changes something is one a master makes of its slave; a master asked for any of them is
// being asked by something that is not its slave's agent acting as designed, and refuses.
// What the slave cannot tell from here is whether the master really means what it asks: a
// holder of pbx-ha's key who names the master is still the master, as far as this rule knows.

import type { Role } from '../config/types';
import type { NodeState } from './states';

/** The requests of the trusted link (the same names as peer/protocol.ts's PEER_REQUESTS). */
export type PeerRequestKind =
  | 'peer-hello'
  | 'peer-install'
  | 'peer-astdb-info'
  | 'peer-astdb-export'
  | 'peer-spool-list'
  | 'peer-spool-export'
  | 'peer-db-export'
  | 'peer-takeover'
  | 'peer-release'
  | 'peer-pg-state'
  | 'peer-pg-stop'
  | 'peer-pg-start'
  | 'peer-pg-follow'
  | 'peer-quiesce'
  | 'peer-resume';

/** What the receiving node knows of itself when a request arrives. */
export interface ReceiverFacts {
  node: string;
  role: Role;
  state: NodeState;
  /** Why it is in that state (for the refusal of a takeover by a node that cannot serve). */
  reason: string;
  /** A serving slave whose services the two-phase failback stopped (it keeps the VIPs until the release). */
  quiesced?: boolean;
}

export type RequestVerdict = { honoured: true } | { honoured: false; why: string };

const HONOURED: RequestVerdict = { honoured: true };

/**
 * Whether `request` is honoured by a node in `facts`' role and state; when not, `why` is the
 * answer's error, naming the node. Only questions (hello, astdb info) are answered in every
 * role and state; the rest are refused by a master, and by a slave whose state does not fit:
 * copies only in standby, a takeover only when it can serve (not in fault or maintenance). A release is honoured by a slave in any state:
 * it stops serving if it served, and elsewhere the request is only the master's proof of life.
 * So are the two-phase failback's quiesce (a serving slave stops its services and keeps the
 * VIPs until the release; elsewhere it answers that it does not serve) and resume (a quiesced
 * slave starts its services again; elsewhere nothing). The node machine adds the rule this
 * module cannot check: a release or a quiesce only from a master whose heartbeat answered.
 */
export function judgePeerRequest(request: PeerRequestKind, facts: ReceiverFacts): RequestVerdict {
  const { node, role, state } = facts;
  if (request === 'peer-hello' || request === 'peer-astdb-info') return HONOURED;
  if (role === 'master') return { honoured: false, why: `${node} is the master: ${MASTER_REFUSES[request]}` };
  switch (request) {
    case 'peer-install':
      return state === 'standby'
        ? HONOURED
        : { honoured: false, why: `${node} is ${state}: it accepts copies only in standby` };
    case 'peer-astdb-export':
    case 'peer-spool-list':
    case 'peer-spool-export':
    case 'peer-db-export':
      // Also while serving: the master brings the slave's astdb across (an online snapshot)
      // before it asks for the VIPs back, so the slave keeps serving while it is copied.
      return HONOURED;
    case 'peer-takeover':
      return state === 'fault' || state === 'maintenance'
        ? { honoured: false, why: `${node} did not take over: it is ${state} (${facts.reason})` }
        : HONOURED;
    case 'peer-release':
    case 'peer-quiesce':
    case 'peer-resume':
      return HONOURED;
    case 'peer-pg-state':
    case 'peer-pg-start':
      return HONOURED;
    case 'peer-pg-stop':
    case 'peer-pg-follow':
      // Streaming mode: a slave that serves keeps its PostgreSQL the primary; the master's
      // switchover asks only once the slave's services are stopped: quiesced by the two-phase
      // failback (still holding the VIPs), or released.
      return state === 'active' && facts.quiesced !== true
        ? { honoured: false, why: `${node} is active: its PostgreSQL stays the primary while it serves` }
        : HONOURED;
  }
}

/** Why a master refuses each request that only its slave may be asked. */
const MASTER_REFUSES: Record<Exclude<PeerRequestKind, 'peer-hello' | 'peer-astdb-info'>, string> = {
  'peer-install': 'copies go from the master to the slave, never to the master',
  'peer-astdb-export': "only the slave's astdb is fetched (by the master, before it takes the VIPs back)",
  'peer-spool-list':
    "only the slave's spool files are fetched (by the master, before it takes the VIPs back)",
  'peer-spool-export':
    "only the slave's spool files are fetched (by the master, before it takes the VIPs back)",
  'peer-db-export': "only the slave's database is fetched (by the master, before it takes the VIPs back)",
  'peer-takeover': 'only the master hands over, to its slave',
  'peer-release': 'only the master asks for the VIPs back, of its slave',
  'peer-pg-state': "only the master's switchover asks what the slave's PostgreSQL is",
  'peer-pg-stop': "only the master's switchover stops the slave's PostgreSQL",
  'peer-pg-start': "only the master's switchover starts the slave's PostgreSQL again",
  'peer-pg-follow': "only the master asks the slave's PostgreSQL to stand by for it",
  'peer-quiesce': 'only the master asks its slave to stop its services before a failback',
  'peer-resume': 'only the master asks its slave to serve again after a failback it gave up',
};
