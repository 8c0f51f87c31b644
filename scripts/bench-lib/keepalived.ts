/**
 * keepalived in the lab, set up to do pbx-ha's job: the VOIP VIP on eth0 and the DATA VIP on
 * eth1 (two VRRP instances in a sync group, so they move together as pbx-ha's two VIPs do),
 * with the same routes (source = the VIP), pbx1 preferred (priority 150 vs 100) and
 * preemption on (pbx-ha fails back, so keepalived must too). Advertisements go by multicast
 * (224.0.0.18, keepalived's default): nothing to add per peer, and on one LAN segment a unicast
 * advert would take the same path in the same time. Every gratuitous ARP setting is left at
 * keepalived's default (stated in the report).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab } from '../../lab/lab';
import { type PbxNode, VIPS, type Vip } from '../../lab/layout';
import { run } from '../../lab/run';
import type { Timing } from './types';

export const KEEPALIVED_DEFAULTS = [
  'vrrp_garp_master_delay 5 (a second burst 5 s after becoming master)',
  'vrrp_garp_master_repeat 5 (5 gratuitous ARPs per burst)',
  'vrrp_garp_interval 0 (the 5 are sent back to back)',
  'vrrp_garp_master_refresh 0 (no periodic refresh)',
  'vrrp_garp_lower_prio_delay / _repeat = the master values',
  'preempt on, preempt_delay 0; skew time (256 − priority) / 256 × advert_int; down_timer_adverts 3',
  'no max_auto_priority / vrrp_rt_priority: normal scheduling, like pbx-ha',
];

export function keepalivedConfig(node: PbxNode, timing: Timing): string {
  const master = node === 'pbx1';
  // The VIP's route as the lab's pbx-ha.conf has it, with the VIP as source (as pbx-ha adds it).
  const instance = (v: Vip, vrid: number) => `
vrrp_instance ${v.name.toUpperCase()} {
    state ${master ? 'MASTER' : 'BACKUP'}
    interface ${v.iface}
    virtual_router_id ${vrid}
    priority ${master ? 150 : 100}
    advert_int ${timing.advertInt}
    virtual_ipaddress {
        ${v.address}/${v.prefix} dev ${v.iface}
    }
    virtual_routes {
        ${v.route.dst} via ${v.route.via} src ${v.address} dev ${v.iface}
    }
}
`;
  return `! keepalived.conf written by scripts/bench for ${node}, timing ${timing.name}
global_defs {
    router_id ${node}
    vrrp_version ${timing.vrrpVersion}
}

vrrp_sync_group PBX {
    group {
${VIPS.map((v) => `        ${v.name.toUpperCase()}\n`).join('')}    }
}
${VIPS.map((v, i) => instance(v, 51 + i)).join('')}`;
}

/** keepalived's version line, e.g. "Keepalived v2.2.7 (01/16,2022)". */
export async function keepalivedVersion(): Promise<string> {
  const r = await run(['keepalived', '--version'], { allowFail: true });
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => /Keepalived v/.test(l))
      ?.trim() ?? 'unknown'
  );
}

/** Runs keepalived (VRRP only, in the foreground, logging to NODEDIR/keepalived.log) in a node. */
export class KeepalivedNode {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private lab: Lab,
    readonly node: PbxNode,
  ) {}

  confPath(): string {
    return path.join(this.lab.nodeDir(this.node), 'keepalived.conf');
  }

  logPath(): string {
    return path.join(this.lab.nodeDir(this.node), 'keepalived.log');
  }

  get pid(): number | null {
    return this.child && this.child.exitCode === null && this.child.signalCode === null
      ? (this.child.pid ?? null)
      : null;
  }

  async writeConfig(timing: Timing): Promise<string> {
    const text = keepalivedConfig(this.node, timing);
    writeFileSync(this.confPath(), text);
    const check = await this.lab.exec(this.node, ['keepalived', '-t', '-f', this.confPath()], {
      allowFail: true,
    });
    if (check.code !== 0)
      throw new Error(`keepalived refuses ${this.confPath()}:\n${check.stderr}${check.stdout}`);
    return text;
  }

  /** Starts keepalived; its pid is keepalived's own (every step of `scripts/lab exec` execs). */
  async start(): Promise<number> {
    if (this.pid) throw new Error(`keepalived already runs in ${this.node} (pid ${this.pid})`);
    const log = openSync(this.logPath(), 'a');
    try {
      // Pid files in the node's private /run; -P: VRRP only; -n: no fork of the parent (its VRRP
      // child is still forked); -l -D: detailed log on the console; -G: no syslog.
      const child = spawn(
        this.lab.script,
        [
          'exec',
          this.node,
          'keepalived',
          '-n',
          '-l',
          '-D',
          '-G',
          '-P',
          '-f',
          this.confPath(),
          '-p',
          '/run/keepalived.pid',
          '-r',
          '/run/keepalived_vrrp.pid',
        ],
        { env: { ...process.env, ...this.lab.labEnv() }, stdio: ['ignore', log, log], detached: true },
      );
      this.child = child;
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    } finally {
      closeSync(log);
    }
    await new Promise((r) => setTimeout(r, 100));
    if (!this.pid) throw new Error(`keepalived in ${this.node} exited at once; see ${this.logPath()}`);
    return this.pid;
  }

  /** Sends a signal and waits (up to 10 s) for keepalived to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    process.kill(pid, signal);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timeout])) === 'timeout') {
      process.kill(pid, 'SIGKILL');
      await this.exited;
    }
    this.child = null;
  }

  /** Stops keepalived if it runs (SIGTERM), or reaps it if it was killed from outside (a "dead host"). */
  async reap(): Promise<void> {
    if (this.pid) await this.stop('SIGTERM');
    await this.exited;
    this.child = null;
  }
}
