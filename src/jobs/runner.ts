// Runs the replication jobs: never two runs of one job at once, each with a timeout, every
// result recorded; a failed job is retried with backoff and raises an alert after
// `alertAfter` failures in a row (and once more when it recovers).

import type { CopyKind } from '../domain/copies';
import type { JobRecord, JobState, JobTrigger } from '../ports/status';

export type { JobRecord, JobState, JobTrigger };
import type { Clock, Timer } from '../ports/clock';
import type { Logger } from '../ports/log';
import { retryDelayMs } from './backoff';

export interface JobOutcome {
  bytes: number;
  detail: string;
}

/** Thrown by a job that does not apply now (this node is not the active master): not a failure. */
export class JobNotApplicable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobNotApplicable';
  }
}

/**
 * A failure an administrator must act on (the peer's host key changed, pbx-ha's key refused):
 * alerted as soon as it appears in a run of failures, even when that run began with another
 * error (the peer down while it was reinstalled) and its alert was already raised.
 */
export function needsAdministrator(e: unknown): boolean {
  return (
    typeof e === 'object' && e !== null && (e as { needsAdministrator?: unknown }).needsAdministrator === true
  );
}

export interface JobDefinition {
  kind: CopyKind;
  timeoutMs: number;
  run(signal: AbortSignal, trigger: JobTrigger): Promise<JobOutcome>;
}

export type RunResult = { ran: true; record: JobRecord } | { ran: false; reason: string };

export interface RunnerSettings {
  retryMinMs: number;
  retryMaxMs: number;
  alertAfter: number;
}

export class JobRunner {
  private states = new Map<CopyKind, JobState>();
  private retryTimers = new Map<CopyKind, Timer>();
  private running = new Map<CopyKind, Promise<RunResult>>();
  /** The failures alerted in the current run of failures of each job (see needsAdministrator). */
  private alerted = new Map<CopyKind, Set<string>>();

  constructor(
    private jobs: JobDefinition[],
    private clock: Clock,
    private log: Logger,
    private settings: () => RunnerSettings,
    private record: (r: JobRecord) => void,
    private alert: (message: string) => void,
  ) {
    for (const j of jobs) {
      this.states.set(j.kind, {
        kind: j.kind,
        running: false,
        lastSuccess: null,
        lastError: null,
        consecutiveFailures: 0,
        nextRetryWallMs: null,
      });
    }
  }

  state(): JobState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  /** Runs a job now unless it is already running (then the running one is awaited). */
  run(kind: CopyKind, trigger: JobTrigger): Promise<RunResult> {
    const current = this.running.get(kind);
    // An administrator asking for a copy wants one that starts now: after the running one.
    if (current && (trigger === 'manual' || trigger === 'forced'))
      return current.then(() => this.run(kind, trigger));
    if (current)
      return current.then((): RunResult => ({ ran: false, reason: `a ${kind} copy was already running` }));
    const job = this.jobs.find((j) => j.kind === kind);
    if (!job) return Promise.resolve({ ran: false, reason: `no ${kind} job` });
    const p = this.execute(job, trigger).finally(() => this.running.delete(kind));
    this.running.set(kind, p);
    return p;
  }

  stop(): void {
    for (const t of this.retryTimers.values()) t.cancel();
    this.retryTimers.clear();
  }

  private async execute(job: JobDefinition, trigger: JobTrigger): Promise<RunResult> {
    const state = this.states.get(job.kind)!;
    this.retryTimers.get(job.kind)?.cancel();
    this.retryTimers.delete(job.kind);
    state.nextRetryWallMs = null;
    state.running = true;
    const startedMono = this.clock.nowMs();
    const startedAtWallMs = this.clock.wallMs();
    const abort = new AbortController();
    const timer = this.clock.after(job.timeoutMs, () =>
      abort.abort(new Error(`timed out after ${job.timeoutMs} ms`)),
    );
    try {
      const outcome = await Promise.race([
        job.run(abort.signal, trigger),
        new Promise<never>((_, reject) =>
          abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error)),
        ),
      ]);
      const record: JobRecord = {
        kind: job.kind,
        trigger,
        startedAtWallMs,
        durationMs: this.clock.nowMs() - startedMono,
        ok: true,
        bytes: outcome.bytes,
        detail: outcome.detail,
        error: null,
      };
      if (state.consecutiveFailures >= this.settings().alertAfter || this.alerted.has(job.kind)) {
        this.alert(`${job.kind} copy works again after ${state.consecutiveFailures} failures`);
      }
      this.alerted.delete(job.kind);
      state.consecutiveFailures = 0;
      state.lastSuccess = record;
      this.log.log(
        'info',
        `${job.kind} copy (${trigger}) done in ${Math.round(record.durationMs)} ms: ${outcome.detail}`,
      );
      this.record(record);
      return { ran: true, record };
    } catch (e) {
      const err = e as Error;
      if (err instanceof JobNotApplicable) return { ran: false, reason: err.message };
      const record: JobRecord = {
        kind: job.kind,
        trigger,
        startedAtWallMs,
        durationMs: this.clock.nowMs() - startedMono,
        ok: false,
        bytes: 0,
        detail: '',
        error: err.message,
      };
      state.consecutiveFailures++;
      state.lastError = { atWallMs: this.clock.wallMs(), message: err.message };
      const s = this.settings();
      const delay = retryDelayMs(state.consecutiveFailures, s.retryMinMs, s.retryMaxMs);
      state.nextRetryWallMs = this.clock.wallMs() + delay;
      this.retryTimers.set(
        job.kind,
        this.clock.after(delay, () => void this.run(job.kind, 'retry')),
      );
      this.log.log(
        'warn',
        `${job.kind} copy (${trigger}) failed (${state.consecutiveFailures} in a row), retry in ${Math.round(delay / 1000)} s: ${err.message}`,
      );
      const alerted = this.alerted.get(job.kind) ?? new Set<string>();
      const urgent = needsAdministrator(err) && !alerted.has(err.message);
      if ((state.consecutiveFailures === s.alertAfter && alerted.size === 0) || urgent) {
        this.alert(`${job.kind} copy failed ${state.consecutiveFailures} times in a row: ${err.message}`);
        alerted.add(err.message);
        this.alerted.set(job.kind, alerted);
      }
      this.record(record);
      return { ran: true, record };
    } finally {
      timer.cancel();
      state.running = false;
    }
  }
}
