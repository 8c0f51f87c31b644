// Listings of the spool roots (domain/spool-return.ts): every regular file under each root with
// its size and modification time, walked with lstat (a link is listed nowhere and never
// followed). A listing is bounded (MAX_SPOOL_FILES entries, MAX_LISTING_BYTES as JSON): it is
// kept in the state directory as the base of the next failback, and a slave's listing is
// untrusted input, checked entry by entry before anything is decided from it.

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RootListing, SpoolEntry } from '../domain/spool-return';

/** More files than the spool of any PBX pbx-ha serves holds; a longer listing is refused. */
export const MAX_SPOOL_FILES = 200_000;
/** Largest listing read (the state's base, or the slave's), in bytes. */
export const MAX_LISTING_BYTES = 64 * 1024 * 1024;

/** Spool root (absolute) → its files. */
export type SpoolListing = Map<string, RootListing>;

export class SpoolListingError extends Error {}

/** Lists one root (absent: empty). Throws SpoolListingError past `max` files. */
export async function listRoot(root: string, max = MAX_SPOOL_FILES): Promise<RootListing> {
  const out: RootListing = new Map();
  const walk = async (dir: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (rel === '' && (code === 'ENOENT' || code === 'ENOTDIR')) return;
      if (code === 'ENOENT') return; // removed while walked
      throw e;
    }
    for (const name of names.sort()) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(full).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) await walk(full, r);
      else if (st.isFile()) {
        out.set(r, { size: st.size, mtime: Math.floor(st.mtimeMs / 1000) });
        if (out.size > max)
          throw new SpoolListingError(`${root} holds more than ${max} files: too many to list`);
      }
    }
  };
  const top = await fs.lstat(root).catch(() => null);
  if (top?.isDirectory()) await walk(root, '');
  return out;
}

export async function listRoots(roots: readonly string[]): Promise<SpoolListing> {
  const out: SpoolListing = new Map();
  for (const root of roots) out.set(root, await listRoot(root));
  return out;
}

/** The listing as JSON: `{"roots":{"/root":[["rel",size,mtime],…]}}`, roots and paths sorted. */
export function listingJson(listing: SpoolListing): string {
  const roots: Record<string, Array<[string, number, number]>> = {};
  for (const root of [...listing.keys()].sort())
    roots[root] = [...listing.get(root)!.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([p, e]) => [p, e.size, e.mtime]);
  return JSON.stringify({ roots });
}

/** SHA-256 (hex) of the listing's JSON: equal listings, equal digests. */
export function listingDigest(listing: SpoolListing): string {
  return createHash('sha256').update(listingJson(listing)).digest('hex');
}

/** Whether `rel` is a relative path that stays inside its root (no `.`, `..`, empty part or NUL). */
export function isSafeRelativePath(rel: string): boolean {
  if (rel.length === 0 || rel.length > 4096 || rel.startsWith('/') || rel.includes('\0')) return false;
  return rel.split('/').every((p) => p !== '' && p !== '.' && p !== '..' && Buffer.byteLength(p) <= 255);
}

/**
 * Reads a listing's JSON (the base kept here, or the slave's), keeping only the `roots` asked
 * for; throws SpoolListingError naming what is wrong (`what` names the source).
 */
export function parseListing(text: string, roots: readonly string[], what: string): SpoolListing {
  if (text.length > MAX_LISTING_BYTES)
    throw new SpoolListingError(`${what}: larger than ${MAX_LISTING_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SpoolListingError(`${what}: not JSON`);
  }
  const r = (value as { roots?: unknown } | null)?.roots;
  if (typeof r !== 'object' || r === null || Array.isArray(r))
    throw new SpoolListingError(`${what}: no "roots" object`);
  const out: SpoolListing = new Map();
  let count = 0;
  for (const root of roots) {
    const list = (r as Record<string, unknown>)[root];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new SpoolListingError(`${what}: ${root} is not a list`);
    const files: RootListing = new Map();
    for (const item of list) {
      if (++count > MAX_SPOOL_FILES)
        throw new SpoolListingError(`${what}: more than ${MAX_SPOOL_FILES} files`);
      if (
        !Array.isArray(item) ||
        item.length !== 3 ||
        typeof item[0] !== 'string' ||
        !isSafeRelativePath(item[0]) ||
        !Number.isSafeInteger(item[1]) ||
        (item[1] as number) < 0 ||
        !Number.isSafeInteger(item[2])
      )
        throw new SpoolListingError(
          `${what}: an entry of ${root} is not ["relative path", size, mtime]: ${JSON.stringify(item).slice(0, 200)}`,
        );
      files.set(item[0], { size: item[1] as number, mtime: item[2] as number } satisfies SpoolEntry);
    }
    out.set(root, files);
  }
  return out;
}

/** Where the master keeps the base of the next failback's spool return. */
export function spoolBasePath(stateDir: string): string {
  return path.join(stateDir, 'spool-base.json');
}

/** The base kept here for `roots` (a root never recorded is absent); empty when none is kept or it is unreadable. */
export async function readSpoolBase(stateDir: string, roots: readonly string[]): Promise<SpoolListing> {
  try {
    return parseListing(await fs.readFile(spoolBasePath(stateDir), 'utf8'), roots, spoolBasePath(stateDir));
  } catch {
    return new Map();
  }
}

/**
 * Records `listing` as the base of its roots: `replace` (a full copy, or the slave's listing
 * after a failback) sets each root to it; otherwise (a change copy, which adds and updates but
 * never removes on the slave) its entries are added to what the root had. Roots not in
 * `listing` keep their base; roots no longer configured (`configured`) are dropped. Written
 * atomically (temporary file, fsync, rename).
 */
export async function recordSpoolBase(
  stateDir: string,
  configured: readonly string[],
  listing: SpoolListing,
  replace: boolean,
): Promise<void> {
  const base = await readSpoolBase(stateDir, configured);
  for (const [root, files] of listing) {
    if (!configured.includes(root)) continue;
    const old = replace ? undefined : base.get(root);
    base.set(root, old ? new Map([...old, ...files]) : new Map(files));
  }
  const file = spoolBasePath(stateDir);
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.mkdir(stateDir, { recursive: true });
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(listingJson(base));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}
