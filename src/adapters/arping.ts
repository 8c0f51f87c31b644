// ARP through iputils `arping`. Gratuitous ARP is sent as an ARP *request* for the VIP to
// the broadcast address (`arping -U`), the form every switch and phone accepts to update
// its table (BEHAVIOR.md, "Timing"); `-A` would send replies, which some devices ignore.
// Free-address checks use duplicate address detection (`arping -D`, sender 0.0.0.0), so
// that a holder answers even when ICMP is filtered.

import type { ArpPort } from '../ports/network';
import { CommandError, runCommand } from './exec';

const ARPING = '/usr/bin/arping';

/** Debian 12's arping takes whole seconds only for -w and -i. */
function wholeSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** MACs found in arping's output lines like `Unicast reply from 192.0.2.10 [AA:BB:..]`. */
export function repliesFrom(output: string): string[] {
  const macs = new Set<string>();
  for (const m of output.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)) macs.add(m[1].toLowerCase());
  return [...macs];
}

export class ArpingArp implements ArpPort {
  /**
   * One `arping -U -c 1` per request, started `intervalMs` apart: arping sends its request
   * at once but cannot space requests by less than a second itself.
   */
  async announce(address: string, ifname: string, count: number, intervalMs: number): Promise<void> {
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) await sleep(intervalMs);
      runs.push(runCommand([ARPING, '-q', '-U', '-c', '1', '-I', ifname, address], { timeoutMs: 5000 }));
    }
    await Promise.all(runs);
  }

  async whoHas(address: string, ifname: string, timeoutMs: number): Promise<string[]> {
    try {
      // -D exits 0 when nobody answered, 1 when somebody did.
      await runCommand([ARPING, '-D', '-c', '1', '-w', wholeSeconds(timeoutMs), '-I', ifname, address], {
        timeoutMs: timeoutMs + 5000,
      });
      return [];
    } catch (e) {
      if (e instanceof CommandError && e.exitCode === 1) {
        const macs = repliesFrom(e.stdout);
        return macs.length ? macs : ['unknown'];
      }
      throw e;
    }
  }
}
