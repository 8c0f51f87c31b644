// The run-time half of the rule on pbx-ha's own directories (config/own-dirs.ts checks the text):
// state_dir, exchange_dir and backup_dir hold the history, the copies received and the replaced
// data, and pbx-ha writes, empties and rotates them as root. `check-config` accepts
// /tmp/pbx-ha/state by its name; what is on the disk decides whether it is safe: a /tmp/pbx-ha
// made first by another user is theirs, and a directory anyone can write lets them plant links
// where root is about to write.
//
//   checkOwnDirOnDisk(dir, fs?): ScriptVerdict     walks the path on disk (script-security.ts)
//   judgeOwnDir(dir, walk, exists): ScriptVerdict  pure: the decision from what the walk found
//
// The rules, on every entry the kernel goes through, symbolic links followed one by one:
// - every directory above it is owned by root and writable by root alone, or sticky and root's
//   (/tmp: others may add entries beside pbx-ha's, not rename or delete root's);
// - every symbolic link is owned by root;
// - the directory itself, when it exists, is a directory owned by root and writable by root
//   alone (no sticky exception: pbx-ha's files are in it). When it does not exist yet the agent
//   creates it, as root, mode 0700, below the ancestors just checked.

import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { walkScriptPath, type ScriptFs, type ScriptVerdict, type ScriptWalk } from './script-security';

const NODE_FS: ScriptFs = { lstat: (p) => lstatSync(p), readlink: (p) => readlinkSync(p, 'utf8') };

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function writableByOthers(mode: number): boolean {
  return (mode & 0o022) !== 0;
}

/**
 * Whether `dir` (absolute) is safe as one of pbx-ha's own directories, from the walk to `dir`
 * itself when it exists (`exists`), or to its nearest existing ancestor when it does not.
 */
export function judgeOwnDir(dir: string, walk: ScriptWalk, exists: boolean): ScriptVerdict {
  if (!walk.ok) return walk;
  const last = walk.entries[walk.entries.length - 1];
  for (const e of walk.entries) {
    if (e.uid !== 0)
      return {
        ok: false,
        reason: `${e.role === 'link' ? 'symbolic link' : 'directory'} ${e.path} is owned by uid ${e.uid}, not root`,
      };
    if (e.role === 'link') continue;
    if (e.type !== 'directory') return { ok: false, reason: `${e.path} is not a directory` };
    const isDirItself = exists && e === last;
    if (writableByOthers(e.mode) && (isDirItself || (e.mode & 0o1000) === 0))
      return {
        ok: false,
        reason: `directory ${e.path} is writable by others than root (mode ${octal(e.mode)})`,
      };
  }
  return exists || last !== undefined
    ? { ok: true }
    : { ok: false, reason: `nothing of ${dir} could be examined` };
}

/**
 * Checks `dir` on the disk (see the rules above); the reason names the entry at fault. A
 * directory that does not exist is judged by its nearest existing ancestor.
 */
export function checkOwnDirOnDisk(dir: string, fs: ScriptFs = NODE_FS): ScriptVerdict {
  if (!path.isAbsolute(dir)) return { ok: false, reason: `${dir} is not an absolute path` };
  let existing = path.resolve(dir);
  for (;;) {
    try {
      fs.lstat(existing);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || existing === '/')
        return { ok: false, reason: `cannot examine ${existing} (${(e as Error).message})` };
      existing = path.dirname(existing);
    }
  }
  // The walk's last entry is recorded as the "file"; here it is the directory checked.
  const walk = walkScriptPath(existing, fs);
  if (walk.ok) for (const e of walk.entries) if (e.role === 'file') e.role = 'directory';
  return judgeOwnDir(dir, walk, existing === path.resolve(dir));
}
