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
  /** What runs before a master takes the VIPs back from the slave (the astdb fetch). */
  beforeFailback(): Promise<string>;
}
