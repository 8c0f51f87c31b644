// What one agent may ask the other over the trusted link. The receiving side's forced command
// lets through only these requests (and rsync confined by rrsync to the exchange directory),
// one line of at most 64 KiB each, at most 1000 a connection, at most 60 s apart
// (peer/request-lines.ts; test/unit/peer/forced-command-bounds.test.ts). The receiver honours a
// request only when `from` names its configured peer and the request fits its role and state
// (domain/request-authority.ts; test/unit/peer/request-authority.test.ts): a master answers
// questions and refuses the rest; a slave installs copies only in standby, exports its astdb
// only when it does not serve, takes over only when not in fault or maintenance. So a holder of
// pbx-ha's key, which is installed on the slave and names the master, can still ask the slave
// for what the master may ask: copies installed in standby, its astdb, spool files and database
// dump (what it changed while it served, brought back at a failback), a takeover (the slave
// cannot tell it from a real handover) or a release. Every answer is checked before it is used.

import { COPY_KINDS, type CopyKind } from '../domain/copies';
import { NODE_STATES } from '../domain/states';

export const PEER_REQUESTS = [
  'peer-hello',
  'peer-install',
  'peer-astdb-info',
  'peer-astdb-export',
  'peer-spool-list',
  'peer-spool-export',
  'peer-db-export',
  'peer-takeover',
  'peer-release',
  // Streaming replication (peer/streaming-db.ts): the master's server asks the slave's.
  'peer-pg-state',
  'peer-pg-stop',
  'peer-pg-start',
  'peer-pg-follow',
  'peer-quiesce',
  'peer-resume',
] as const;
export type PeerRequestName = (typeof PEER_REQUESTS)[number];

export { COPY_KINDS, type CopyKind };

export type PeerRequest =
  | { request: 'peer-hello'; from: string }
  | { request: 'peer-install'; from: string; kind: CopyKind; digest?: string; paths?: string[] }
  | { request: 'peer-astdb-info'; from: string }
  | { request: 'peer-astdb-export'; from: string }
  /** A failback's data step (jobs/spool-return.ts, jobs/db/return.ts): what the slave changed while it served. */
  | { request: 'peer-spool-list'; from: string }
  | { request: 'peer-spool-export'; from: string }
  | { request: 'peer-db-export'; from: string }
  /** The master hands over (planned, or it is in fault): take the VIPs now. */
  | { request: 'peer-takeover'; from: string }
  /** The master takes the VIPs back: stop the services and release them. */
  | { request: 'peer-release'; from: string }
  /** Streaming mode: what the slave's PostgreSQL is (running or not), for the master's switchover. */
  | { request: 'peer-pg-state'; from: string }
  /** Streaming mode: stop (cleanly) or start the slave's PostgreSQL (the master's switchover). */
  | { request: 'peer-pg-stop'; from: string }
  | { request: 'peer-pg-start'; from: string }
  /**
   * Streaming mode: stand by for the master's PostgreSQL (clone or rejoin); `secret` is the
   * replication role's (base64url, 16 to 128 characters), written to the slave's passfile only.
   */
  | { request: 'peer-pg-follow'; from: string; secret: string }
  /**
   * Two-phase failback, first phase: stop the services, keep the VIPs until the release, and
   * answer with the digests of the data, now final (see QuiesceAnswer).
   */
  | { request: 'peer-quiesce'; from: string }
  /** The master gave up a failback after a quiesce: start the services again and serve on. */
  | { request: 'peer-resume'; from: string };

/** A node name as the peer sends it (`from`, a hello's `node`): a host name label or FQDN. */
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

/**
 * Text received from the peer, for a message: quoted, with every control character (C0, DEL,
 * C1, line and paragraph separators) escaped, so that it cannot forge a log line or move a
 * terminal's cursor.
 */
export function quotedPeerText(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A value received from the peer, for a message: short, quoted, without control characters. */
function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value !== 'string')
    return value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : typeof value === 'object'
          ? 'an object'
          : `a ${typeof value}`;
  return quotedPeerText(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

/** Checks a request line received from the peer; returns it typed, or why it is refused. */
export function parsePeerRequest(line: string): PeerRequestCheck {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  return checkPeerRequest(value);
}

export type PeerRequestCheck = { ok: true; request: PeerRequest } | { ok: false; error: string };

/** More spool roots than anyone configures: a longer list is not a request pbx-ha makes. */
const MAX_INSTALL_PATHS = 64;

/** Checks a request already parsed from JSON (the control socket's); returns it typed, or why it is refused. */
export function checkPeerRequest(value: unknown): PeerRequestCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'request must be a JSON object' };
  const r = value as Record<string, unknown>;
  if (typeof r.request !== 'string' || !(PEER_REQUESTS as readonly string[]).includes(r.request)) {
    // Not String(r.request): {"toString": 1} makes it throw, and a huge or nested value makes a huge message.
    return {
      ok: false,
      error: `request ${shown(r.request)} is not one the peer may make (allowed: ${PEER_REQUESTS.join(', ')})`,
    };
  }
  if (typeof r.from !== 'string' || !NODE_NAME.test(r.from))
    return { ok: false, error: '"from" must be a node name' };
  if (r.request === 'peer-install') {
    if (typeof r.kind !== 'string' || !(COPY_KINDS as readonly string[]).includes(r.kind)) {
      return { ok: false, error: `"kind" must be one of ${COPY_KINDS.join(', ')}` };
    }
    if (r.digest !== undefined && (typeof r.digest !== 'string' || !/^[0-9a-f]{64}$/.test(r.digest))) {
      return { ok: false, error: '"digest" must be a SHA-256 in hex' };
    }
    // A files change copy names the spool roots it sent; the receiver installs them only if
    // they are among its own configured spool roots (receiver.ts): the sender selects, never names.
    if (
      r.paths !== undefined &&
      (r.kind !== 'files' ||
        !Array.isArray(r.paths) ||
        r.paths.length > MAX_INSTALL_PATHS ||
        !r.paths.every((p) => typeof p === 'string' && p.startsWith('/') && p.length <= 4096))
    ) {
      return {
        ok: false,
        error: `"paths" must be a list of at most ${MAX_INSTALL_PATHS} absolute paths, for a files copy only`,
      };
    }
    return {
      ok: true,
      request: {
        request: 'peer-install',
        from: r.from,
        kind: r.kind as CopyKind,
        digest: r.digest as string | undefined,
        ...(r.paths !== undefined ? { paths: r.paths as string[] } : {}),
      },
    };
  }
  if (r.request === 'peer-pg-follow') {
    // Never quoted in the error: it is a secret.
    if (typeof r.secret !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(r.secret))
      return { ok: false, error: '"secret" must be 16 to 128 base64url characters' };
    return { ok: true, request: { request: 'peer-pg-follow', from: r.from, secret: r.secret } };
  }
  return {
    ok: true,
    request: {
      request: r.request as Exclude<PeerRequestName, 'peer-install' | 'peer-pg-follow'>,
      from: r.from,
    },
  };
}

export interface PeerHello {
  node: string;
  role: 'master' | 'slave';
  state: string;
}

/** What a peer says about its state: an agent's state, or `stopped` when only its forced command answers. */
const HELLO_STATES: readonly string[] = [...NODE_STATES, 'stopped'];

/**
 * Checks the peer's answer to `peer-hello`: its node name (as `from` in a request), its role, and a
 * state this version knows, since callers print the answer and decide on its state.
 */
export function parseHello(answer: Record<string, unknown>): PeerHello {
  const value: unknown = answer;
  const malformed = (why: string) =>
    new Error(
      `the peer's answer to peer-hello is malformed (${why}): ${(JSON.stringify(value) ?? String(value)).slice(0, 200)}`,
    );
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed('not a JSON object');
  const { node, role, state } = answer;
  if (typeof node !== 'string' || !NODE_NAME.test(node)) throw malformed('"node" is not a node name');
  if (role !== 'master' && role !== 'slave') throw malformed('"role" is neither master nor slave');
  if (typeof state !== 'string' || !HELLO_STATES.includes(state))
    throw malformed(`"state" is not one of ${HELLO_STATES.join(', ')}`);
  return { node, role, state };
}

/** The slave's answer to `peer-quiesce`, checked field by field (see parseQuiesceAnswer). */
export interface QuiesceAnswer {
  node: string;
  state: string;
  /** The slave stopped its services and keeps the VIPs until the release (false: it does not serve). */
  quiesced: boolean;
  /**
   * The digest of each kind of data the slave reported, now final (null: it has none readable).
   * Kind-agnostic: `{ astdb: "…" }` today; another kind adds its own key.
   */
  digests: Record<string, string | null>;
  /**
   * Each kind's object as the slave sent it (`{ spool: { digest }, db: { installed, xid } }`):
   * its other fields are untrusted, checked by the code that reads them (a database's
   * transaction id is only compared with one known here, never used otherwise).
   */
  data: Record<string, Record<string, unknown>>;
}

/** More kinds of data than pbx-ha has: a longer list is not an answer pbx-ha makes. */
const MAX_DATA_KINDS = 16;
const DATA_KIND = /^[a-z][a-z0-9-]{0,31}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Checks the slave's answer to `peer-quiesce`: `{ ok: true, node, state, quiesced, data: { <kind>:
 * { digest: <SHA-256 hex> | null, … }, … } }` (each kind an object with its digest, a SHA-256
 * or null; the database's may give `{ installed, xid }` instead). Throws, naming the field, on
 * anything else.
 */
export function parseQuiesceAnswer(answer: Record<string, unknown>): QuiesceAnswer {
  const malformed = (why: string) =>
    new Error(
      `the peer's answer to peer-quiesce is malformed (${why}): ${(JSON.stringify(answer) ?? String(answer)).slice(0, 200)}`,
    );
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer))
    throw malformed('not a JSON object');
  if (answer.ok !== true) throw malformed('not an acceptance ("ok" is not true)');
  const { node, state, quiesced, data } = answer;
  if (typeof node !== 'string' || !NODE_NAME.test(node)) throw malformed('"node" is not a node name');
  if (typeof state !== 'string' || !HELLO_STATES.includes(state))
    throw malformed(`"state" is not one of ${HELLO_STATES.join(', ')}`);
  if (typeof quiesced !== 'boolean') throw malformed('"quiesced" is not true or false');
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw malformed('"data" is not an object');
  const kinds = Object.entries(data as Record<string, unknown>);
  if (kinds.length > MAX_DATA_KINDS) throw malformed(`"data" has more than ${MAX_DATA_KINDS} kinds`);
  const digests: Record<string, string | null> = {};
  const objects: Record<string, Record<string, unknown>> = {};
  for (const [kind, value] of kinds) {
    if (!DATA_KIND.test(kind)) throw malformed(`"data" names a kind ${shown(kind)}`);
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw malformed(`"data.${kind}" is not an object`);
    objects[kind] = value as Record<string, unknown>;
    // The database reports its state by a transaction id, not a digest (jobs/db/return.ts).
    if (kind === 'db' && !('digest' in value)) continue;
    const digest: unknown = (value as Record<string, unknown>).digest;
    if (digest !== null && (typeof digest !== 'string' || !SHA256_HEX.test(digest)))
      throw malformed(`"data.${kind}.digest" is neither a SHA-256 in hex nor null`);
    digests[kind] = digest;
  }
  return { node, state, quiesced, digests, data: objects };
}
