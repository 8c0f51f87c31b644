// The spool files the slave changed while it served, brought back to the master at a failback
// (docs/replication.md, "What comes back at a failback"). The link is one-way (only the master
// holds a key to the slave), so the master pulls:
//   1. `peer-spool-list`: the slave lists its spool roots (jobs/spool-manifest.ts) into
//      `outgoing/spool-listing.json`; the master fetches and checks it, and plans against the
//      base and its own listing (domain/spool-return.ts);
//   2. only when files are wanted: the master sends their list (`incoming/spool/wanted.json`),
//      `peer-spool-export` makes the slave copy each of them, opened without following any
//      link, into `outgoing/spool-files/<n>` with `index.json`; the master fetches that
//      directory, checks each file against the index (size, SHA-256) and installs it.
// Nothing the slave sends names a place on the master: a file goes to one of the master's own
// configured spool roots, under a relative path checked part by part, every directory on the
// way checked with lstat (no link followed). What the master replaces or removes is kept
// under backup/spool-return/files-<stamp>/ (the `keep_backups` newest kept).

import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync, promises as fs, realpathSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { PbxHaConfig } from '../config/types';
import { planRootReturn, type SpoolAction, type SpoolEntry } from '../domain/spool-return';
import type { PeerChannel, PeerLink } from '../ports/peer-link';
import { pruneFilesBackups } from './files';
import {
  isSafeRelativePath,
  listRoots,
  MAX_LISTING_BYTES,
  listingDigest,
  listingJson,
  parseListing,
  readSpoolBase,
  recordSpoolBase,
  type SpoolListing,
} from './spool-manifest';
import { copyStagedFile, exchangeSubdir, openStaged, publishOutgoing } from './staged-tree';

export const SPOOL_LISTING = 'spool-listing.json';
export const SPOOL_FILES_DIR = 'spool-files';
export const SPOOL_WANTED = 'spool/wanted.json';
/** Files named in one alert or answer; the rest are counted. */
const NAMED_MAX = 20;
/** Files asked for in one export. */
const MAX_WANTED = 100_000;
/**
 * Bytes of the list of wanted files (the slave's side) and of the index of exported files (the
 * master's side): read whole and parsed, so bounded before they are read (100 000 entries of
 * ordinary voicemail paths take a few MiB).
 */
export const MAX_WANTED_BYTES = 16 * 1024 * 1024;
const MAX_INDEX_BYTES = 32 * 1024 * 1024;
/** Slack over the largest file listed, for a file the slave still wrote to after its listing. */
const GROWTH_SLACK_BYTES = 16 * 1024 * 1024;

/** The text of an opened file of the peer's, refused unread when larger than `max` bytes. */
async function readBounded(fh: FileHandle, max: number, what: string): Promise<string> {
  const { size } = await fh.stat();
  if (size > max) throw new Error(`${what} is ${size} bytes, more than the ${max} pbx-ha reads: refused`);
  return fh.readFile('utf8');
}

// ---------------------------------------------------------------- the slave's side

async function privateDir(config: PbxHaConfig, name: string): Promise<string> {
  const dir = path.join(config.agent.stateDir, 'work', name);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The digest of a listing of `roots` that are all empty: a slave with nothing to bring back. */
export function emptyListingDigest(roots: readonly string[]): string {
  return listingDigest(new Map(roots.map((r) => [r, new Map()])));
}

/** The digest of this node's spool listing (the release answer's `spool`); null when none is configured. */
export async function spoolInfo(config: PbxHaConfig): Promise<{ digest: string | null }> {
  const roots = config.replication.files.spool;
  if (roots.length === 0) return { digest: null };
  return { digest: listingDigest(await listRoots(roots)) };
}

/** `peer-spool-list`: publishes this node's listing in outgoing/ and answers its digest. */
export async function publishSpoolListing(config: PbxHaConfig): Promise<Record<string, unknown>> {
  const listing = await listRoots(config.replication.files.spool);
  const digest = listingDigest(listing);
  // Nothing to bring back: no file to publish (the master stops at the digest).
  if (digest === emptyListingDigest(config.replication.files.spool)) return { ok: true, digest, files: 0 };
  const file = path.join(await privateDir(config, 'spool'), SPOOL_LISTING);
  await fs.writeFile(file, listingJson(listing), { mode: 0o600 });
  await publishOutgoing(config.replication.exchangeDir, file, SPOOL_LISTING);
  let files = 0;
  for (const l of listing.values()) files += l.size;
  return { ok: true, digest: listingDigest(listing), files };
}

/**
 * `peer-spool-export`: copies the files the master listed in incoming/spool/wanted.json (each
 * under one of this node's spool roots, opened without following links) into
 * outgoing/spool-files/<n>, with index.json: `[{n, root, path, size, mtime, sha256}]`. A wanted
 * file gone meanwhile is left out (the next listing shows its removal).
 */
export async function publishSpoolFiles(config: PbxHaConfig): Promise<Record<string, unknown>> {
  const ex = config.replication.exchangeDir;
  const wantedCopy = path.join(await privateDir(config, 'spool'), 'wanted.json');
  const incoming = exchangeSubdir(ex, 'incoming');
  // Checked before it is copied or read: a file the size of the disk is refused unread.
  const staged = await openStaged(incoming, SPOOL_WANTED, 'file');
  const stagedBytes = (await staged.stat().finally(() => staged.close())).size;
  if (stagedBytes > MAX_WANTED_BYTES)
    throw new Error(
      `the list of wanted spool files is ${stagedBytes} bytes, more than the ${MAX_WANTED_BYTES} pbx-ha reads: refused`,
    );
  await copyStagedFile(incoming, SPOOL_WANTED, wantedCopy);
  const copy = await fs.open(wantedCopy, constants.O_RDONLY | constants.O_NOFOLLOW);
  const wanted = parseWanted(
    await readBounded(copy, MAX_WANTED_BYTES, 'the list of wanted spool files').finally(() => copy.close()),
    config.replication.files.spool,
  );
  const outgoing = exchangeSubdir(ex, 'outgoing');
  await fs.rm(path.join(outgoing, SPOOL_FILES_DIR), { recursive: true, force: true });
  await fs.mkdir(path.join(outgoing, SPOOL_FILES_DIR), { mode: 0o700 });
  // Written through the opened directory (/proc/self/fd/N): a link put in its place meanwhile is not followed.
  const dir = await openStaged(outgoing, SPOOL_FILES_DIR, 'dir');
  const index: Array<Record<string, unknown>> = [];
  let bytes = 0;
  try {
    for (const [n, w] of wanted.entries()) {
      let source: FileHandle;
      try {
        source = await openStaged(w.root, w.path, 'file');
      } catch {
        continue;
      }
      try {
        const st = await source.stat();
        const target = await fs.open(
          `/proc/self/fd/${dir.fd}/${n}`,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        try {
          const sha256 = await copyHashing(source, target);
          index.push({
            n,
            root: w.root,
            path: w.path,
            size: st.size,
            mtime: Math.floor(st.mtimeMs / 1000),
            sha256,
          });
          bytes += st.size;
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
    }
    const indexFile = path.join(await privateDir(config, 'spool'), 'index.json');
    await fs.writeFile(indexFile, JSON.stringify(index), { mode: 0o600 });
    const target = await fs.open(
      `/proc/self/fd/${dir.fd}/index.json`,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await target.writeFile(await fs.readFile(indexFile));
    } finally {
      await target.close();
    }
  } finally {
    await dir.close();
  }
  return { ok: true, files: index.length, bytes };
}

function parseWanted(text: string, roots: readonly string[]): Array<{ root: string; path: string }> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('the list of wanted spool files is not JSON');
  }
  if (!Array.isArray(value) || value.length > MAX_WANTED)
    throw new Error(`the list of wanted spool files must be a list of at most ${MAX_WANTED} entries`);
  // Each file once: a list naming one recording a thousand times would fill this node's disk.
  const seen = new Set<string>();
  return value.flatMap((w) => {
    const { root, path: p } = (w ?? {}) as { root?: unknown; path?: unknown };
    if (typeof root !== 'string' || !roots.includes(root) || typeof p !== 'string' || !isSafeRelativePath(p))
      throw new Error(
        `a wanted spool file is not a relative path under one of this node's spool roots: ${JSON.stringify(w).slice(0, 200)}`,
      );
    const key = `${root}\0${p}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ root, path: p }];
  });
}

async function copyHashing(from: FileHandle, to: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1024 * 1024);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await from.read(buffer, 0, buffer.length, pos);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    let written = 0;
    while (written < bytesRead)
      written += (await to.write(buffer, written, bytesRead - written)).bytesWritten;
    pos += bytesRead;
  }
  await to.sync();
  return hash.digest('hex');
}

async function fileSha256(file: string): Promise<string | null> {
  try {
    const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const hash = createHash('sha256');
      for await (const chunk of fh.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
      return hash.digest('hex');
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the master's side

export interface SpoolReturnDeps {
  config: PbxHaConfig;
  node: string;
  link: PeerLink;
  control: PeerChannel;
  /** Asked before anything here is stopped or replaced. */
  stillWanted: () => boolean;
  stopServices: () => Promise<void>;
  alert: (message: string) => void;
}

export interface SpoolReturnResult {
  detail: string;
  /** The digest of the slave's listing this return brought across (null: none configured). */
  slaveDigest: string | null;
}

/**
 * Brings the slave's spool changes here; `knownDigest`: the slave's listing digest already
 * brought across (the early fetch's): equal to `releasedDigest` (the release answer's), nothing
 * is asked at all. Throws when the files could not be brought across.
 */
export async function returnSpool(
  d: SpoolReturnDeps,
  knownDigest: string | null | undefined,
  releasedDigest: string | null | undefined,
): Promise<SpoolReturnResult> {
  const { config, node } = d;
  const roots = config.replication.files.spool;
  if (roots.length === 0) return { detail: 'spool: no spool path configured', slaveDigest: null };
  if (typeof releasedDigest === 'string' && releasedDigest === knownDigest)
    return { detail: 'spool: unchanged since the early fetch', slaveDigest: knownDigest ?? null };
  if (releasedDigest === emptyListingDigest(roots))
    return {
      detail: "spool: the slave's spool is empty: nothing brought back, nothing removed",
      slaveDigest: null,
    };
  const listed = await d.control.request({ request: 'peer-spool-list', from: node }, 60_000);
  if (listed.ok !== true) throw new Error(`spool listing: ${String(listed.error)}`);
  if (typeof listed.digest === 'string' && listed.digest === knownDigest)
    return { detail: 'spool: unchanged since the last fetch', slaveDigest: knownDigest };
  if (listed.digest === emptyListingDigest(roots))
    return {
      detail: "spool: the slave's spool is empty: nothing brought back, nothing removed",
      slaveDigest: null,
    };
  const work = path.join(config.agent.stateDir, 'work', 'spool-return');
  await fs.rm(work, { recursive: true, force: true });
  await fs.mkdir(work, { recursive: true, mode: 0o700 });
  const timeout = config.replication.files.timeoutMs;
  await d.link.fetch(`outgoing/${SPOOL_LISTING}`, path.join(work, SPOOL_LISTING), timeout, {
    maxFileBytes: MAX_LISTING_BYTES,
  });
  const listingFh = await openStaged(work, SPOOL_LISTING, 'file');
  const slave = parseListing(
    await readBounded(listingFh, MAX_LISTING_BYTES, "the slave's spool listing").finally(() =>
      listingFh.close(),
    ),
    roots,
    "the slave's spool listing",
  );
  const slaveDigest = listingDigest(new Map(roots.map((r) => [r, slave.get(r) ?? new Map()])));
  if (slaveDigest === knownDigest) return { detail: 'spool: unchanged since the early fetch', slaveDigest };
  // An empty spool is what a slave whose disk was replaced, or whose spool is mounted elsewhere,
  // shows: taken as deletions, it would remove every voicemail here. So, root by root: an empty
  // root on the slave brings nothing back and removes nothing.
  if ([...slave.values()].every((l) => l.size === 0))
    return {
      detail: "spool: the slave's spool is empty: nothing brought back, nothing removed",
      slaveDigest,
    };
  const emptyThere = roots.filter((r) => (slave.get(r)?.size ?? 0) === 0);
  const base = await readSpoolBase(config.agent.stateDir, roots);
  const mine = await listRoots(roots);
  const actions: SpoolAction[] = roots
    .filter((r) => !emptyThere.includes(r))
    .flatMap((r) =>
      planRootReturn(r, base.get(r) ?? null, slave.get(r) ?? new Map(), mine.get(r) ?? new Map()),
    );
  const leftAlone = emptyThere.length
    ? `; ${emptyThere.join(', ')} empty on the slave: left as here (nothing brought back, nothing removed)`
    : '';
  if (actions.length === 0) {
    await recordSpoolBase(config.agent.stateDir, roots, slaveListingOf(slave, roots), true);
    return { detail: `spool: nothing the slave changed is missing here${leftAlone}`, slaveDigest };
  }
  const installs = actions.filter((a) => a.kind === 'install');
  const fetched = new Map<string, { file: string; entry: SpoolEntry; sha256: string }>();
  if (installs.length > 0) {
    const wantedFile = path.join(work, 'wanted.json');
    const wantedText = JSON.stringify(installs.map((a) => ({ root: a.root, path: a.path })));
    if (Buffer.byteLength(wantedText) > MAX_WANTED_BYTES || installs.length > MAX_WANTED)
      throw new Error(
        `${installs.length} spool files to bring back: more than one failback asks for (${MAX_WANTED} files, ${MAX_WANTED_BYTES} bytes of names); the slave keeps them, the next full copy keeps them in its backup`,
      );
    await fs.writeFile(wantedFile, wantedText, { mode: 0o600 });
    await d.link.send(wantedFile, 'incoming/spool', timeout, new AbortController().signal);
    const exported = await d.control.request({ request: 'peer-spool-export', from: node }, 15 * 60_000);
    if (exported.ok !== true) throw new Error(`spool export: ${String(exported.error)}`);
    const filesDir = path.join(work, SPOOL_FILES_DIR);
    await fs.mkdir(filesDir, { mode: 0o700 });
    // Only the entries asked for (the index and one file per wanted file), none larger than the
    // largest listed (plus slack for one still written to): the slave cannot fill this disk.
    const names = path.join(work, 'fetch-names');
    await fs.writeFile(names, ['index.json', ...installs.map((_, n) => String(n))].join('\n') + '\n', {
      mode: 0o600,
    });
    const largest = installs.reduce((m, a) => Math.max(m, a.slave.size), 0);
    await d.link.fetch(`outgoing/${SPOOL_FILES_DIR}/`, `${filesDir}/`, timeout, {
      filesFrom: names,
      maxFileBytes: Math.max(largest + GROWTH_SLACK_BYTES, MAX_INDEX_BYTES),
    });
    const indexFh = await openStaged(filesDir, 'index.json', 'file');
    const index = parseIndex(
      await readBounded(indexFh, MAX_INDEX_BYTES, "the slave's index of spool files").finally(() =>
        indexFh.close(),
      ),
      installs.length,
    );
    for (const [n, a] of installs.entries()) {
      const e = index.get(n);
      if (!e || e.root !== a.root || e.path !== a.path) continue; // gone on the slave meanwhile
      fetched.set(`${a.root}\0${a.path}`, {
        file: path.join(filesDir, String(n)),
        entry: e,
        sha256: e.sha256,
      });
    }
  }
  if (!d.stillWanted())
    return { detail: 'spool: failback abandoned before the install: nothing replaced', slaveDigest: null };
  await d.stopServices();
  const applied = await applyActions(d.config, actions, fetched, filesDirOrNull(work));
  // What both nodes now hold: the slave's listing as it was brought across.
  await recordSpoolBase(config.agent.stateDir, roots, slaveListingOf(slave, roots, applied.skipped), true);
  const conflicts = applied.conflicts;
  if (conflicts.length > 0)
    d.alert(
      `failback: ${conflicts.length} spool file(s) changed on both nodes; the slave's version (it served last) is in place, the master's kept in ${applied.backupDir}: ${named(conflicts)}`,
    );
  return {
    detail:
      `spool: ${applied.installed} file(s) from the slave installed, ${applied.removed} removed as on the slave` +
      (conflicts.length ? `, ${conflicts.length} changed on both sides (${named(conflicts)})` : '') +
      (applied.skipped.size
        ? `, ${applied.skipped.size} not brought across (${named([...applied.skipped].map((k) => k.replace('\0', '/')))})`
        : '') +
      (applied.backupDir ? `; the master's replaced files kept in ${applied.backupDir}` : '') +
      leftAlone,
    slaveDigest: applied.skipped.size ? null : slaveDigest,
  };
}

const filesDirOrNull = (work: string) => path.join(work, SPOOL_FILES_DIR);

function named(list: readonly string[]): string {
  return (
    list.slice(0, NAMED_MAX).join(', ') +
    (list.length > NAMED_MAX ? `, … (${list.length - NAMED_MAX} more)` : '')
  );
}

/** The slave's listing, without the files that could not be brought across (they are not in common). */
function slaveListingOf(
  slave: SpoolListing,
  roots: readonly string[],
  skipped = new Set<string>(),
): SpoolListing {
  const out: SpoolListing = new Map();
  for (const r of roots) {
    const files = new Map(slave.get(r) ?? []);
    for (const p of files.keys()) if (skipped.has(`${r}\0${p}`)) files.delete(p);
    out.set(r, files);
  }
  return out;
}

interface IndexEntry extends SpoolEntry {
  root: string;
  path: string;
  sha256: string;
}

function parseIndex(text: string, max: number): Map<number, IndexEntry> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error("the slave's index of spool files is not JSON");
  }
  if (!Array.isArray(value) || value.length > max)
    throw new Error(`the slave's index of spool files must list at most the ${max} files asked for`);
  const out = new Map<number, IndexEntry>();
  for (const v of value) {
    const e = (v ?? {}) as Record<string, unknown>;
    if (
      !Number.isSafeInteger(e.n) ||
      (e.n as number) < 0 ||
      (e.n as number) >= max ||
      typeof e.root !== 'string' ||
      typeof e.path !== 'string' ||
      !Number.isSafeInteger(e.size) ||
      !Number.isSafeInteger(e.mtime) ||
      typeof e.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(e.sha256)
    )
      throw new Error(
        `an entry of the slave's index of spool files is malformed: ${JSON.stringify(v).slice(0, 200)}`,
      );
    out.set(e.n as number, {
      root: e.root,
      path: e.path,
      size: e.size as number,
      mtime: e.mtime as number,
      sha256: e.sha256,
    });
  }
  return out;
}

/**
 * Opens the directory `rel` (relative, checked) under `root`, made where missing like its parent
 * (owner and mode). Every step is taken from the directory opened before it, through
 * /proc/self/fd, without following a link: whoever can write the spool (Asterisk's user) cannot
 * swap a directory on the way for a link and have root create, change the owner of or write a
 * file in another place. A link or a file on the way refuses it.
 */
export async function openDir(root: string, rel: string): Promise<FileHandle> {
  const DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
  // A configured root absent here (no recording made on this node yet): made like its parent.
  if (!(await fs.lstat(root).catch(() => null)))
    await (await openDir(path.dirname(root), path.basename(root))).close();
  let current = await fs.open(realpathSync(root), DIR);
  try {
    for (const part of rel === '' ? [] : rel.split('/')) {
      const at = `/proc/self/fd/${current.fd}/${part}`;
      let next = await fs.open(at, DIR).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw new Error(
          `${path.join(root, rel)}: ${part} is not a directory (a link or a file is in its place): refused`,
        );
      });
      if (next === null) {
        const parent = await current.stat();
        await fs.mkdir(at, { mode: parent.mode & 0o777 });
        next = await fs.open(at, DIR);
        await next.chown(parent.uid, parent.gid);
        await next.chmod(parent.mode & 0o777);
      }
      await current.close();
      current = next;
    }
    return current;
  } catch (e) {
    await current.close();
    throw e;
  }
}

async function keepCopy(target: string, backup: string): Promise<void> {
  await fs.mkdir(path.dirname(backup), { recursive: true, mode: 0o700 });
  await fs.copyFile(target, backup, constants.COPYFILE_EXCL);
  const st = await fs.lstat(target);
  await fs.utimes(backup, st.atime, st.mtime);
}

async function applyActions(
  config: PbxHaConfig,
  actions: readonly SpoolAction[],
  fetched: Map<string, { file: string; entry: SpoolEntry; sha256: string }>,
  filesDir: string,
): Promise<{
  installed: number;
  removed: number;
  conflicts: string[];
  skipped: Set<string>;
  backupDir: string | null;
}> {
  const backupRoot = path.join(config.replication.backupDir, 'spool-return');
  await fs.mkdir(backupRoot, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let name = `files-${stamp}`;
  for (let n = 1; existsSync(path.join(backupRoot, name)); n++) name = `files-${stamp}-${n}`;
  const backupDir = path.join(backupRoot, name);
  let installed = 0;
  let removed = 0;
  const conflicts: string[] = [];
  const skipped = new Set<string>();
  for (const a of actions) {
    const target = path.join(a.root, a.path);
    const key = `${a.root}\0${a.path}`;
    const backup = path.join(backupDir, a.root, a.path);
    // A link or a file where a directory goes (the master's own tree): that file is left out, reported.
    const dir = await openDir(a.root, path.dirname(a.path) === '.' ? '' : path.dirname(a.path)).catch(
      () => null,
    );
    if (dir === null) {
      skipped.add(key);
      continue;
    }
    // Everything below goes through the opened directory: its entry, never a path to it.
    const at = (name: string) => `/proc/self/fd/${dir.fd}/${name}`;
    const name = path.basename(a.path);
    try {
      const current = await fs.lstat(at(name)).catch(() => null);
      if (a.kind === 'remove' && !current) continue;
      if (current && !current.isFile()) {
        skipped.add(key); // a link or a directory here: never replaced by a file from the slave
        continue;
      }
      if (a.kind === 'remove') {
        if (current) {
          await keepCopy(at(name), backup);
          await fs.unlink(at(name));
          removed++;
          if (a.conflict) conflicts.push(`${target} (deleted on the slave)`);
        }
        continue;
      }
      const got = fetched.get(key);
      if (!got) {
        skipped.add(key);
        continue;
      }
      const source = await openStaged(filesDir, path.basename(got.file), 'file');
      const tmp = `.pbx-ha-return-${randomBytes(6).toString('hex')}`;
      try {
        const out = await fs.open(
          at(tmp),
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        let sha256: string;
        try {
          sha256 = await copyHashing(source, out);
          const top = await fs.lstat(a.root);
          await out.chown(top.uid, top.gid);
          await out.chmod((current?.mode ?? 0o660) & 0o777);
          await out.utimes(new Date(), new Date(got.entry.mtime * 1000));
        } finally {
          await out.close();
        }
        if (sha256 !== got.sha256)
          throw new Error(`${target}: the file fetched is not the one the slave exported`);
        const same = current ? (await fileSha256(at(name))) === sha256 : false;
        if (current) await keepCopy(at(name), backup);
        await fs.rename(at(tmp), at(name));
        installed++;
        if (a.conflict && !same) conflicts.push(target);
      } catch (e) {
        await fs.rm(at(tmp), { force: true });
        throw e;
      } finally {
        await source.close();
      }
    } finally {
      await dir.close();
    }
  }
  const kept = existsSync(backupDir);
  await pruneFilesBackups(backupRoot, config.replication.keepBackups, kept ? name : null);
  return { installed, removed, conflicts, skipped, backupDir: kept ? backupDir : null };
}
