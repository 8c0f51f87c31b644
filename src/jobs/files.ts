// The copy of configuration, sound and voicemail files (docs/replication.md, "The copies").
// Master: `rsync -aR --delete-after` of the configured paths into the slave's staging tree.
// Slave: on the master's `install` request, `rsync --delete-after --delay-updates --backup`
// from the staging tree into place, path by path, so that what it replaces is kept.
//
// The staging tree is written by whoever holds pbx-ha's key (staged-tree.ts): each configured
// path is opened without following links and handed to rsync as /proc/self/fd/3, so a link
// planted at or above it cannot send rsync elsewhere; links inside it were stored munged by
// rrsync (-munge) and are installed as the master had them (--munge-links on the sending side
// of the local copy takes the prefix off), never followed. Devices, FIFOs and sockets are not
// installed, setuid and setgid bits are taken off: configuration, sounds and voicemail never
// need them. The replaced files are kept under a root-only (0700) `files-<stamp>` directory,
// so that a file that was protected by its directory's mode stays protected there; the
// `keep` newest of those directories are kept.

import { existsSync, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../adapters/exec';
import { rsyncRemoteShell, type SshTarget } from '../link/target';
import type { PushResult } from '../ports/peer-link';
import { openStaged, StagedPathError } from './staged-tree';

const RSYNC = '/usr/bin/rsync';

/** rsync's `--stats` line with the bytes it sent, for the job record. */
export function sentBytes(statsOutput: string): number {
  const m = /Total bytes sent:\s*([\d,.]+)/.exec(statsOutput);
  return m ? Number(m[1].replace(/[,.]/g, '')) : 0;
}

/** argv of the master's push; `remoteDir` is relative to the peer's exchange directory. */
export function pushArgv(target: SshTarget, sources: string[], remoteDir: string): string[] {
  return [
    RSYNC,
    '-aR', // archive, keeping the absolute paths under the staging tree
    '--delete-after', // removals on the master reach the slave, after the transfer succeeded
    '--numeric-ids', // uid/gid as numbers: asterisk's uid is the same on both XiVO nodes
    '--stats',
    '-e',
    rsyncRemoteShell(target),
    ...sources,
    `${target.user}@${target.host}:${remoteDir}`,
  ];
}

/**
 * argv of the slave's installation of one path from the staging tree: `source` is the staged
 * directory, normally `/proc/self/fd/3` (opened by installFiles without following links).
 * `mirror`: files the master no longer has are removed (kept in `backupDir`); a change-driven
 * spool copy does not remove, so that what the slave recorded while it served stays in place
 * until the next full copy.
 */
export function installArgv(source: string, target: string, backupDir: string, mirror = true): string[] {
  return [
    RSYNC,
    '-a',
    ...(mirror ? ['--delete-after'] : []),
    '--delay-updates', // every changed file is renamed into place at the end, all together
    '--numeric-ids',
    '--munge-links', // links were stored munged by rrsync: installed as the master had them
    '--no-devices', // nor devices…
    '--no-specials', // …nor FIFOs and sockets: never part of configuration, sounds or voicemail
    '--chmod=ug-s', // no setuid or setgid bit
    '--backup', // what is replaced or deleted is kept…
    `--backup-dir=${backupDir}`, // …here, under the same relative path
    `${source}/`,
    `${target}/`,
  ];
}

export type { PushResult };

const FILES_BACKUP = /^files-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z(-\d+)?$/;

/** Removes the `files-<stamp>` directories of backupRoot beyond the `keep` newest, never `justMade`; returns them. */
export async function pruneFilesBackups(
  backupRoot: string,
  keep: number,
  justMade: string | null,
): Promise<string[]> {
  const names = (await fs.readdir(backupRoot))
    .filter((n) => FILES_BACKUP.test(n) && n !== justMade)
    .sort()
    .reverse();
  const doomed = names.slice(Math.max(0, keep - (justMade ? 1 : 0)));
  for (const name of doomed) await fs.rm(path.join(backupRoot, name), { recursive: true, force: true });
  return doomed.map((n) => path.join(backupRoot, n));
}

export async function pushFiles(
  target: SshTarget,
  paths: string[],
  remoteDir: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<PushResult> {
  // A plain Asterisk has no /etc/xivo: a path absent on the master is reported, not an error.
  const sent = paths.filter((p) => existsSync(p));
  const missing = paths.filter((p) => !existsSync(p));
  if (sent.length === 0) return { bytes: 0, sent, missing };
  const r = await runCommand(pushArgv(target, sent, remoteDir), { timeoutMs, signal });
  return { bytes: sentBytes(r.stdout), sent, missing };
}

/**
 * Installs each configured path the master sent from the staging tree, keeping what it replaces
 * under backupRoot/files-<stamp> (the `keep` newest such directories kept). Every path is
 * checked and opened before the first is installed; `backupDir` is null when nothing was
 * replaced: a link, or anything but a directory, at or
 * above a configured path refuses the whole copy (StagedPathError), nothing installed.
 */
export async function installFiles(
  stagingRoot: string,
  paths: string[],
  backupRoot: string,
  timeoutMs: number,
  keep = Number.POSITIVE_INFINITY,
  mirror = true,
): Promise<{ installed: string[]; backupDir: string | null; pruned: string[] }> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const opened: Array<{ path: string; dir: FileHandle }> = [];
  try {
    for (const p of paths) {
      try {
        opened.push({ path: p, dir: await openStaged(stagingRoot, p, 'dir') });
      } catch (e) {
        // Only what the master sent: a path it does not have is left alone here.
        if (e instanceof StagedPathError && / is missing$|: missing$/.test(e.message)) continue;
        throw e;
      }
    }
    await fs.mkdir(backupRoot, { recursive: true, mode: 0o700 });
    await fs.chmod(backupRoot, 0o700);
    let name = `files-${stamp}`;
    for (let n = 1; existsSync(path.join(backupRoot, name)); n++) name = `files-${stamp}-${n}`;
    const backupDir = path.join(backupRoot, name);
    await fs.mkdir(backupDir, { mode: 0o700 });
    const installed: string[] = [];
    try {
      for (const { path: p, dir } of opened) {
        await runCommand(installArgv('/proc/self/fd/3', p, path.join(backupDir, p), mirror), {
          timeoutMs,
          extraFds: [dir.fd],
        });
        installed.push(p);
      }
    } finally {
      // Nothing replaced: no empty backup directory left to count against `keep`.
      if ((await fs.readdir(backupDir)).length === 0) await fs.rmdir(backupDir);
    }
    const kept = existsSync(backupDir);
    const pruned = await pruneFilesBackups(backupRoot, keep, kept ? name : null);
    return { installed, backupDir: kept ? backupDir : null, pruned };
  } finally {
    for (const { dir } of opened) await dir.close();
  }
}
