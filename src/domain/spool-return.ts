// What a failback does with the spool files (voicemail, recordings, faxes) the slave changed
// while it served: pure, decided by content (size and modification time as rsync preserves
// them), never by comparing clocks. Three listings of each configured spool root:
// - base: what both nodes held after the last copy the master sent (its listing just before
//   that copy; see jobs/spool-manifest.ts), or after the last failback that brought files back;
// - slave: what the slave holds now;
// - master: what this node holds now.
// A file the slave did not change (slave = base) stays as the master has it. A file the slave
// created, changed or deleted is applied here: the slave served last, so its version wins; the
// master's version it replaces is kept in the backup area, and when the master had changed it
// too (master ≠ base) that is a conflict, named in an alert. Without a base (no copy recorded
// yet) nothing is deleted: a file absent on the slave may never have reached it.

/** One regular file of a spool root: size in bytes, modification time in whole seconds. */
export interface SpoolEntry {
  size: number;
  mtime: number;
}

/** Path relative to its spool root ("1/INBOX/msg0000.wav") → entry. */
export type RootListing = Map<string, SpoolEntry>;

export type SpoolAction =
  /** Fetch the slave's file and install it (`replaces`: the master's file it replaces, kept). */
  | {
      kind: 'install';
      root: string;
      path: string;
      slave: SpoolEntry;
      replaces: SpoolEntry | null;
      conflict: boolean;
    }
  /** The slave deleted it: the master's copy goes to the backup area. */
  | { kind: 'remove'; root: string; path: string; conflict: boolean };

export function sameEntry(a: SpoolEntry | undefined, b: SpoolEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && a.mtime === b.mtime;
}

/**
 * The actions that bring the slave's changes of one root here. `base` null: no common listing
 * is known for this root (no deletion is applied then).
 */
export function planRootReturn(
  root: string,
  base: RootListing | null,
  slave: RootListing,
  master: RootListing,
): SpoolAction[] {
  const actions: SpoolAction[] = [];
  const paths = new Set([...slave.keys(), ...(base ? base.keys() : [])]);
  for (const p of [...paths].sort()) {
    const b = base?.get(p);
    const s = slave.get(p);
    const m = master.get(p);
    if (sameEntry(s, b)) continue; // the slave did not change it
    if (sameEntry(s, m)) continue; // both hold the same already
    if (s === undefined) {
      if (base === null || m === undefined) continue;
      actions.push({ kind: 'remove', root, path: p, conflict: !sameEntry(m, b) });
      continue;
    }
    const masterChanged = m !== undefined && !sameEntry(m, b);
    actions.push({ kind: 'install', root, path: p, slave: s, replaces: m ?? null, conflict: masterChanged });
  }
  return actions;
}
