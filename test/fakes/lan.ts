// An in-memory model of the pair's network, for unit tests that run real agents without
// sockets (ARCHITECTURE.md, habit 2; memberlist's MockNetwork).
//
// FakeLan knows which nodes are alive (powered and running) and which of their links have
// carrier. Each node has a FakeNet (its addresses and routes, changed by `apply` with the
// kernel's rules), a FakeProber (ICMP) and a FakeArp. Answers come back through the fake
// clock only, after `answerDelayMs`; a probe without answer resolves at its timeout.
// Whether something answers is decided when the probe is sent.

import type { NetChange } from '../../src/domain/actions';
import type { ActualAddress, ActualRoute } from '../../src/domain/reconcile';
import type { Clock } from '../../src/ports/clock';
import type { ArpPort, NetPort, NetReading, ProbeResult, Prober } from '../../src/ports/network';
import { inSubnet, networkAddress } from '../../src/config/ipv4';

interface LanNode {
  name: string;
  mac: string;
  alive: boolean;
  /** A firewall drops ICMP echo requests to this node (ARP still answers). */
  icmpFiltered: boolean;
  /** Carrier by interface; an interface not listed has carrier. */
  carrier: Map<string, boolean>;
  net: FakeNet;
  listeners: Set<() => void>;
}

/** `ip -json route` prints host routes without `/32`. */
function normalDestination(d: string): string {
  return d.endsWith('/32') ? d.slice(0, -3) : d;
}

export class FakeLan {
  private nodes = new Map<string, LanNode>();
  /** Other hosts on the LAN (a gateway): address -> whether it answers. */
  private hosts = new Map<string, boolean>();

  constructor(
    readonly clock: Clock,
    /** Round-trip time of every answer (ICMP echo, ARP reply). */
    readonly answerDelayMs = 1,
  ) {}

  /** Adds a node, alive and with carrier, configured with its fixed `addresses`. */
  addNode(name: string, addresses: ActualAddress[]): FakeNet {
    if (this.nodes.has(name)) throw new Error(`FakeLan: node ${name} already exists`);
    const mac = `02:00:00:00:00:${(this.nodes.size + 1).toString(16).padStart(2, '0')}`;
    const net = new FakeNet(this, name, addresses);
    this.nodes.set(name, {
      name,
      mac,
      alive: true,
      icmpFiltered: false,
      carrier: new Map(),
      net,
      listeners: new Set(),
    });
    return net;
  }

  /** Another host on the LAN, such as the gateway a node tracks. */
  addHost(address: string, up = true): void {
    this.hosts.set(address, up);
  }

  setHostUp(address: string, up: boolean): void {
    if (!this.hosts.has(address)) throw new Error(`FakeLan: no host ${address}`);
    this.hosts.set(address, up);
  }

  /** Powers a node off (it answers nothing) or on. */
  setAlive(name: string, alive: boolean): void {
    this.node(name).alive = alive;
  }

  /** Pulls or plugs the cable of one interface of `name`, or of all its interfaces. */
  setCarrier(name: string, up: boolean, ifname?: string): void {
    const n = this.node(name);
    for (const i of ifname ? [ifname] : n.net.interfaces()) n.carrier.set(i, up);
    this.changed(name);
  }

  /** A firewall on `name` drops ICMP echo requests (ARP is still answered). */
  setIcmpFiltered(name: string, filtered: boolean): void {
    this.node(name).icmpFiltered = filtered;
  }

  isAlive(name: string): boolean {
    return this.node(name).alive;
  }

  carrierOf(name: string, ifname: string): boolean {
    return this.node(name).carrier.get(ifname) ?? true;
  }

  macOf(name: string): string {
    return this.node(name).mac;
  }

  net(name: string): FakeNet {
    return this.node(name).net;
  }

  /** Alive nodes whose addresses include `address`: who would answer for it right now. */
  holders(address: string): string[] {
    return [...this.nodes.values()].filter((n) => n.alive && n.net.holds(address)).map((n) => n.name);
  }

  /**
   * A fake `ip monitor link address` for one node: `fn` runs on every carrier change and
   * every address or route change of that node. Returns the function that unsubscribes.
   */
  onChange(name: string, fn: () => void): () => void {
    const listeners = this.node(name).listeners;
    listeners.add(fn);
    return () => listeners.delete(fn);
  }

  /** Whether an ICMP echo from `from` to `address` is answered. */
  icmpAnswers(from: string, address: string): boolean {
    const src = this.node(from);
    if (!src.alive) return false;
    // The kernel answers for its own addresses itself, without the wire.
    if (src.net.holds(address)) return true;
    if (!this.canSendTo(src, address)) return false;
    const host = this.hosts.get(address);
    if (host !== undefined) return host;
    return [...this.nodes.values()].some(
      (n) => n !== src && !n.icmpFiltered && this.answersOnWire(n, address),
    );
  }

  /** Whether a TCP connection (the trusted link's SSH) from `from` to `address` gets through: ICMP filtering does not matter. */
  reaches(from: string, address: string): boolean {
    const src = this.node(from);
    if (!src.alive || !this.canSendTo(src, address)) return false;
    return [...this.nodes.values()].some((n) => n !== src && this.answersOnWire(n, address));
  }

  /** MACs that answer an ARP request for `address` sent by `from` on `ifname` (never `from` itself). */
  arpAnswers(from: string, address: string, ifname: string): string[] {
    const src = this.node(from);
    if (!src.alive || !this.carrierOf(from, ifname)) return [];
    return [...this.nodes.values()]
      .filter((n) => n !== src && this.answersOnWire(n, address))
      .map((n) => n.mac);
  }

  /** Called by a node's FakeNet and by `setCarrier`: tells that node's monitor. */
  changed(name: string): void {
    for (const fn of [...this.node(name).listeners]) fn();
  }

  private node(name: string): LanNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`FakeLan: no node ${name}`);
    return n;
  }

  /** `n` is alive and holds `address` on an interface that has carrier. */
  private answersOnWire(n: LanNode, address: string): boolean {
    return (
      n.alive && n.net.addressList().some((a) => a.address === address && this.carrierOf(n.name, a.ifname))
    );
  }

  /** `src` has an interface on the subnet of `address`, and that interface has carrier. */
  private canSendTo(src: LanNode, address: string): boolean {
    const out = src.net.addressList().find((a) => inSubnet(address, a.address, a.prefixLength));
    return out !== undefined && this.carrierOf(src.name, out.ifname);
  }
}

/**
 * A node's addresses and routes, changed as the kernel would through `ip -force -batch`:
 * every change is tried, deleting what is absent is not an error (as in the real adapter),
 * and the others' failures are reported together at the end.
 */
export class FakeNet implements NetPort {
  private addresses: ActualAddress[] = [];
  private routes: ActualRoute[] = [];
  /** Every `apply` call, with the fake time it was made at. */
  readonly applied: { atMs: number; changes: NetChange[] }[] = [];
  reads = 0;
  /** When set, the next `read` (or `apply`) fails with this error, then it is cleared. */
  failNextRead: Error | null = null;
  failNextApply: Error | null = null;
  /** When set, the next `read` takes its snapshot at once but answers this much later. */
  delayNextReadMs = 0;

  constructor(
    private lan: FakeLan,
    readonly node: string,
    private readonly base: ActualAddress[],
  ) {
    this.reboot();
  }

  /** Back to the fixed addresses and their connected routes, as after a reboot. */
  reboot(): void {
    this.addresses = this.base.map((a) => ({ ...a }));
    this.routes = this.base.map((a) => ({
      destination: `${networkAddress(a.address, a.prefixLength)}/${a.prefixLength}`,
      via: null,
      ifname: a.ifname,
      source: a.address,
    }));
  }

  interfaces(): string[] {
    return [...new Set([...this.base, ...this.addresses].map((a) => a.ifname))];
  }

  holds(address: string): boolean {
    return this.addresses.some((a) => a.address === address);
  }

  addressList(): ActualAddress[] {
    return this.addresses.map((a) => ({ ...a }));
  }

  routeList(): ActualRoute[] {
    return this.routes.map((r) => ({ ...r }));
  }

  /** Changes applied by every `apply` so far, flattened. */
  appliedChanges(): NetChange[] {
    return this.applied.flatMap((a) => a.changes);
  }

  /** An administrator's `ip addr del`: the address goes, and the routes using it as source. */
  deleteByHand(address: string): void {
    const a = this.addresses.find((x) => x.address === address);
    if (!a) throw new Error(`FakeNet ${this.node}: no address ${address}`);
    this.removeAddress(a);
    this.lan.changed(this.node);
  }

  async read(): Promise<NetReading> {
    this.reads++;
    const fail = this.failNextRead;
    if (fail) {
      this.failNextRead = null;
      throw fail;
    }
    const carrier: Record<string, boolean> = {};
    for (const i of this.interfaces()) carrier[i] = this.lan.carrierOf(this.node, i);
    const reading: NetReading = {
      actual: { addresses: this.addressList(), routes: this.routeList() },
      carrier,
    };
    const delay = this.delayNextReadMs;
    this.delayNextReadMs = 0;
    if (delay === 0) return reading;
    return new Promise((resolve) => this.lan.clock.after(delay, () => resolve(reading)));
  }

  async apply(changes: NetChange[]): Promise<void> {
    this.applied.push({ atMs: this.lan.clock.nowMs(), changes: changes.map((c) => ({ ...c })) });
    const fail = this.failNextApply;
    if (fail) {
      this.failNextApply = null;
      throw fail;
    }
    const errors: string[] = [];
    let changed = false;
    changes.forEach((c, i) => {
      const error = this.applyOne(c);
      if (error === true) changed = true;
      else if (error) errors.push(`line ${i + 1}: ${error}`);
    });
    if (changed) this.lan.changed(this.node);
    if (errors.length)
      throw new Error(`fake iproute2 refused ${errors.length} change(s): ${errors.join('; ')}`);
  }

  /** Applies one change: true if something changed, false if nothing had to, or the kernel's error. */
  private applyOne(c: NetChange): boolean | string {
    if (!this.interfaces().includes(c.ifname)) return `Cannot find device "${c.ifname}"`;
    switch (c.kind) {
      case 'add-address': {
        const same = this.addresses.find((a) => a.ifname === c.ifname && a.address === c.address);
        if (same && same.prefixLength === c.prefixLength) return false;
        if (same) same.prefixLength = c.prefixLength;
        else this.addresses.push({ ifname: c.ifname, address: c.address, prefixLength: c.prefixLength });
        return true;
      }
      case 'delete-address': {
        const a = this.addresses.find(
          (x) => x.ifname === c.ifname && x.address === c.address && x.prefixLength === c.prefixLength,
        );
        if (!a) return false;
        this.removeAddress(a);
        return true;
      }
      case 'add-route': {
        if (!this.holds(c.source)) return 'Error: Invalid prefsrc address.';
        if (
          c.via &&
          !this.addresses.some((a) => a.ifname === c.ifname && inSubnet(c.via!, a.address, a.prefixLength))
        ) {
          return 'Error: Nexthop has invalid gateway.';
        }
        const destination = normalDestination(c.destination);
        const route: ActualRoute = { destination, via: c.via, ifname: c.ifname, source: c.source };
        const old = this.routes.find((r) => r.destination === destination);
        if (old && old.via === route.via && old.ifname === route.ifname && old.source === route.source)
          return false;
        // `ip route replace`: the route to the same destination is replaced.
        this.routes = [...this.routes.filter((r) => r !== old), route];
        return true;
      }
      case 'delete-route': {
        const destination = normalDestination(c.destination);
        const r = this.routes.find(
          (x) =>
            x.destination === destination &&
            (c.via === null || x.via === c.via) &&
            x.ifname === c.ifname &&
            x.source === c.source,
        );
        if (!r) return false;
        this.routes = this.routes.filter((x) => x !== r);
        return true;
      }
    }
  }

  /** Linux flushes the routes whose preferred source was the deleted address. */
  private removeAddress(a: ActualAddress): void {
    this.addresses = this.addresses.filter((x) => x !== a);
    if (!this.holds(a.address)) this.routes = this.routes.filter((r) => r.source !== a.address);
  }
}

/** ICMP echo over the FakeLan. Never rejects, like the real prober: no answer is a miss. */
export class FakeProber implements Prober {
  readonly pings: { atMs: number; address: string; timeoutMs: number }[] = [];
  closed = false;

  constructor(
    private lan: FakeLan,
    readonly node: string,
  ) {}

  ping(address: string, timeoutMs: number): Promise<ProbeResult> {
    const clock = this.lan.clock;
    this.pings.push({ atMs: clock.nowMs(), address, timeoutMs });
    const delay = this.lan.answerDelayMs;
    const answered = !this.closed && delay <= timeoutMs && this.lan.icmpAnswers(this.node, address);
    return new Promise((resolve) => {
      if (answered) clock.after(delay, () => resolve({ answered: true, rttMs: delay }));
      else clock.after(timeoutMs, () => resolve({ answered: false, rttMs: null }));
    });
  }

  close(): void {
    this.closed = true;
  }
}

/** ARP over the FakeLan: records announcements; `whoHas` returns the other holders' MACs. */
export class FakeArp implements ArpPort {
  readonly announcements: {
    atMs: number;
    address: string;
    ifname: string;
    count: number;
    intervalMs: number;
  }[] = [];
  readonly queries: { atMs: number; address: string; ifname: string; timeoutMs: number }[] = [];
  /** When set, every `whoHas` fails with this error (no ARP helper, no permission). */
  failWhoHas: Error | null = null;
  /** Interfaces passed to `prepare`, call by call. */
  readonly prepared: string[][] = [];
  closed = false;

  constructor(
    private lan: FakeLan,
    readonly node: string,
  ) {}

  async prepare(ifnames: string[]): Promise<void> {
    this.prepared.push([...ifnames]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async announce(address: string, ifname: string, count: number, intervalMs: number): Promise<void> {
    if (this.closed) throw new Error('FakeArp: announce after close');
    this.announcements.push({ atMs: this.lan.clock.nowMs(), address, ifname, count, intervalMs });
  }

  whoHas(address: string, ifname: string, timeoutMs: number): Promise<string[]> {
    const clock = this.lan.clock;
    this.queries.push({ atMs: clock.nowMs(), address, ifname, timeoutMs });
    if (this.failWhoHas) return Promise.reject(this.failWhoHas);
    const macs = this.lan.arpAnswers(this.node, address, ifname);
    return new Promise((resolve) => {
      if (macs.length) clock.after(this.lan.answerDelayMs, () => resolve(macs));
      else clock.after(timeoutMs, () => resolve([]));
    });
  }

  /** Addresses announced so far, in order. */
  announced(): string[] {
    return this.announcements.map((a) => a.address);
  }
}
