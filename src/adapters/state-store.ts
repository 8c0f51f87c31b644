// The node's memory across restarts, in SQLite (/var/lib/pbx-ha/state.db): the history of
// transitions and copies shown by `pbx-ha history`, and a few facts the replication needs to
// remember (the digest of the last astdb copy sent to the peer).

import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

/** Rows kept per table; older ones are pruned (a year of hourly copies fits easily). */
const KEEP_ROWS = 20_000;

export interface HistoryEvent {
  atWallMs: number;
  kind: 'transition' | 'job' | 'alert';
  summary: string;
  ok: boolean;
}

export class StateStore {
  private db: Database.Database;

  constructor(file: string, readonly = false) {
    if (!readonly) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // Root-only: the history quotes copies' errors and the node's decisions. SQLite gives its
      // -wal and -shm the mode of the database file, so that is set before it opens it.
      closeSync(openSync(file, 'a', 0o600));
      for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    }
    this.db = new Database(file, { readonly, fileMustExist: readonly });
    if (readonly) return;
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS history (
        id INTEGER PRIMARY KEY,
        at_wall_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        summary TEXT NOT NULL,
        ok INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
  }

  /** One transaction (one commit, one sync of the log to disk) for the row and the pruning. */
  add(event: HistoryEvent): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO history (at_wall_ms, kind, summary, ok) VALUES (?, ?, ?, ?)')
        .run(event.atWallMs, event.kind, event.summary, event.ok ? 1 : 0);
      this.db.prepare('DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?').run(KEEP_ROWS);
    })();
  }

  recent(limit: number): HistoryEvent[] {
    const rows = this.db
      .prepare('SELECT at_wall_ms, kind, summary, ok FROM history ORDER BY id DESC LIMIT ?')
      .all(limit) as { at_wall_ms: number; kind: HistoryEvent['kind']; summary: string; ok: number }[];
    return rows
      .reverse()
      .map((r) => ({ atWallMs: r.at_wall_ms, kind: r.kind, summary: r.summary, ok: r.ok === 1 }));
  }

  fact(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM facts WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value ?? null;
  }

  setFact(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO facts (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
