// What the node machine's peer actions need from the trusted link (peer/replication.ts
// provides them over a PeerLink).

/**
 * Sends a takeover or release request to the peer; resolves true when the peer did it, false
 * when it was not sent because `stillWanted` said no once the connection was up.
 */
export type PeerRequester = (
  request: 'peer-takeover' | 'peer-release',
  stillWanted: () => boolean,
) => Promise<boolean>;

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
  /** After a release answer: whether the slave's astdb changed since the failback fetch. */
  releasedDataChanged(): boolean;
}
