// keepalived's script_security for the programs pbx-ha runs as root (services start/stop, the notify
// script, tracked checks): a program anyone but root could change, or swap through a directory or a
// symbolic link on its way, would run anyone's code as root. Such a program is never run.
//
//   checkScript(path): ScriptVerdict                    walks the path on disk (lstat, readlink)
//   judgeScript(walk: ScriptWalk): ScriptVerdict        pure: the decision, from what the walk found
//   walkScriptPath(path, fs?): ScriptWalk               the file system calls alone
//   type ScriptVerdict = { ok: true } | { ok: false; reason: string }
//
// The rules, checked on every entry the kernel goes through to reach the file, symbolic links
// followed one by one (so a link in a directory others can write is caught, not only its target):
// - every directory is owned by root and writable by root alone, except a root-owned directory with
//   the sticky bit (/tmp): there only an entry's owner (root, checked below) can rename or delete
//   it, so others can add files beside the script but not replace the script or its directories;
// - every symbolic link is owned by root (its own mode means nothing; in a sticky directory its
//   owner could delete it and make another);
// - the file is a regular file, owned by root, writable by root alone, and executable.
// Group and others are judged by the mode bits; POSIX ACLs are not read (pbx-ha does not set any).

import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export type ScriptVerdict = { ok: true } | { ok: false; reason: string };

export interface ScriptEntry {
  /** The entry as the walk reached it (through the links followed so far). */
  path: string;
  /** What the entry is to the walk: a directory passed through, a link followed, or the file itself. */
  role: 'directory' | 'link' | 'file';
  /** What lstat says it is. */
  type: 'directory' | 'file' | 'symlink' | 'other';
  uid: number;
  /** Permission bits with set-id and sticky bits (st_mode & 0o7777). */
  mode: number;
}

/** Every entry on the way to the file, in order; or why the walk could not reach it. */
export type ScriptWalk = { ok: true; entries: ScriptEntry[] } | { ok: false; reason: string };

export interface ScriptFs {
  lstat(p: string): {
    uid: number;
    mode: number;
    isDirectory(): boolean;
    isFile(): boolean;
    isSymbolicLink(): boolean;
  };
  readlink(p: string): string;
}

const NODE_FS: ScriptFs = { lstat: (p) => lstatSync(p), readlink: (p) => readlinkSync(p, 'utf8') };

/** Linux's limit of links followed when resolving one path (MAXSYMLINKS). */
const MAX_LINKS = 40;

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Who besides the owner may write: null when nobody. */
function otherWriters(mode: number): string | null {
  const group = (mode & 0o020) !== 0;
  const others = (mode & 0o002) !== 0;
  return group && others ? 'its group and others' : group ? 'its group' : others ? 'others' : null;
}

export function judgeScript(walk: ScriptWalk): ScriptVerdict {
  if (!walk.ok) return walk;
  const refuse = (reason: string): ScriptVerdict => ({ ok: false, reason });
  let file: ScriptEntry | null = null;
  for (const e of walk.entries) {
    const owner = e.uid === 0 ? null : `owned by uid ${e.uid}, not root`;
    if (e.role === 'directory') {
      if (owner !== null) return refuse(`directory ${e.path} is ${owner}`);
      const writers = otherWriters(e.mode);
      // Sticky and root's: only root can rename or delete what root owns in it (as /tmp).
      if (writers !== null && (e.mode & 0o1000) === 0)
        return refuse(`directory ${e.path} is writable by ${writers} (mode ${octal(e.mode)})`);
    } else if (e.role === 'link') {
      if (owner !== null) return refuse(`symbolic link ${e.path} is ${owner}`);
    } else {
      file = e;
    }
  }
  if (file === null) return { ok: false, reason: 'no file at the end of the path' };
  if (file.type !== 'file')
    return {
      ok: false,
      reason: `${file.path} is ${file.type === 'directory' ? 'a directory' : 'not a regular file'}`,
    };
  if (file.uid !== 0) return refuse(`${file.path} is owned by uid ${file.uid}, not root`);
  const writers = otherWriters(file.mode);
  if (writers !== null) return refuse(`${file.path} is writable by ${writers} (mode ${octal(file.mode)})`);
  if ((file.mode & 0o111) === 0)
    return { ok: false, reason: `${file.path} is not executable (mode ${octal(file.mode)})` };
  return { ok: true };
}

/** Goes through `program` as the kernel would, recording every directory, link and the file. */
export function walkScriptPath(program: string, fs: ScriptFs = NODE_FS): ScriptWalk {
  if (!path.isAbsolute(program)) return { ok: false, reason: `${program} is not an absolute path` };
  const entries: ScriptEntry[] = [];
  const seen = new Set<string>();
  const entry = (p: string, role: ScriptEntry['role'], st: ReturnType<ScriptFs['lstat']>): void => {
    const type = st.isSymbolicLink()
      ? 'symlink'
      : st.isDirectory()
        ? 'directory'
        : st.isFile()
          ? 'file'
          : 'other';
    const key = `${role} ${p}`;
    if (seen.has(key)) return;
    seen.add(key);
    entries.push({ path: p, role, type, uid: st.uid, mode: st.mode & 0o7777 });
  };
  const stat = (p: string): ReturnType<ScriptFs['lstat']> | string => {
    try {
      return fs.lstat(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT'
        ? `${p} does not exist`
        : code === 'ENOTDIR'
          ? `${path.dirname(p)} is not a directory`
          : `cannot examine ${p} (${(e as Error).message})`;
    }
  };

  const root = stat('/');
  if (typeof root === 'string') return { ok: false, reason: root };
  entry('/', 'directory', root);
  let current = '/';
  let pending = program.split('/').filter((part) => part !== '');
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = current === '/' ? `/${name}` : `${current}/${name}`;
    const st = stat(next);
    if (typeof st === 'string') return { ok: false, reason: st };
    if (st.isSymbolicLink()) {
      entry(next, 'link', st);
      if (++links > MAX_LINKS)
        return { ok: false, reason: `too many symbolic links on the way to ${program}` };
      let target: string;
      try {
        target = fs.readlink(next);
      } catch (e) {
        return { ok: false, reason: `cannot read the symbolic link ${next} (${(e as Error).message})` };
      }
      // The target's parts replace the link's; an absolute target starts again from /.
      pending = [...target.split('/').filter((part) => part !== ''), ...pending];
      if (target.startsWith('/')) current = '/';
      continue;
    }
    if (pending.length === 0) {
      entry(next, 'file', st);
    } else if (st.isDirectory()) {
      entry(next, 'directory', st);
    } else {
      return { ok: false, reason: `${next} is not a directory` };
    }
    current = next;
  }
  return { ok: true, entries };
}

/** Whether `program` may be run as root; the reason names the entry at fault. */
export function checkScript(program: string): ScriptVerdict {
  return judgeScript(walkScriptPath(program));
}
