// Addresses and routes through iproute2: reads (`ip -json`) and changes go through one
// long-running `ip -json -force -batch -` (ip-batch.ts), so neither a takeover nor a periodic
// read starts a process (BEHAVIOR.md, "Timing").

import type { NetChange } from '../domain/actions';
import type { ActualAddress, ActualRoute } from '../domain/reconcile';
import type { NetPort, NetReading } from '../ports/network';
import { IpBatch } from './ip-batch';
import { allowPromotion, deletionTakesOthers, type InetAddress } from './promote-secondaries';

const IP = '/usr/sbin/ip';
const TIMEOUT_MS = 5000;

interface IpAddrJson {
  ifname: string;
  flags?: string[];
  /** The link-layer address (a MAC for Ethernet). */
  address?: string;
  addr_info?: { family: string; local: string; prefixlen: number; secondary?: boolean }[];
}

interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
}

/** Parses `ip -json addr show`; exported for tests. */
export function parseAddrJson(text: string): {
  addresses: ActualAddress[];
  carrier: Record<string, boolean>;
  macs: Record<string, string>;
} {
  const links = JSON.parse(text) as IpAddrJson[];
  const addresses: ActualAddress[] = [];
  const carrier: Record<string, boolean> = {};
  const macs: Record<string, string> = {};
  for (const link of links) {
    // LOWER_UP is the carrier as the driver reports it; UP alone is only the admin state.
    carrier[link.ifname] = (link.flags ?? []).includes('LOWER_UP');
    if (typeof link.address === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(link.address))
      macs[link.ifname] = link.address;
    for (const a of link.addr_info ?? []) {
      if (a.family === 'inet')
        addresses.push({ ifname: link.ifname, address: a.local, prefixLength: a.prefixlen });
    }
  }
  return { addresses, carrier, macs };
}

/** Parses `ip -json route show`; exported for tests. */
export function parseRouteJson(text: string): ActualRoute[] {
  return (JSON.parse(text) as IpRouteJson[]).map((r) => ({
    destination: r.dst,
    via: r.gateway ?? null,
    ifname: r.dev ?? null,
    source: r.prefsrc ?? null,
  }));
}

/** One `ip -batch` line for a change. */
export function batchLine(c: NetChange): string {
  switch (c.kind) {
    case 'add-address':
      return `address replace ${c.address}/${c.prefixLength} dev ${c.ifname}`;
    case 'delete-address':
      return `address del ${c.address}/${c.prefixLength} dev ${c.ifname}`;
    case 'add-route':
    case 'delete-route': {
      const verb = c.kind === 'add-route' ? 'replace' : 'del';
      const via = c.via ? ` via ${c.via}` : '';
      return `route ${verb} ${c.destination}${via} dev ${c.ifname} src ${c.source}`;
    }
  }
}

/** Kernel answers that mean "already gone": not an error when deleting. */
const ALREADY_ABSENT = [
  /Cannot assign requested address/,
  /Address not found/,
  /No such process/,
  /No such device/,
];

/**
 * Failed batch lines from iproute2's stderr: each failure prints the kernel's answer, then
 * `Command failed -:N`. Exported for tests.
 */
export function failedLines(stderr: string): { line: number; message: string }[] {
  const failures: { line: number; message: string }[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(raw.trim());
    if (m) {
      failures.push({ line: Number(m[1]), message: pending.join(' ').trim() });
      pending = [];
    } else if (raw.trim()) {
      pending.push(raw.trim());
    }
  }
  return failures;
}

const READ_BATCH = ['address show', 'route show table main'];

/** Reads print one JSON document each; changes print nothing. */
function stdoutLinesOf(line: string): number {
  return /^(address|route) show\b/.test(line) ? 1 : 0;
}

/** `ip -json -batch` prints one JSON document per command, each on a line of its own. */
export function splitBatchJson(stdout: string, expected: number): string[] {
  const docs = stdout.split('\n').filter((l) => l.trim() !== '');
  if (docs.length !== expected) {
    throw new Error(
      `ip -json -batch printed ${docs.length} JSON documents, ${expected} expected: ${JSON.stringify(stdout.slice(0, 200))}`,
    );
  }
  return docs;
}

export class Iproute2Net implements NetPort {
  private batch: IpBatch;

  constructor(options: { argv?: readonly string[]; onRestart?: (why: string) => void } = {}) {
    this.batch = new IpBatch({
      argv: options.argv ?? [IP, '-json', '-force', '-batch', '-'],
      stdoutLinesOf,
      onRestart: options.onRestart,
    });
    // Started now: the first takeover must not pay for the process start.
    this.batch.start();
  }

  /** Ends the iproute2 process. */
  close(): void {
    this.batch.close();
  }

  async read(): Promise<NetReading> {
    const answer = await this.batch.run(READ_BATCH, TIMEOUT_MS);
    if (answer.failures.length) {
      throw new Error(
        answer.failures.map((f) => `"ip -json ${READ_BATCH[f.index]}": ${f.message || 'failed'}`).join('; '),
      );
    }
    const [addr, route] = splitBatchJson(answer.stdout.join('\n'), 2);
    const { addresses, carrier, macs } = parseAddrJson(addr);
    return { actual: { addresses, routes: parseRouteJson(route) }, carrier, macs };
  }

  async apply(all: NetChange[]): Promise<void> {
    if (all.length === 0) return;
    // A deleted VIP must never take the node's own address with it (promote-secondaries.ts).
    const kept = await this.unsafeDeletions(all);
    const changes = all.filter((c) => !kept.some((k) => k.change === c));
    await this.applyBatch(changes);
    if (kept.length)
      throw new Error(kept.map((k) => `"ip ${batchLine(k.change)}" not run: ${k.why}`).join('; '));
  }

  /**
   * Deletions of VIPs that would delete other addresses with them: none where promote_secondaries
   * could be set (the usual case); where it could not, those of a primary address with secondaries.
   */
  private async unsafeDeletions(changes: NetChange[]): Promise<{ change: NetChange; why: string }[]> {
    const deletions = changes.filter((c) => c.kind === 'delete-address');
    const failed = allowPromotion([...new Set(deletions.map((c) => c.ifname))]);
    const unsafe: { change: NetChange; why: string }[] = [];
    for (const { ifname, error } of failed) {
      const addresses = await this.inetAddresses(ifname).catch(() => null);
      for (const c of deletions.filter((d) => d.ifname === ifname)) {
        if (addresses === null || deletionTakesOthers(c.address, addresses)) {
          unsafe.push({
            change: c,
            why: `${c.address} is the primary address of its subnet on ${ifname} and promote_secondaries cannot be set there (${error}): deleting it would delete the node's own address with it`,
          });
        }
      }
    }
    return unsafe;
  }

  private async inetAddresses(ifname: string): Promise<InetAddress[]> {
    const line = `address show dev ${ifname}`;
    const answer = await this.batch.run([line], TIMEOUT_MS);
    if (answer.failures.length) throw new Error(`"ip -json ${line}": ${answer.failures[0].message}`);
    const [link] = JSON.parse(answer.stdout[0] ?? '[]') as IpAddrJson[];
    return (link?.addr_info ?? [])
      .filter((a) => a.family === 'inet')
      .map((a) => ({ local: a.local, prefixlen: a.prefixlen, secondary: a.secondary === true }));
  }

  private async applyBatch(changes: NetChange[]): Promise<void> {
    if (changes.length === 0) return;
    const lines = changes.map(batchLine);
    const answer = await this.batch.run(lines, TIMEOUT_MS);
    const real = answer.failures.filter((f) => {
      const change = changes[f.index];
      const deleting = change.kind === 'delete-address' || change.kind === 'delete-route';
      return !(deleting && ALREADY_ABSENT.some((re) => re.test(f.message)));
    });
    if (real.length) {
      const detail = real.map((f) => `"ip ${lines[f.index]}": ${f.message || 'failed'}`).join('; ');
      throw new Error(`iproute2 refused ${real.length} change(s): ${detail}`);
    }
  }
}
