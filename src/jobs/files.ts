// The copy of configuration, sound and voicemail files (docs/replication.md, "The copies").
// Master: `rsync -aR --delete-after` of the configured paths into the slave's staging tree.
// Slave: on the master's `install` request, `rsync --delete-after --delay-updates --backup`
// from the staging tree into place, path by path, so that what it replaces is kept.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../adapters/exec';
import { rsyncRemoteShell, type SshTarget } from '../link/target';
import type { PushResult } from '../ports/peer-link';

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
    '-e', rsyncRemoteShell(target),
    ...sources,
    `${target.user}@${target.host}:${remoteDir}`,
  ];
}

/** argv of the slave's installation of one path from the staging tree. */
export function installArgv(stagingRoot: string, target: string, backupDir: string): string[] {
  return [
    RSYNC,
    '-a',
    '--delete-after',
    '--delay-updates', // every changed file is renamed into place at the end, all together
    '--numeric-ids',
    '--backup', // what is replaced or deleted is kept…
    `--backup-dir=${backupDir}`, // …here, under the same relative path
    `${path.join(stagingRoot, target)}/`,
    `${target}/`,
  ];
}

export type { PushResult };

export async function pushFiles(target: SshTarget, paths: string[], remoteDir: string, timeoutMs: number, signal?: AbortSignal): Promise<PushResult> {
  // A plain Asterisk has no /etc/xivo: a path absent on the master is reported, not an error.
  const sent = paths.filter((p) => existsSync(p));
  const missing = paths.filter((p) => !existsSync(p));
  if (sent.length === 0) return { bytes: 0, sent, missing };
  const r = await runCommand(pushArgv(target, sent, remoteDir), { timeoutMs, signal });
  return { bytes: sentBytes(r.stdout), sent, missing };
}

export async function installFiles(stagingRoot: string, paths: string[], backupRoot: string, timeoutMs: number): Promise<{ installed: string[]; backupDir: string }> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const backupDir = path.join(backupRoot, `files-${stamp}`);
  const installed: string[] = [];
  for (const p of paths) {
    // Only what the master sent: a path it does not have is left alone here.
    if (!existsSync(path.join(stagingRoot, p))) continue;
    await runCommand(installArgv(stagingRoot, p, path.join(backupDir, p)), { timeoutMs });
    installed.push(p);
  }
  return { installed, backupDir };
}
