// The operating-system side of addresses, routes, probes and ARP, as small interfaces.
// Each has one real adapter (src/adapters) and one fake (test/fakes).

import type { NetChange } from '../domain/actions';
import type { ActualNet } from '../domain/reconcile';

export interface NetReading {
  actual: ActualNet;
  /** Carrier (LOWER_UP) of every interface present, by name. */
  carrier: Record<string, boolean>;
  /** MAC address (`aa:bb:cc:dd:ee:ff`) of every interface that has one, by name. */
  macs?: Record<string, string>;
}

export interface NetPort {
  read(): Promise<NetReading>;
  /** Applies the changes in order; an already-done change is not an error. */
  apply(changes: NetChange[]): Promise<void>;
}

export interface ProbeResult {
  answered: boolean;
  rttMs: number | null;
}

export interface Prober {
  /** One ICMP echo to `address`, answered within `timeoutMs` or not. */
  ping(address: string, timeoutMs: number): Promise<ProbeResult>;
  close(): void;
}

export interface ArpPort {
  /** A burst of gratuitous ARP requests for `address` on `ifname`. */
  announce(address: string, ifname: string, count: number, intervalMs: number): Promise<void>;
  /** MAC addresses of other hosts answering ARP for `address` (empty: free). */
  whoHas(address: string, ifname: string, timeoutMs: number): Promise<string[]>;
  /** Gets ready to announce on these interfaces, so the first takeover frame costs nothing extra. */
  prepare(ifnames: string[]): Promise<void>;
  close(): Promise<void>;
}
