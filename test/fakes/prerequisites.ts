// Tests that need what a developer's machine may lack (root, a program, a built helper). In CI
// (process.env.CI set) a missing prerequisite is a failure: those tests must run there. Elsewhere
// each such test is skipped on its own, with the reason, so that the runner counts it in its
// summary ("# skipped N", "ℹ skipped N") and a run cannot look fully green for the wrong reason.
// (A skipped describe() is not counted: node:test reports "skipped 0" for it.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export interface Prerequisite {
  /** Why the tests cannot run here, or null when they can. */
  missing: string | null;
  /** Options for each test that needs it: `test(name, needs.options, fn)`. */
  options: { skip: string | false };
  /** True when the tests cannot run: hooks (before, after) return at once. */
  lacking: boolean;
}

/**
 * Declares what a group of tests needs. `what` names the group in the messages. When `missing`
 * is set: with CI, a failing test says so; without, a loud line on stderr and every test of the
 * group skipped with the reason.
 */
export function prerequisite(what: string, missing: string | null): Prerequisite {
  if (missing !== null) {
    if (process.env.CI) {
      test(`prerequisites of ${what}`, () => {
        assert.fail(`${what}: ${missing} (CI is set, so this is a failure, not a skip)`);
      });
    } else {
      process.stderr.write(
        `\n*** ${what}: ${missing} — skipping these tests (set CI=1 to make this a failure) ***\n\n`,
      );
    }
  }
  return {
    missing,
    options: { skip: missing === null ? false : `${what}: ${missing}` },
    lacking: missing !== null,
  };
}

/** Why a network namespace of its own (`unshare --net`) cannot be made here, or null when it can. */
export function netnsMissing(): string | null {
  if (process.getuid?.() !== 0) return 'a network namespace needs root';
  const r = spawnSync('unshare', ['--net', 'true'], { timeout: 10_000 });
  return r.status === 0 ? null : `unshare --net failed: ${String(r.stderr)}`;
}
