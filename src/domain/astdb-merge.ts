// The three-way merge of two astdb copies against the last copy the two nodes exchanged (the
// merge base). Used at failback: the master's astdb and the one the slave wrote while it served
// both changed since the base, and both sides' changes must survive. Pure: keys and values are
// opaque strings (the caller encodes SQLite's typed values so that equal strings mean equal
// rows); nothing here reads a clock or a file.

/** Which side of the merge a value came from. */
export type MergeSide = 'master' | 'slave';

/** One key that both sides changed differently since the base: `kept` won, the other value is reported. */
export interface MergeConflict {
  key: string;
  /** The value in the base, or null when the key was not there. */
  base: string | null;
  /** The master's value, or null when the master deleted (or never had) the key. */
  master: string | null;
  /** The slave's value, or null when the slave deleted (or never had) the key. */
  slave: string | null;
  /** The side whose value (or deletion) is in the merged result. */
  kept: MergeSide;
}

export interface MergeResult {
  /** The merged key → value map. */
  merged: Map<string, string>;
  /** Keys both sides changed differently (the winner's change applied). */
  conflicts: MergeConflict[];
  /** Keys changed (added, modified or deleted) by the master alone, applied. */
  fromMaster: number;
  /** Keys changed (added, modified or deleted) by the slave alone, applied. */
  fromSlave: number;
}

/**
 * Merges `master` and `slave` against `base`:
 * - a key changed (added, modified, deleted) on one side only: that side's change applies;
 * - a key changed identically on both sides: applies once, no conflict;
 * - a key changed differently on both sides (a deletion counts as a change): `winner`'s change
 *   applies, and the conflict is reported with both values so that the loser's can be kept.
 * `base` null means no common copy is known: every key present on either side is kept (a key
 * absent on one side is taken as added on the other, never as deleted), and keys on both sides
 * with different values are conflicts.
 *
 * Runs in O(keys) time and memory; 100 000 keys per side take tens of milliseconds.
 */
export function mergeThreeWay(
  base: ReadonlyMap<string, string> | null,
  master: ReadonlyMap<string, string>,
  slave: ReadonlyMap<string, string>,
  winner: MergeSide,
): MergeResult {
  const b = base ?? new Map<string, string>();
  const merged = new Map<string, string>();
  const conflicts: MergeConflict[] = [];
  let fromMaster = 0;
  let fromSlave = 0;
  const keys = new Set<string>([...b.keys(), ...master.keys(), ...slave.keys()]);
  for (const key of keys) {
    const was = b.get(key) ?? null;
    const m = master.get(key) ?? null;
    const s = slave.get(key) ?? null;
    // Without a base, absence means "never had it", not "deleted": keep whatever exists.
    const masterChanged = base === null ? m !== null && m !== s : m !== was;
    const slaveChanged = base === null ? s !== null && s !== m : s !== was;
    let value: string | null;
    if (!masterChanged && !slaveChanged) value = base === null ? (m ?? s) : was;
    else if (masterChanged && !slaveChanged) {
      value = m;
      fromMaster++;
    } else if (slaveChanged && !masterChanged) {
      value = s;
      fromSlave++;
    } else if (m === s) value = m;
    else {
      value = winner === 'master' ? m : s;
      conflicts.push({ key, base: was, master: m, slave: s, kept: winner });
    }
    if (value !== null) merged.set(key, value);
  }
  return { merged, conflicts, fromMaster, fromSlave };
}
