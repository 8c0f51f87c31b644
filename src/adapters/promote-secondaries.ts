// Keeps the node's own addresses when a VIP is deleted.
//
// Why: a VIP added while the node's own address of the same subnet was missing (a network
// restart, an `ip addr flush`, a script re-adding addresses: the agent puts a deleted VIP back
// within milliseconds) is that subnet's *primary* address, and the node's own address, added
// after it, a *secondary* one. Deleting a primary address deletes its secondaries with it unless
// `promote_secondaries` is set for the interface, and it is 0 unless a distribution sets it: a
// release would then take the node's own address down too (and the pair would never fail back).
//
// The choice: before deleting VIPs on an interface, the agent sets `promote_secondaries` there
// itself (the kernel honours `all` OR the interface's own value), so a deleted primary VIP hands
// its place to the next address of its subnet, whatever order the addresses were added in and
// whatever the sysctls said. Weighed against it: a /32 VIP never shares a subnet with the node's
// address, but it loses the subnet route when the node's own address is gone and changes what
// every tool and script sees; checking for a primary VIP before a delete only finds the problem,
// since the kernel has no way to delete a primary without its secondaries but this one.

import { writeFileSync } from 'node:fs';

/** The sysctl file of an interface; null for a name that could leave the directory. */
export function promoteSecondariesPath(ifname: string): string | null {
  if (!/^[^\s/]{1,15}$/.test(ifname) || ifname === '.' || ifname === '..') return null;
  return `/proc/sys/net/ipv4/conf/${ifname}/promote_secondaries`;
}

/**
 * Sets `promote_secondaries` = 1 on each interface. Returns the interfaces where it could not be
 * set, with why (the caller must then not delete a VIP that is a primary with secondaries there).
 */
export function allowPromotion(
  ifnames: readonly string[],
  write: (file: string, data: string) => void = writeFileSync,
): { ifname: string; error: string }[] {
  const failed: { ifname: string; error: string }[] = [];
  for (const ifname of ifnames) {
    const file = promoteSecondariesPath(ifname);
    if (!file) {
      failed.push({ ifname, error: 'not an interface name' });
      continue;
    }
    try {
      write(file, '1\n');
    } catch (e) {
      failed.push({ ifname, error: (e as Error).message });
    }
  }
  return failed;
}

/** One IPv4 address of an interface as `ip -json addr` shows it. */
export interface InetAddress {
  local: string;
  prefixlen: number;
  secondary: boolean;
}

function subnetOf(address: string, prefixlen: number): number {
  const n = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = prefixlen === 0 ? 0 : (0xffffffff << (32 - prefixlen)) >>> 0;
  return (n & mask) >>> 0;
}

/**
 * Whether deleting `address` from an interface with these addresses would delete others with it
 * (without promote_secondaries): it is a primary address and its subnet has secondaries.
 */
export function deletionTakesOthers(address: string, addresses: readonly InetAddress[]): boolean {
  const self = addresses.find((a) => a.local === address);
  if (!self || self.secondary) return false;
  const subnet = subnetOf(self.local, self.prefixlen);
  return addresses.some(
    (a) => a.secondary && a.prefixlen === self.prefixlen && subnetOf(a.local, a.prefixlen) === subnet,
  );
}
