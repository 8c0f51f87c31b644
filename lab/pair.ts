/**
 * The pair of real pbx-ha agents in the lab: their status through the real `pbx-ha status
 * --json`, waiting for states and holders, a holder sampler, what a dead host leaves behind, and
 * the trusted link (sshd, an administrator's key, `pbx-ha pair`).
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import type { AgentStatus } from '../src/agent/status';
import type { Lab, UpEnv } from './lab';
import { PBX_HA, PBX_NODES, type PbxNode, VIPS, otherNode } from './layout';
import { run, sleep } from './run';

/** Fast health settings for tests: detection after 3 × 200 ms. Bounds stay generous. */
export const FAST_HEALTH: UpEnv = { PBX_LAB_INTERVAL: '200ms', PBX_LAB_FALL: '3', PBX_LAB_RISE: '3' };
/** Generous bound for anything the agent must do "soon" (detection is 600 ms with FAST_HEALTH). */
export const SOON_MS = 15_000;

/** `pbx-ha status --json`, with the replication jobs it reports when replication is set up. */
export type LabAgentStatus = AgentStatus & {
  jobs?: {
    kind: string;
    lastError: { message: string } | null;
    consecutiveFailures: number;
    lastSuccess: unknown;
  }[];
};

export async function agentStatus(lab: Lab, node: PbxNode): Promise<LabAgentStatus> {
  const r = await lab.exec(node, [PBX_HA, 'status', '--json'], { timeoutMs: 10_000 });
  return JSON.parse(r.stdout) as LabAgentStatus;
}

export async function waitState(
  lab: Lab,
  node: PbxNode,
  state: AgentStatus['state'],
  timeoutMs = SOON_MS,
): Promise<void> {
  await lab.waitFor(
    `${node} in state ${state}`,
    async () => (await agentStatus(lab, node)).state === state,
    timeoutMs,
    200,
  );
}

/** Does `node` hold every VIP (whatever the other node holds: a dead host keeps its addresses)? */
export async function holdsAll(lab: Lab, node: PbxNode): Promise<boolean> {
  return (await lab.vipsHeld(node)).length === VIPS.length;
}

/** Is `node` the only holder of every VIP? */
export async function soleHolder(lab: Lab, node: PbxNode): Promise<boolean> {
  const [mine, theirs] = await Promise.all([lab.vipsHeld(node), lab.vipsHeld(otherNode(node))]);
  return mine.length === VIPS.length && theirs.length === 0;
}

/** Waits until `node` and only it holds every VIP. */
export async function waitSoleHolder(
  lab: Lab,
  node: PbxNode,
  timeoutMs = SOON_MS,
  pollMs = 100,
): Promise<void> {
  const vips = VIPS.map((v) => v.address).join(' and ');
  await lab.waitFor(`${node} sole holder of ${vips}`, () => soleHolder(lab, node), timeoutMs, pollMs);
}

export async function assertNobodyHolds(lab: Lab): Promise<void> {
  for (const { address } of VIPS)
    assert.deepEqual(await lab.holders(address), [], `nobody should hold ${address}`);
}

/** Starts both agents (master first) and waits for the steady state: pbx1 active, pbx2 standby. */
export async function startPair(lab: Lab, timeoutMs = SOON_MS): Promise<void> {
  await lab.start('pbx1');
  await lab.start('pbx2');
  await waitSoleHolder(lab, 'pbx1', timeoutMs);
  await waitState(lab, 'pbx1', 'active', timeoutMs);
  await waitState(lab, 'pbx2', 'standby', timeoutMs);
}

export interface HolderSamples {
  samples: number;
  /** The longest stretch during which two nodes held one VIP. */
  longestDoubleMs: number;
  /** Every node seen holding a VIP, sorted. */
  everHeld: PbxNode[];
}

/**
 * Samples who holds each VIP, as fast as `ip -n` allows (a pause of everyMs between rounds),
 * until stop().
 */
export function startHolderSampler(lab: Lab, everyMs = 20): { stop(): Promise<HolderSamples> } {
  let running = true;
  let samples = 0;
  let longestDoubleMs = 0;
  const everHeld = new Set<PbxNode>();
  const since = new Map<string, number>();
  const loop = (async () => {
    while (running) {
      const held = await Promise.all(PBX_NODES.map((n) => lab.vipsHeld(n).catch(() => [] as string[])));
      const now = Date.now();
      for (const { address } of VIPS) {
        const h = PBX_NODES.filter((_, i) => held[i].includes(address));
        for (const n of h) everHeld.add(n);
        if (h.length > 1) {
          if (!since.has(address)) since.set(address, now);
          longestDoubleMs = Math.max(longestDoubleMs, now - since.get(address)!);
        } else {
          since.delete(address);
        }
      }
      samples++;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, longestDoubleMs, everHeld: [...everHeld].sort() };
    },
  };
}

/**
 * Removes what a node left behind as a host that died or rebooted would not keep: the VIP
 * addresses, and the routes that used them as source (the kernel drops most with the address).
 */
export async function removeVips(lab: Lab, node: PbxNode): Promise<void> {
  const ns = lab.namespace(node);
  for (const v of VIPS) {
    await run(['ip', '-n', ns, 'addr', 'del', `${v.address}/${v.prefix}`, 'dev', v.iface], {
      allowFail: true,
    });
  }
  const routes = JSON.parse((await run(['ip', '-n', ns, '-j', 'route'])).stdout || '[]') as {
    dst: string;
    prefsrc?: string;
  }[];
  for (const r of routes) {
    if (r.prefsrc && VIPS.some((v) => v.address === r.prefsrc)) {
      await run(['ip', '-n', ns, 'route', 'del', r.dst], { allowFail: true });
    }
  }
}

/** Routes a node has with the given preferred source address. */
export async function routesWithSource(
  lab: Lab,
  node: PbxNode,
  source: string,
): Promise<{ dst: string; gateway?: string; dev?: string }[]> {
  const routes = await lab.routes(node);
  return routes.filter((r) => r.prefsrc === source) as { dst: string; gateway?: string; dev?: string }[];
}

/**
 * What replication needs in the lab: each node's sshd, the extra configuration on both, and
 * root's own SSH access from pbx1 to pbx2 (the administrator's, used once by `pbx-ha pair`).
 */
export async function prepareSsh(lab: Lab, extraConfig = ''): Promise<void> {
  for (const node of PBX_NODES) {
    if (extraConfig) appendFileSync(lab.configPath(node), `\n${extraConfig}`);
    await lab.startSshd(node);
  }
  await lab.exec('pbx1', ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '/root/.ssh/id_ed25519']);
  const authorized = lab.hostPath('pbx2', '/root/.ssh/authorized_keys');
  writeFileSync(authorized, readFileSync(lab.hostPath('pbx1', '/root/.ssh/id_ed25519.pub')));
  chmodSync(authorized, 0o600);
}

/** `pbx-ha pair` on the master, the host key checked against the lab's; returns its output. */
export async function pairNodes(lab: Lab): Promise<string> {
  const fingerprint = await lab.hostKeyFingerprint('pbx2');
  const r = await lab.exec('pbx1', [PBX_HA, 'pair', '--fingerprint', fingerprint], { timeoutMs: 60_000 });
  return r.stdout;
}

/** The trusted link in one step: prepareSsh() then pairNodes(). */
export async function setUpTrustedLink(lab: Lab): Promise<void> {
  await prepareSsh(lab);
  await pairNodes(lab);
}
