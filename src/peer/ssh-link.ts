// The PeerLink over SSH: the control channel is an ssh2 session running the peer's forced
// `pbx-ha control`; files go with rsync over OpenSSH. Both use the same key, known_hosts and
// timeouts (link/target.ts), read from the configuration at each use (it may be reloaded).

import { existsSync } from 'node:fs';
import { runCommand } from '../adapters/exec';
import { SshControl } from '../adapters/ssh-control';
import type { PbxHaConfig } from '../config/types';
import { pushFiles } from '../jobs/files';
import { peerTarget, rsyncRemoteShell, type SshTarget } from '../link/target';
import type { PeerChannel, PeerLink, PushResult, FetchLimits } from '../ports/peer-link';

const RSYNC = '/usr/bin/rsync';

export class SshPeerLink implements PeerLink {
  constructor(
    private config: () => PbxHaConfig,
    private peerAddress: () => string,
  ) {}

  private target(): SshTarget {
    return peerTarget(this.config(), this.peerAddress());
  }

  async open(): Promise<PeerChannel> {
    const control = new SshControl(this.target());
    try {
      await control.connect();
    } catch (e) {
      control.close();
      throw e;
    }
    return control;
  }

  async send(file: string, remoteDir: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const target = this.target();
    await runCommand(
      [
        RSYNC,
        '-a',
        '--mkpath',
        '-e',
        rsyncRemoteShell(target),
        file,
        `${target.user}@${target.host}:${remoteDir}/`,
      ],
      { timeoutMs, signal },
    );
  }

  sendTree(paths: string[], remoteDir: string, timeoutMs: number, signal: AbortSignal): Promise<PushResult> {
    return pushFiles(this.target(), paths, remoteDir, timeoutMs, signal);
  }

  async fetch(remoteFile: string, file: string, timeoutMs: number, limits: FetchLimits = {}): Promise<void> {
    const target = this.target();
    await runCommand(
      [
        RSYNC,
        '-a',
        ...(limits.maxFileBytes !== undefined ? [`--max-size=${Math.floor(limits.maxFileBytes)}`] : []),
        ...(limits.filesFrom !== undefined ? [`--files-from=${limits.filesFrom}`] : []),
        '-e',
        rsyncRemoteShell(target),
        `${target.user}@${target.host}:${remoteFile}`,
        file,
      ],
      { timeoutMs },
    );
  }

  paired(): boolean {
    const r = this.config().replication;
    return existsSync(r.keyPath) && existsSync(r.knownHostsPath);
  }
}
