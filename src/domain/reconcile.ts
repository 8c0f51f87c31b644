// Compare what should be configured with what is, and list the repairs (BEHAVIOR.md,
// "Reconcile"): a VIP deleted by hand comes back; a stale VIP left by a crash is removed
// when this node is not entitled to it. Pure: the actual state is passed in.

import type { VipConfig } from '../config/types';
import type { NetChange } from './actions';

export interface ActualAddress {
  ifname: string;
  address: string;
  prefixLength: number;
}

export interface ActualRoute {
  /** `default` or a CIDR as printed by `ip -json route` (`203.0.113.0/24`). */
  destination: string;
  via: string | null;
  ifname: string | null;
  source: string | null;
}

export interface ActualNet {
  addresses: ActualAddress[];
  routes: ActualRoute[];
}

/** A host route prints without its `/32`; normalise so comparisons are exact. */
function sameDestination(a: string, b: string): boolean {
  const norm = (d: string) => (d.endsWith('/32') ? d.slice(0, -3) : d);
  return norm(a) === norm(b);
}

function hasAddress(actual: ActualNet, vip: VipConfig): boolean {
  return actual.addresses.some((a) => a.ifname === vip.interface && a.address === vip.address);
}

/** Changes that make `vip` fully held: address first, then its routes (with `src` = VIP). */
export function claimChanges(vip: VipConfig): NetChange[] {
  return [
    {
      kind: 'add-address',
      vip: vip.name,
      address: vip.address,
      prefixLength: vip.prefixLength,
      ifname: vip.interface,
    },
    ...vip.routes.map((r): NetChange => ({
      kind: 'add-route',
      vip: vip.name,
      destination: r.destination,
      via: r.via,
      ifname: vip.interface,
      source: vip.address,
    })),
  ];
}

/** Changes that release `vip`: routes first, then the address (the reverse of the claim). */
export function releaseChanges(vip: VipConfig): NetChange[] {
  return [
    ...vip.routes.map((r): NetChange => ({
      kind: 'delete-route',
      vip: vip.name,
      destination: r.destination,
      via: r.via,
      ifname: vip.interface,
      source: vip.address,
    })),
    {
      kind: 'delete-address',
      vip: vip.name,
      address: vip.address,
      prefixLength: vip.prefixLength,
      ifname: vip.interface,
    },
  ];
}

export interface Repair {
  changes: NetChange[];
  /** VIPs whose address had to be added back: they need a fresh gratuitous ARP. */
  readded: string[];
}

/**
 * Repairs needed so that the VIPs are held (`hold` = true) or not held at all.
 * Only what differs is touched, so a healthy system yields no change at all.
 */
export function repairs(vips: VipConfig[], hold: boolean, actual: ActualNet): Repair {
  const changes: NetChange[] = [];
  const readded: string[] = [];
  for (const vip of vips) {
    const present = hasAddress(actual, vip);
    if (hold) {
      if (!present) {
        readded.push(vip.name);
        changes.push(...claimChanges(vip));
        continue;
      }
      for (const r of vip.routes) {
        const ok = actual.routes.some(
          (a) =>
            sameDestination(a.destination, r.destination) &&
            a.via === r.via &&
            a.ifname === vip.interface &&
            a.source === vip.address,
        );
        if (!ok) {
          changes.push({
            kind: 'add-route',
            vip: vip.name,
            destination: r.destination,
            via: r.via,
            ifname: vip.interface,
            source: vip.address,
          });
        }
      }
    } else {
      for (const r of vip.routes) {
        const stale = actual.routes.some(
          (a) => sameDestination(a.destination, r.destination) && a.source === vip.address,
        );
        if (stale) {
          changes.push({
            kind: 'delete-route',
            vip: vip.name,
            destination: r.destination,
            via: r.via,
            ifname: vip.interface,
            source: vip.address,
          });
        }
      }
      if (present) {
        changes.push({
          kind: 'delete-address',
          vip: vip.name,
          address: vip.address,
          prefixLength: vip.prefixLength,
          ifname: vip.interface,
        });
      }
    }
  }
  return { changes, readded };
}

/** Names of the VIPs whose address is configured on this node right now. */
export function heldVips(vips: VipConfig[], actual: ActualNet): string[] {
  return vips.filter((v) => hasAddress(actual, v)).map((v) => v.name);
}
