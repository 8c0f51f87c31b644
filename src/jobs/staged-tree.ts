// The exchange area as the receiving node's root processes use it. Whoever holds pbx-ha's key
// writes there (rrsync, confined to it), so anything in it may be a symbolic link or a special
// file planted to make a root process read, write or delete elsewhere. The rule: pbx-ha never
// follows a link it did not make.
// - `incoming/` and `outgoing/` are checked before each use: a real directory, owned by root,
//   0700; a link or another file in their place is removed and the directory made again (a
//   dangling `outgoing` link once made every later copy fail).
// - A staged file or directory is opened without following links at any level: every parent
//   is checked with lstat, the last component opened with O_NOFOLLOW, and the path the kernel
//   actually opened (/proc/self/fd) must be the expected one, so that a parent swapped for a
//   link between the check and the open is caught too. The caller then reads the open file
//   (or hands the open directory to rsync as /proc/self/fd/N), never the path again.
// - Files put in `outgoing/` for the peer to fetch are written under a fresh name created
//   with O_EXCL|O_NOFOLLOW (never through a planted link), then renamed into place.

import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, constants, lstatSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

export class StagedPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StagedPathError';
  }
}

const ownUid = () => process.getuid?.() ?? 0;
const ownGid = () => process.getgid?.() ?? 0;

/**
 * `exchange/<sub>` as a real directory, owned by this process's user (root), mode 0700, made or
 * repaired if needed; returns its path. Throws if the exchange directory itself is not a real
 * directory owned by this user (it is the node's own configuration, not the peer's).
 */
export function exchangeSubdir(exchange: string, sub: 'incoming' | 'outgoing'): string {
  mkdirSync(exchange, { recursive: true, mode: 0o700 });
  const top = lstatSync(exchange);
  if (!top.isDirectory() || top.uid !== ownUid()) {
    throw new StagedPathError(
      `${exchange}: the exchange directory must be a real directory owned by uid ${ownUid()} (it is ${top.isSymbolicLink() ? 'a symbolic link' : top.isDirectory() ? `owned by uid ${top.uid}` : 'not a directory'})`,
    );
  }
  const dir = path.join(exchange, sub);
  let st = lstatOrNull(dir);
  if (st && !st.isDirectory()) {
    // A link (dangling or not) or a file in the directory's place: the peer's doing, removed.
    rmSync(dir, { force: true });
    st = null;
  }
  if (!st) mkdirSync(dir, { mode: 0o700 });
  else if (st.uid !== ownUid() || st.gid !== ownGid()) chownSync(dir, ownUid(), ownGid());
  chmodSync(dir, 0o700);
  return dir;
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The parts of `rel`, refused if it could leave the root. */
function parts(rel: string): string[] {
  const list = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (list.length === 0)
    throw new StagedPathError(`${JSON.stringify(rel)}: not a path inside the staging area`);
  if (list.some((p) => p === '..' || p.includes('\0')))
    throw new StagedPathError(`${JSON.stringify(rel)}: not a path inside the staging area`);
  return list;
}

/**
 * Opens `root/rel` without following a link anywhere below `root`: a directory when `kind` is
 * 'dir', a regular file otherwise. Throws StagedPathError (naming the path and what is there)
 * when a link, a special file or something else is found, or when the kernel opened another
 * path than the one checked. `root` is the node's own directory (resolved once).
 */
export async function openStaged(root: string, rel: string, kind: 'file' | 'dir'): Promise<FileHandle> {
  const base = realpathSync(root);
  const names = parts(rel);
  const expected = path.join(base, ...names);
  let current = base;
  for (const name of names.slice(0, kind === 'dir' ? names.length : -1)) {
    current = path.join(current, name);
    const st = await fs.lstat(current).catch((e: NodeJS.ErrnoException) => {
      throw new StagedPathError(`${current}: ${e.code === 'ENOENT' ? 'missing' : e.message}`);
    });
    if (st.isSymbolicLink())
      throw new StagedPathError(
        `${current} is a symbolic link: refused (pbx-ha never follows a link in the staging area)`,
      );
    if (!st.isDirectory()) throw new StagedPathError(`${current} is not a directory`);
  }
  const flags =
    constants.O_RDONLY |
    constants.O_NOFOLLOW |
    constants.O_NONBLOCK |
    (kind === 'dir' ? constants.O_DIRECTORY : 0);
  let handle: FileHandle;
  try {
    handle = await fs.open(expected, flags);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ELOOP' || code === 'EMLINK'
        ? 'is a symbolic link: refused (pbx-ha never follows a link in the staging area)'
        : code === 'ENOENT'
          ? 'is missing'
          : code === 'ENOTDIR'
            ? 'is not a directory'
            : (e as Error).message;
    throw new StagedPathError(`${expected} ${why}`);
  }
  try {
    const st = await handle.stat();
    if (kind === 'file' ? !st.isFile() : !st.isDirectory())
      throw new StagedPathError(`${expected} is not a ${kind === 'file' ? 'regular file' : 'directory'}`);
    const opened = await fs.readlink(`/proc/self/fd/${handle.fd}`);
    if (opened !== expected)
      throw new StagedPathError(`${expected} changed while it was opened (it led to ${opened}): refused`);
    return handle;
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Copies all of `from` (from its start) to `to`, through the open handles; returns the bytes. */
async function copyBetween(from: FileHandle, to: FileHandle): Promise<number> {
  const buffer = Buffer.alloc(1024 * 1024);
  let total = 0;
  for (;;) {
    const { bytesRead } = await from.read(buffer, 0, buffer.length, total);
    if (bytesRead === 0) return total;
    let written = 0;
    while (written < bytesRead)
      written += (await to.write(buffer, written, bytesRead - written)).bytesWritten;
    total += bytesRead;
  }
}

/**
 * Copies the staged regular file `root/rel` to `dest` (a path of pbx-ha's own, replaced; created
 * 0600), reading it through openStaged. Returns the bytes copied.
 */
export async function copyStagedFile(root: string, rel: string, dest: string): Promise<number> {
  const source = await openStaged(root, rel, 'file');
  try {
    await fs.rm(dest, { force: true });
    const target = await fs.open(
      dest,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      const bytes = await copyBetween(source, target);
      await target.sync();
      return bytes;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Puts a copy of `file` (pbx-ha's own) in `exchange/outgoing/<name>` for the peer to fetch:
 * written under a fresh name (O_EXCL|O_NOFOLLOW: never through a planted link), then renamed
 * over whatever is at `name` (rename replaces a link, it does not follow it).
 */
export async function publishOutgoing(exchange: string, file: string, name: string): Promise<string> {
  if (parts(name).length !== 1) throw new StagedPathError(`${JSON.stringify(name)}: not a file name`);
  const dir = exchangeSubdir(exchange, 'outgoing');
  const final = path.join(dir, name);
  const temp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const target = await fs.open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    const opened = await fs.readlink(`/proc/self/fd/${target.fd}`);
    if (opened !== path.join(realpathSync(exchange), 'outgoing', path.basename(temp)))
      throw new StagedPathError(`${temp} led to ${opened}: refused`);
    const source = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await copyBetween(source, target);
    } finally {
      await source.close();
    }
    await target.sync();
  } catch (e) {
    await target.close();
    await fs.rm(temp, { force: true });
    throw e;
  }
  await target.close();
  await fs.rename(temp, final);
  return final;
}
