// What the node machine's peer actions need from the trusted link (peer/replication.ts
// provides them over a PeerLink).

import type { PeerRequestName } from '../domain/actions';

/**
 * Sends a takeover or release request to the peer; resolves true when the peer did it, false
 * when it was not sent because `stillWanted` said no once the connection was up.
 */
export type PeerRequester = (request: PeerRequestName, stillWanted: () => boolean) => Promise<boolean>;

/** What the slave answered to `peer-quiesce` (two-phase failback). */
export interface QuiesceOutcome {
  /** It stopped its services and keeps the VIPs until the release (false: it does not serve). */
  quiesced: boolean;
  /** It refused the request as unknown (an older version): the one-phase failback applies. */
  unsupported: boolean;
}

/** The agent's hooks into replication: peer requests, and the astdb around a handover. */
export interface PeerHooks {
  request: PeerRequester;
  /** The last astdb copy of a planned handover; resolves with what it did. */
  finalSync(): Promise<string>;
  /**
   * A failback's data step: brings the slave's astdb across and merges it (see the node
   * machine's `failback-fetch`). `final`: the slave has released the VIPs. `stillWanted` is
   * asked before anything here is stopped or replaced. Resolves with what it did; rejects when
   * the data could not be brought across. `slaveServed`: the slave served last, so its value
   * wins a key both sides changed (else the master's).
   */
  failbackFetch(final: boolean, stillWanted: () => boolean, slaveServed: boolean): Promise<string>;
  /** After a release or quiesce answer: whether the slave's astdb changed since the failback fetch. */
  releasedDataChanged(): boolean;
  /** After a quiesce request: what the slave answered (null: nothing answered). */
  lastQuiesce?(): QuiesceOutcome | null;
}
