/**
 * Helpers for lab tests that run the real pbx-ha agent on both lab nodes: status through
 * the real `pbx-ha status --json`, waiting for states and holders, a holder sampler.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentStatus } from '../../src/agent/status';
import type { Lab, PbxNode } from './harness';
import { REPO_ROOT } from './harness';

export const PBX_HA = path.join(REPO_ROOT, 'bin', 'pbx-ha');
export const VOIP_VIP = '192.0.2.10';
export const DATA_VIP = '198.51.100.10';
export const VIPS = [VOIP_VIP, DATA_VIP];

/** Fast health settings for tests: detection after 3 × 200 ms. Bounds below stay generous. */
export const FAST_HEALTH = { PBX_LAB_INTERVAL: '200ms', PBX_LAB_FALL: '3', PBX_LAB_RISE: '3' };
/** Generous bound for anything the agent must do "soon" (detection is 600 ms here). */
export const SOON_MS = 15_000;

export async function agentStatus(lab: Lab, node: PbxNode): Promise<AgentStatus> {
  const r = await lab.exec(node, [PBX_HA, 'status', '--json'], { timeoutMs: 10_000 });
  return JSON.parse(r.stdout) as AgentStatus;
}

export async function waitState(lab: Lab, node: PbxNode, state: AgentStatus['state'], timeoutMs = SOON_MS): Promise<void> {
  await lab.waitFor(
    `${node} in state ${state}`,
    async () => (await agentStatus(lab, node)).state === state,
    timeoutMs,
    200,
  );
}

/** Waits until `node` and only it holds every VIP. */
export async function waitSoleHolder(lab: Lab, node: PbxNode, timeoutMs = SOON_MS): Promise<void> {
  await lab.waitFor(
    `${node} sole holder of ${VIPS.join(' and ')}`,
    async () => {
      for (const vip of VIPS) {
        const h = await lab.holders(vip);
        if (h.length !== 1 || h[0] !== node) return false;
      }
      return true;
    },
    timeoutMs,
    100,
  );
}

export async function assertNobodyHolds(lab: Lab): Promise<void> {
  for (const vip of VIPS) assert.deepEqual(await lab.holders(vip), [], `nobody should hold ${vip}`);
}

/** Starts both agents (master first) and waits for the steady state: pbx1 active, pbx2 standby. */
export async function startPair(lab: Lab): Promise<void> {
  await lab.start('pbx1');
  await lab.start('pbx2');
  await waitSoleHolder(lab, 'pbx1');
  await waitState(lab, 'pbx1', 'active');
  await waitState(lab, 'pbx2', 'standby');
}

/**
 * Samples who holds the VOIP VIP, as fast as the lab allows, until stopped; reports the
 * longest stretch during which both nodes held it.
 */
export function startHolderSampler(lab: Lab): { stop(): Promise<{ samples: number; longestDoubleMs: number }> } {
  let running = true;
  let samples = 0;
  let longestDoubleMs = 0;
  let doubleSince: number | null = null;
  const loop = (async () => {
    while (running) {
      const h = await lab.holders(VOIP_VIP);
      const now = Date.now();
      samples++;
      if (h.length > 1) {
        doubleSince ??= now;
        longestDoubleMs = Math.max(longestDoubleMs, now - doubleSince);
      } else {
        doubleSince = null;
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, longestDoubleMs };
    },
  };
}

/** Routes a node has with the given preferred source address. */
export async function routesWithSource(lab: Lab, node: PbxNode, source: string): Promise<{ dst: string; gateway?: string; dev?: string }[]> {
  const routes = await lab.routes(node);
  return routes.filter((r) => r.prefsrc === source) as { dst: string; gateway?: string; dev?: string }[];
}

/**
 * What replication needs in the lab: each node's sshd, the extra configuration on both, and
 * root's own SSH access from pbx1 to pbx2 (the administrator's, used once by `pbx-ha pair`).
 */
export async function prepareSsh(lab: Lab, extraConfig = ''): Promise<void> {
  for (const node of ['pbx1', 'pbx2'] as const) {
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
  const r = await lab.exec('pbx1', [PBX_HA, 'pair', '--fingerprint', await lab.hostKeyFingerprint('pbx2')], { timeoutMs: 60_000 });
  return r.stdout;
}
