// At most PEER_SLOTS sessions of pbx-ha's key run the forced command (`pbx-ha peer-command`) at
// once on a node. sshd bounds the handshakes in flight (MaxStartups) but not the authenticated
// sessions of one key, and each session holds a Node.js process of some 40 MiB: a holder of the
// key opening thousands of them would take the node's memory, which is more than "copies
// installed in standby" (docs/security.md). The agents of a pair use a handful at a time (a
// control channel, one held ahead of a handover, one rsync per kind of copy).
//
//   takePeerSlot(dir, slots?): PeerSlot | { refused: string }
//
// A slot is a file `peer-slot-<n>` in the control socket's directory (root's, 0700, on /run:
// emptied at boot) holding its owner's pid and start time (/proc/<pid>/stat, field 22), so that
// a slot whose owner died without freeing it (SIGKILL) is taken back, and a reused pid is not
// mistaken for its owner. A slot is claimed with link(2), which fails when the name exists:
// two sessions never both claim a free slot. Taking back a dead owner's slot renames it away
// first (one racer wins the rename); a loser of that race only ever moves on to the next slot.

import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Sessions of pbx-ha's key at once, per node. */
export const PEER_SLOTS = 16;

export interface PeerSlot {
  /** The slot's file. */
  file: string;
  /** Frees the slot (also done at the process's exit); only removes the file while it is still this process's. */
  release(): void;
}

/** A process's start time in clock ticks since boot, or null when it does not exist. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces and parentheses: fields count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall; the first after ')' is field 3
  } catch {
    return null;
  }
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Whether a slot file's content names a process that still runs. Anything unreadable counts as dead. */
function ownerAlive(content: string | null): boolean {
  const m = /^(\d{1,10}) (\d{1,20})\n$/.exec(content ?? '');
  return m !== null && startTime(Number(m[1])) === m[2];
}

/**
 * Claims one of `slots` session slots in `dir` (which must exist and be pbx-ha's own); the
 * refusal says how many sessions already run. Throws only on an unexpected file system error.
 */
export function takePeerSlot(dir: string, slots = PEER_SLOTS): PeerSlot | { refused: string } {
  const me = `${process.pid} ${startTime(process.pid) ?? '0'}\n`;
  const mine = path.join(dir, `peer-slot-claim-${process.pid}`);
  writeFileSync(mine, me, { mode: 0o600 });
  try {
    for (let n = 0; n < slots; n++) {
      const file = path.join(dir, `peer-slot-${n}`);
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          linkSync(mine, file);
          const release = (): void => {
            if (readOrNull(file) === me) unlinkSync(file);
          };
          process.once('exit', release);
          return { file, release };
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const seen = readOrNull(file);
        if (ownerAlive(seen)) break;
        // Its owner died: moved away first, so that of several sessions taking it back one wins.
        const moved = `${file}.stale-${process.pid}`;
        try {
          renameSync(file, moved);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // taken back by another: try again
          throw e;
        }
        const content = readOrNull(moved);
        if (content !== seen && ownerAlive(content)) {
          // Between the look and the rename a live session claimed it: given back, and on to the next.
          try {
            linkSync(moved, file);
          } catch {
            // The name is taken again meanwhile: that session holds it; the one moved away runs
            // on without its file, one session above the bound until it ends.
          }
          unlinkSync(moved);
          break;
        }
        unlinkSync(moved);
      }
    }
    return { refused: `${slots} sessions of pbx-ha's key already run on this node` };
  } finally {
    unlinkSync(mine);
  }
}
