// The last copy this node received from its peer, per kind, for `pbx-ha status`: the node that
// stands by runs no job, yet its data is only as fresh as what it last installed.

import type { CopyKind } from '../domain/copies';
import type { Clock } from '../ports/clock';
import type { ReceivedCopy } from '../ports/status';

export class ReceivedCopies {
  private last = new Map<CopyKind, ReceivedCopy>();
  private lastInstalled = new Map<CopyKind, ReceivedCopy>();

  constructor(private clock: Clock) {}

  note(copy: { kind: CopyKind; from: string; ok: boolean; detail: string }): void {
    const record: ReceivedCopy = { ...copy, atWallMs: this.clock.wallMs(), lastInstalledAtWallMs: null };
    if (copy.ok) this.lastInstalled.set(copy.kind, record);
    this.last.set(copy.kind, record);
  }

  /** One entry per kind received since the agent started: the last copy, and when one was last installed. */
  state(): ReceivedCopy[] {
    return [...this.last.values()].map((r) => ({
      ...r,
      lastInstalledAtWallMs: this.lastInstalled.get(r.kind)?.atWallMs ?? null,
    }));
  }
}
