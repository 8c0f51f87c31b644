// The exchange area's layout (docs/replication.md), in one place for both ends of the link.
// The peer's forced command confines rsync to the exchange directory, so the sender names
// places relative to it (`remote`), and the receiver reads the same places as absolute
// paths under its own exchange directory (stagingPaths).

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PbxHaConfig } from '../config/types';

/** Where each copy lands on the receiving node, relative to its `incoming/` directory. */
export const INCOMING = {
  astdb: 'astdb/astdb.sqlite3',
  db: 'db/asterisk.sql',
  files: 'files',
} as const;

/** Where each copy lands on the receiving node, relative to its exchange directory. */
export const REMOTE = {
  astdbDir: 'incoming/astdb',
  astdb: `incoming/${INCOMING.astdb}`,
  dbDir: 'incoming/db',
  db: `incoming/${INCOMING.db}`,
  /** The files copy: the configured absolute paths, kept as such under this tree. */
  filesDir: `incoming/${INCOMING.files}/`,
  /** What a node gives back (its final astdb, before a failback). */
  astdbExport: 'outgoing/astdb.sqlite3',
} as const;

/** The directories the forced command lets rsync write into and read from. */
export const EXCHANGE_SUBDIRS = ['incoming', 'outgoing'] as const;

/** The receiving side's staging paths (absolute) under this node's exchange directory. */
export function stagingPaths(config: PbxHaConfig) {
  const ex = config.replication.exchangeDir;
  return {
    astdb: path.join(ex, REMOTE.astdb),
    db: path.join(ex, REMOTE.db),
    files: path.join(ex, REMOTE.filesDir),
    astdbExport: path.join(ex, REMOTE.astdbExport),
  };
}

/** Where the sending side prepares what it sends (never inside the exchange area the peer writes to). */
export function outbox(config: PbxHaConfig, name: string): string {
  const dir = path.join(config.replication.exchangeDir, 'to-peer');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, name);
}
