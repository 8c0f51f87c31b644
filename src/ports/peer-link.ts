// The trusted link to the peer as the agent's parts use it: a control channel that carries
// the protocol's requests (src/peer/protocol.ts) and file transfers into and out of the
// peer's exchange area (src/peer/staging.ts). One adapter over SSH (src/peer/ssh-link.ts),
// one fake that connects two agents in memory (test/fakes/peer-link.ts).

/** One request or answer: a JSON object (checked by src/peer/protocol.ts at each end). */
export type PeerMessage = Record<string, unknown>;

export interface PeerChannel {
  /** Sends one request and waits for its answer (answers come in order); rejects on timeout or a closed channel. */
  request(req: PeerMessage, timeoutMs: number): Promise<PeerMessage>;
  /** Like `request`, but a refusal (`ok` not true) is an error that says why. */
  ask(req: PeerMessage, timeoutMs: number): Promise<PeerMessage>;
  close(): void;
}

export interface PushResult {
  /** Bytes sent over the link. */
  bytes: number;
  /** The paths sent, and those absent on this node (reported, not an error). */
  sent: string[];
  missing: string[];
}

/** What a fetch may bring, at most (the peer's files are untrusted). */
export interface FetchLimits {
  /** Bytes of one file; larger ones are left out. */
  maxFileBytes?: number;
  /** A local file naming, one per line, the only entries of the remote directory to copy. */
  filesFrom?: string;
}

export interface PeerLink {
  /** Opens a control channel to the peer's agent (an SSH handshake); rejects saying why. */
  open(): Promise<PeerChannel>;
  /** Copies a local file into `remoteDir` (relative to the peer's exchange directory). */
  send(file: string, remoteDir: string, timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** Copies absolute paths, kept as such, under `remoteDir`; removals reach the peer too. */
  sendTree(paths: string[], remoteDir: string, timeoutMs: number, signal: AbortSignal): Promise<PushResult>;
  /**
   * Copies `remoteFile` (relative to the peer's exchange directory) to the local `file`; `limits`
   * bound what the peer can make this node store (a file larger than `maxFileBytes` is not
   * copied; with `filesFrom`, a local file of names, only those entries of the remote directory).
   */
  fetch(remoteFile: string, file: string, timeoutMs: number, limits?: FetchLimits): Promise<void>;
  /** Whether pairing was done here (pbx-ha's key and the peer's host key exist). */
  paired(): boolean;
}
