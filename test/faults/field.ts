/**
 * Helpers for the field-failure cases (13 to 18): faults that administrators of VIP failover
 * report in the field, built on lib.ts's FaultLab. Kept apart from lib.ts: they only add to it.
 */
import assert from 'node:assert/strict';
import { run } from '../lab/harness';
import { DATA_VIP, type FaultLab, type PbxNode, VOIP_VIP, processesInNamespace, sleep } from './lib';

/** The switch port of a node's interface (scripts/lab's sw_port). */
function switchPort(node: PbxNode, iface: 'eth0' | 'eth1'): string {
  return `${node === 'pbx1' ? 'p1' : 'p2'}${iface === 'eth0' ? 'v0' : 'd1'}`;
}

/**
 * Blocks (true) or unblocks a node's switch ports without a carrier change: the bridge stops
 * forwarding its frames (port state disabled), as a paused VM's ports do; the node still sees
 * LOWER_UP.
 */
export async function blockPorts(f: FaultLab, node: PbxNode, blocked: boolean): Promise<void> {
  const sw = f.lab.namespace('sw');
  await Promise.all(
    (['eth0', 'eth1'] as const).map((iface) =>
      run(['bridge', '-n', sw, 'link', 'set', 'dev', switchPort(node, iface), 'state', blocked ? '0' : '3'], {
        timeoutMs: 5000,
      }),
    ),
  );
}

/** Every process of a node (its agent and its children, sshd, services), as a VM pause sees them. */
function nodeProcesses(f: FaultLab, node: PbxNode): number[] {
  return processesInNamespace(f.lab.namespace(node)).map((p) => p.pid);
}

/**
 * Freezes a node for `ms` as a VM snapshot or live migration does: every process in it stopped
 * (SIGSTOP) and its switch ports blocked, no carrier change; then both resumed together.
 * Resolves at the resume with its wall-clock time.
 */
export async function freezeNode(f: FaultLab, node: PbxNode, ms: number): Promise<number> {
  const pids = nodeProcesses(f, node);
  assert.ok(pids.includes(f.pids.get(node) ?? -1), `${node}'s agent is among the processes frozen`);
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // ended meanwhile
      }
    }
  };
  // Resumed even if the case fails half-way (a stopped agent would hang the teardown).
  f.onCleanup(async () => signal('SIGCONT'));
  signal('SIGSTOP');
  await blockPorts(f, node, true);
  await sleep(ms);
  await blockPorts(f, node, false);
  signal('SIGCONT');
  return Date.now();
}

/** The MAC a lab host's neighbour table has for `ip` on `dev`, without sending anything (null: none). */
export async function neighbourMac(
  f: FaultLab,
  from: 'phone' | 'gw',
  ip: string,
  dev: string,
): Promise<string | null> {
  type Neigh = { dst: string; lladdr?: string };
  const entries = await ipJsonFast<Neigh>(f, from, ['neigh', 'show', 'to', ip, 'dev', dev]);
  return entries.find((e) => e.dst === ip && e.lladdr)?.lladdr ?? null;
}

/** `ip -n NS -json ARGS` (no mount namespace: fast enough to poll every few ms). */
async function ipJsonFast<T>(f: FaultLab, node: PbxNode | 'phone' | 'gw', args: string[]): Promise<T[]> {
  const r = await run(['ip', '-n', f.lab.namespace(node), '-json', ...args], { timeoutMs: 10_000 });
  const text = r.stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** A node's interface MAC, read now. */
export async function macNow(f: FaultLab, node: PbxNode, dev: string): Promise<string> {
  const [link] = await ipJsonFast<{ address: string }>(f, node, ['link', 'show', 'dev', dev]);
  return link.address;
}

/**
 * Gives the phone an ARP entry for the VOIP VIP and the gateway one for the DATA VIP (one ping
 * each): a gratuitous ARP updates an existing entry, so afterwards they show whom the network
 * was last told holds the VIPs.
 */
export async function primeNeighbours(f: FaultLab): Promise<void> {
  assert.ok(await f.lab.pingOnce('phone', VOIP_VIP, 2000), `the phone reaches ${VOIP_VIP}`);
  assert.ok(await f.lab.pingOnce('gw', DATA_VIP, 2000), `the gateway reaches ${DATA_VIP}`);
}

/**
 * Waits until the phone's entry for the VOIP VIP and the gateway's for the DATA VIP carry the
 * MACs of `holder`'s interfaces (read at each poll: they may just have changed). Returns how long
 * it took, from `sinceMs` (wall clock).
 */
export async function waitNetworkPointsAt(
  f: FaultLab,
  holder: PbxNode,
  sinceMs: number,
  timeoutMs: number,
): Promise<number> {
  let last = '';
  await f.lab
    .waitFor(
      `the phone's and the gateway's ARP entries for the VIPs point at ${holder}`,
      async () => {
        const [voipMac, dataMac, phone, gw] = await Promise.all([
          macNow(f, holder, 'eth0'),
          macNow(f, holder, 'eth1'),
          neighbourMac(f, 'phone', VOIP_VIP, 'eth0'),
          neighbourMac(f, 'gw', DATA_VIP, 'eth1'),
        ]);
        last = `phone: ${VOIP_VIP} at ${phone} (${holder}'s eth0 is ${voipMac}); gateway: ${DATA_VIP} at ${gw} (${holder}'s eth1 is ${dataMac})`;
        return phone === voipMac && gw === dataMac;
      },
      timeoutMs,
      20,
    )
    .catch((e: Error) => {
      throw new Error(`${e.message}; last: ${last}`);
    });
  return Date.now() - sinceMs;
}

/** Addresses (inet) of a node's interface with their primary/secondary flag. */
export async function inetAddresses(
  f: FaultLab,
  node: PbxNode,
  dev: string,
): Promise<{ local: string; prefixlen: number; secondary: boolean }[]> {
  type Link = { addr_info?: { family: string; local: string; prefixlen: number; secondary?: boolean }[] };
  const links = await ipJsonFast<Link>(f, node, ['addr', 'show', 'dev', dev]);
  return (links[0]?.addr_info ?? [])
    .filter((a) => a.family === 'inet')
    .map((a) => ({ local: a.local, prefixlen: a.prefixlen, secondary: a.secondary === true }));
}
