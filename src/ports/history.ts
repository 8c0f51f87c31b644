// Where transitions, copies and alerts are remembered (state.db, adapters/state-store.ts).

export interface HistoryEvent {
  atWallMs: number;
  kind: 'transition' | 'job' | 'alert';
  summary: string;
  ok: boolean;
}

/** Absent in tests that do not care. */
export interface HistorySink {
  add(event: HistoryEvent): void;
}

/** Small facts kept across restarts (the digest of the last astdb sent). */
export interface FactStore {
  fact(key: string): string | null;
  setFact(key: string, value: string): void;
}
