// Where an astdb copy comes from, and the decision that rests on it: after a failback, is the
// slave's astdb newer than the master's? Clocks are not trusted (the two nodes' clocks may
// disagree, and a file's mtime says nothing about who wrote what): only content digests decide.

import { promises as fs } from 'node:fs';
import { EMPTY_CONTENT_DIGEST } from './digest';
import { writeFileAtomic } from './durable-files';

/** The record kept beside each astdb copy, as `<file>.pbx-ha.json`. */
export interface Provenance {
  /** Content digest of the copy (digest.ts). */
  digest: string;
  /** Name of the node that made the copy. */
  madeBy: string;
  /** ISO time on madeBy's clock. For humans only: no decision reads it. */
  madeAtWall: string;
  /** Digest of the copy this one replaced, or null when it replaced nothing (or nothing known). */
  basedOn: string | null;
  /**
   * Set only on a kept file that could not be read as an astdb: what was wrong with it. Its
   * digest is then the SHA-256 of the file's bytes, since it has no readable content.
   */
  problem?: string;
}

export const PROVENANCE_SUFFIX = '.pbx-ha.json';

export function provenancePath(file: string): string {
  return file + PROVENANCE_SUFFIX;
}

const DIGEST = /^[0-9a-f]{64}$/;

/** Parses a sidecar's text; `source` names it in errors. Throws on anything but a valid record. */
export function parseProvenance(text: string, source: string): Provenance {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${source}: not JSON (${(err as Error).message}); expected a pbx-ha astdb provenance record`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(
      `${source}: expected a JSON object { digest, madeBy, madeAtWall, basedOn }, got ${JSON.stringify(value)}`,
    );
  }
  const record = value as Record<string, unknown>;
  const bad = (key: string, expected: string) =>
    new Error(`${source}: "${key}" is ${JSON.stringify(record[key])}, expected ${expected}`);
  if (typeof record.digest !== 'string' || !DIGEST.test(record.digest))
    throw bad('digest', 'a SHA-256 in lowercase hex (64 characters)');
  if (typeof record.madeBy !== 'string' || record.madeBy === '') throw bad('madeBy', 'a node name');
  if (typeof record.madeAtWall !== 'string' || Number.isNaN(Date.parse(record.madeAtWall)))
    throw bad('madeAtWall', 'an ISO time');
  if (record.basedOn !== null && (typeof record.basedOn !== 'string' || !DIGEST.test(record.basedOn))) {
    throw bad('basedOn', 'null or a SHA-256 in lowercase hex');
  }
  if (record.problem !== undefined && typeof record.problem !== 'string')
    throw bad('problem', 'a text, or absent');
  const parsed: Provenance = {
    digest: record.digest,
    madeBy: record.madeBy,
    madeAtWall: record.madeAtWall,
    basedOn: record.basedOn,
  };
  if (typeof record.problem === 'string') parsed.problem = record.problem;
  return parsed;
}

/** The record kept beside `file`, or null when there is none. Throws when it is unreadable. */
export async function readProvenance(file: string): Promise<Provenance | null> {
  const sidecar = provenancePath(file);
  let text: string;
  try {
    text = await fs.readFile(sidecar, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseProvenance(text, sidecar);
}

/** Writes the record beside `file` (temp file + rename: a reader never sees half a record). */
export async function writeProvenance(file: string, record: Provenance): Promise<void> {
  await writeFileAtomic(provenancePath(file), `${JSON.stringify(record, null, 2)}\n`);
}

export interface FetchInputs {
  /** Digest of the last astdb copy this master sent to the slave; null if it never sent one (or forgot). */
  lastSentDigest: string | null;
  /** Digest of the slave's astdb now; null if the slave has none it can read. */
  slaveDigest: string | null;
  /** Digest of the master's own astdb; null if the master's file is missing or unreadable. */
  masterDigest: string | null;
}

export interface FetchDecision {
  fetch: boolean;
  reason: string;
}

const short = (digest: string) => digest.slice(0, 8);

/**
 * Whether the master, back after a cut or a reboot, should replace its astdb with the slave's.
 * The slave's copy wins only when the slave changed what the master sent it, that is, when the
 * slave served the phones meanwhile (the design's rule). The master's file is kept in the backup
 * either way, by the install.
 */
export function shouldFetchFromSlave({
  lastSentDigest,
  slaveDigest,
  masterDigest,
}: FetchInputs): FetchDecision {
  if (slaveDigest === null) return { fetch: false, reason: 'the slave has no readable astdb' };
  if (slaveDigest === lastSentDigest) {
    return {
      fetch: false,
      reason: `the slave still holds the copy the master sent (${short(slaveDigest)}): it did not change it`,
    };
  }
  if (slaveDigest === masterDigest)
    return { fetch: false, reason: `the slave holds the same content as the master (${short(slaveDigest)})` };
  const masterHasData = masterDigest !== null && masterDigest !== EMPTY_CONTENT_DIGEST;
  const masterShown = masterDigest === null ? 'none' : short(masterDigest);
  // An empty astdb is what Asterisk creates when its file is missing: a slave that started
  // without its copy. Taking it would wipe every registration on the master.
  if (slaveDigest === EMPTY_CONTENT_DIGEST && masterHasData) {
    return {
      fetch: false,
      reason: "the slave's astdb is empty and the master's is not: keeping the master's",
    };
  }

  if (lastSentDigest === null) {
    // Unknown origin: the master does not remember what it last sent (first pairing, lost
    // state), so it cannot tell "the slave served and changed it" from "the slave has an old or
    // unrelated copy". Replacing a good astdb with an unknown one could take phones back to old
    // settings, so the master keeps its own, unless it has nothing to lose (file missing or
    // empty). An administrator who knows better can still copy the slave's astdb by hand.
    if (!masterHasData) {
      return {
        fetch: true,
        reason: `the master's astdb is ${masterDigest === null ? 'missing or unreadable' : 'empty'}; the slave's (${short(slaveDigest)}) is taken although its origin is unknown`,
      };
    }
    return {
      fetch: false,
      reason: `no record of the last copy sent to the slave: the slave's astdb (${short(slaveDigest)}) is of unknown origin, the master keeps its own (${masterShown})`,
    };
  }

  const masterChangedToo = masterDigest !== lastSentDigest;
  return {
    fetch: true,
    reason:
      `the slave changed its astdb since the master sent ${short(lastSentDigest)} (now ${short(slaveDigest)}): it served the phones` +
      (masterChangedToo ? "; the master's changed too, its file is kept in the backup" : ''),
  };
}
