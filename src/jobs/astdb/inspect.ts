// The check and content digest of an astdb that came from the peer, run in a child process with
// a time limit: a crafted file must never hold the agent's event loop (its timers are how the
// slave watches the master). The schema is checked first (digest.ts, schemaProblems: sqlite_master
// only), so a VIEW named astdb is refused before any row is read; the child and its time limit
// are for everything else SQLite may be made to do on a file it did not write. The child is
// killed at the limit (better-sqlite3 runs synchronously: a worker thread could not be stopped
// inside it).

import * as path from 'node:path';
import { CommandError, runCommand } from '../../adapters/exec';

export type AstdbInspection = { ok: true; keys: number; digest: string } | { ok: false; problem: string };

/** Default time limit: integrity_check and digest of a 100 000-key astdb take well under a second. */
export const DEFAULT_INSPECT_TIMEOUT_MS = 60_000;

const CHILD = path.join(__dirname, 'inspect-child.js');

/** Checks `file` (schema, integrity, table) and digests its rows, off the event loop; never throws for a bad file. */
export async function inspectAstdb(
  file: string,
  timeoutMs = DEFAULT_INSPECT_TIMEOUT_MS,
): Promise<AstdbInspection> {
  let stdout: string;
  try {
    ({ stdout } = await runCommand([process.execPath, CHILD, file], { timeoutMs }));
  } catch (e) {
    if (e instanceof CommandError && e.timedOut)
      return { ok: false, problem: `${file}: checking it took longer than ${timeoutMs} ms (stopped)` };
    return { ok: false, problem: `${file}: the check failed: ${(e as Error).message.slice(0, 500)}` };
  }
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch {
    return { ok: false, problem: `${file}: the check gave no answer` };
  }
  const a = answer as Record<string, unknown>;
  if (
    a.ok === true &&
    typeof a.keys === 'number' &&
    typeof a.digest === 'string' &&
    /^[0-9a-f]{64}$/.test(a.digest)
  )
    return { ok: true, keys: a.keys, digest: a.digest };
  return {
    ok: false,
    problem: typeof a.problem === 'string' ? a.problem : `${file}: the check gave no answer`,
  };
}
