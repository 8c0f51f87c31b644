// Where an astdb copy comes from: the record kept beside each copy. Clocks are not trusted (the
// two nodes' clocks may disagree, and a file's mtime says nothing about who wrote what): only
// content digests decide (see the failback's merge in peer/replication.ts).

import { promises as fs } from 'node:fs';
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
