// Running a program: an argv array (never a shell string), a timeout, an optional abort.
// The real runner is adapters/exec.ts; tests record calls (test/fakes/runner.ts).

/** Runs `argv`; rejects, saying why, when it fails, times out or is aborted. */
export type CommandRunner = (
  argv: readonly string[],
  options: { timeoutMs: number; signal?: AbortSignal },
) => Promise<unknown>;
