// Rules for the moments after which the network may no longer point at the node that holds the
// VIPs (docs/behavior.md, "The network follows the holder"). Pure: the node machine asks them.

/**
 * Whether a stall of this agent (its timers fired `blindMs` late: a paused VM, a frozen process,
 * CPU starvation) was long enough for the peer to have declared this node silent and, if it is
 * the slave, taken the VIPs. A paused VM answers no ICMP either, and the peer's silence began
 * with the last answer it had, up to one probe interval before the stall: so `blind + interval`
 * against `fall × interval`, the peer's own detection time (both nodes share one file).
 */
export function peerCouldHaveTakenOver(blindMs: number, intervalMs: number, downAfterMs: number): boolean {
  return blindMs + intervalMs >= downAfterMs;
}

/**
 * Interfaces, among `ifnames`, whose MAC address differs between two readings (a bond failing
 * over to another NIC, a VM's NIC replaced). An interface missing from either reading is not a
 * change: it is down or gone, and carrier decides then.
 */
export function changedMacs(
  before: Record<string, string> | null,
  after: Record<string, string>,
  ifnames: readonly string[],
): string[] {
  if (!before) return [];
  return ifnames.filter((i) => before[i] !== undefined && after[i] !== undefined && before[i] !== after[i]);
}
