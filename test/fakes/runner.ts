// A recording CommandRunner (the executor's way of running services and notify commands).
// Each call is recorded; how it ends is set per command with `on`: after a delay on the
// fake clock, successfully or with an error. Unmatched commands succeed at once.

import type { CommandRunner } from '../../src/agent/executor';
import type { Clock } from '../../src/ports/clock';

export interface CommandCall {
  argv: string[];
  timeoutMs: number;
  startedMs: number;
  /** When the command ended (null while it runs). */
  endedMs: number | null;
  error: Error | null;
}

export interface CommandBehaviour {
  /** How long the command runs, in fake time. */
  delayMs?: number;
  /** When set, the command fails with this error. */
  error?: Error;
}

export class RecordingRunner {
  readonly calls: CommandCall[] = [];
  private rules: { match: (argv: readonly string[]) => boolean; behaviour: CommandBehaviour }[] = [];

  constructor(private clock: Clock) {}

  /** Commands whose argv starts with `prefix` behave as told (the last matching rule wins). */
  on(prefix: readonly string[], behaviour: CommandBehaviour): this {
    this.rules.push({ match: (argv) => prefix.every((p, i) => argv[i] === p), behaviour });
    return this;
  }

  /** The CommandRunner to give the executor. */
  readonly run: CommandRunner = (argv, options) => {
    const call: CommandCall = {
      argv: [...argv],
      timeoutMs: options.timeoutMs,
      startedMs: this.clock.nowMs(),
      endedMs: null,
      error: null,
    };
    this.calls.push(call);
    const rule = [...this.rules].reverse().find((r) => r.match(argv));
    const { delayMs = 0, error } = rule?.behaviour ?? {};
    return new Promise((resolve, reject) => {
      const end = () => {
        call.endedMs = this.clock.nowMs();
        call.error = error ?? null;
        if (error) reject(error);
        else resolve({ stdout: '', stderr: '', durationMs: delayMs });
      };
      if (delayMs > 0) {
        const timer = this.clock.after(delayMs, end);
        // Like runCommand: an abort kills the command, which ends at once with an error.
        options.signal?.addEventListener('abort', () => {
          timer.cancel();
          call.endedMs = this.clock.nowMs();
          call.error = new Error(`${argv.join(' ')} was cancelled and killed`);
          reject(call.error);
        });
      } else end();
    });
  };

  /** Calls whose argv starts with `prefix`. */
  callsOf(prefix: readonly string[]): CommandCall[] {
    return this.calls.filter((c) => prefix.every((p, i) => c.argv[i] === p));
  }
}
