/**
 * The two agents behind one interface, so that every scenario runs the same code for both:
 * start a pair with a timing and wait for its steady state, hand over as planned, stop
 * everything and leave the lab as it was.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Lab } from '../../lab/lab';
import { PBX_HA, PBX_NODES, type PbxNode } from '../../lab/layout';
import { removeVips, soleHolder, waitSoleHolder, waitState } from '../../lab/pair';
import { pollUntil, sleep } from '../../lab/run';
import { KeepalivedNode } from './keepalived';
import type { AgentName, Timing } from './types';

export interface PairDriver {
  readonly agent: AgentName;
  /** Starts both daemons (master first) and waits until pbx1 alone holds the VIPs and pbx2 stands by. */
  start(timing: Timing, pbxHaConfig?: string): Promise<void>;
  /** Why a planned handover cannot be measured with this agent, or null if it can. */
  plannedUnavailable(): string | null;
  /** The planned handover from pbx1 to pbx2 (keepalived: its master daemon stopped). */
  plannedHandover(): Promise<void>;
  /** Pid of the daemon in a node (null if none runs). */
  daemonPid(node: PbxNode): Promise<number | null>;
  /** Log file of the daemon in a node. */
  logPath(node: PbxNode): string;
  /** Stops both daemons (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

/** Puts the nodes back as `up` left them: no VIPs, cables plugged in. */
export async function cleanNodes(lab: Lab): Promise<void> {
  for (const node of PBX_NODES) {
    await removeVips(lab, node);
    await lab.restore(node);
  }
  await lab.flushPhoneArp().catch(() => undefined);
}

export class PbxHaDriver implements PairDriver {
  readonly agent = 'pbx-ha' as const;
  readonly failover: boolean;
  private failoverArgs: string[];

  constructor(private lab: Lab) {
    // `pbx-ha failover` is reported as missing, never faked, when this build has no such command.
    const help = this.helpText();
    const line = help.split('\n').find((l) => /^\s+failover\b/.test(l)) ?? '';
    this.failover = line !== '';
    this.failoverArgs = /--yes/.test(line) ? ['failover', '--yes'] : ['failover'];
  }

  private helpText(): string {
    const r = spawnSync(PBX_HA, ['help'], { encoding: 'utf8', timeout: 30_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  }

  async start(timing: Timing, config?: string): Promise<void> {
    if (!config) throw new Error('pbx-ha needs its configuration');
    for (const node of PBX_NODES) await this.lab.writeConfig(node, config);
    await this.lab.start('pbx1');
    await this.lab.start('pbx2');
    const limit = 30_000 + 10 * timing.intervalMs * timing.fall;
    await waitSoleHolder(this.lab, 'pbx1', limit, 200);
    await waitState(this.lab, 'pbx2', 'standby', limit);
    await waitState(this.lab, 'pbx1', 'active', limit);
  }

  plannedUnavailable(): string | null {
    return this.failover
      ? null
      : 'not available in this version (`pbx-ha failover` is not a command of this build)';
  }

  async plannedHandover(): Promise<void> {
    if (!this.failover) throw new Error(this.plannedUnavailable()!);
    await this.lab.exec('pbx1', [PBX_HA, ...this.failoverArgs], { timeoutMs: 60_000 });
  }

  async daemonPid(node: PbxNode): Promise<number | null> {
    return this.lab.agentPid(node);
  }

  logPath(node: PbxNode): string {
    return `${this.lab.nodeDir(node)}/agent.log`;
  }

  async stop(): Promise<void> {
    for (const node of PBX_NODES) {
      try {
        await this.lab.stop(node, 'TERM');
      } catch {
        await this.lab.stop(node, 'KILL').catch(() => undefined);
      }
    }
  }
}

export class KeepalivedDriver implements PairDriver {
  readonly agent = 'keepalived' as const;
  readonly nodes: Record<PbxNode, KeepalivedNode>;

  constructor(private lab: Lab) {
    this.nodes = { pbx1: new KeepalivedNode(lab, 'pbx1'), pbx2: new KeepalivedNode(lab, 'pbx2') };
  }

  async start(timing: Timing): Promise<void> {
    for (const node of PBX_NODES) await this.nodes[node].writeConfig(timing);
    const logStart = logSize(this.nodes.pbx2.logPath());
    await this.nodes.pbx1.start();
    const limit = 30_000 + 10 * timing.intervalMs * timing.fall;
    await waitSoleHolder(this.lab, 'pbx1', limit, 100);
    await this.nodes.pbx2.start();
    // The backup enters BACKUP at once; then it must have heard the master (its down timer
    // runs from the adverts), so give it three advert intervals.
    await pollUntil(
      'pbx2 in BACKUP (keepalived)',
      () => /\(VOIP\) Entering BACKUP STATE/.test(readFrom(this.nodes.pbx2.logPath(), logStart)),
      limit,
      100,
    );
    await sleep(3 * timing.intervalMs);
    if (!(await soleHolder(this.lab, 'pbx1')))
      throw new Error('keepalived: pbx1 lost the VIPs when pbx2 started');
  }

  plannedUnavailable(): string | null {
    return null;
  }

  async plannedHandover(): Promise<void> {
    await this.nodes.pbx1.stop('SIGTERM');
  }

  async daemonPid(node: PbxNode): Promise<number | null> {
    return this.nodes[node].pid;
  }

  logPath(node: PbxNode): string {
    return this.nodes[node].logPath();
  }

  async stop(): Promise<void> {
    for (const node of PBX_NODES) await this.nodes[node].reap().catch(() => undefined);
  }
}

/** Size of a file in bytes (0 if absent): an offset for readFrom. */
export function logSize(file: string): number {
  try {
    return readFileSync(file).length;
  } catch {
    return 0;
  }
}

/** Text of a file from a byte offset on ('' if absent). */
export function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
