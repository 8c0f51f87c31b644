// Where and how to reach the peer, from the configuration: one place, so the control channel
// (ssh2) and rsync (OpenSSH) always use the same key, known_hosts and timeouts.

import type { PbxHaConfig } from '../config/types';

/** Where the peer's sshd listens, and pbx-ha's own key and known_hosts to reach it. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  connectTimeoutMs: number;
}

export function peerTarget(config: PbxHaConfig, peerAddress: string): SshTarget {
  const r = config.replication;
  return {
    host: peerAddress,
    port: r.port,
    user: r.user,
    keyFile: r.keyPath,
    knownHostsFile: r.knownHostsPath,
    connectTimeoutMs: r.connectTimeoutMs,
  };
}

/**
 * The `-e` of rsync: OpenSSH with pbx-ha's key and known_hosts only, never asking anything
 * (BatchMode) and never accepting an unknown or changed host key. rsync splits this string
 * on blanks itself (no shell); the configuration refuses paths with blanks.
 */
export function rsyncRemoteShell(t: SshTarget): string {
  const parts = [
    'ssh',
    '-i',
    t.keyFile,
    '-p',
    String(t.port),
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${t.knownHostsFile}`,
    '-o',
    `ConnectTimeout=${Math.ceil(t.connectTimeoutMs / 1000)}`,
  ];
  for (const p of parts) if (/\s/.test(p)) throw new Error(`rsync's ssh command cannot carry a blank: ${p}`);
  return parts.join(' ');
}
