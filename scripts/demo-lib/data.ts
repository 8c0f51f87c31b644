/**
 * The PBX data the demo writes and looks for on each node of the lab: astdb keys (Asterisk's
 * SQLite file, read and written through the node's backing directory), voicemail files under the
 * node's spool, and rows of the node's PostgreSQL database `asterisk`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Lab } from '../../lab/lab';
import { ASTDB, type PbxNode } from '../../lab/layout';

/** The voicemail spool the demo's configuration copies on change. */
export const SPOOL = '/var/spool/asterisk/voicemail';
/** Mailbox 1001's inbox, where the demo leaves its messages. */
export const INBOX = `${SPOOL}/default/1001/INBOX`;
/** The table of settings the demo changes (XiVO keeps its users' settings in such a table). */
export const SETTINGS_TABLE = 'userfeatures';

/** What the demo's pbx-ha.conf adds to the lab's (both nodes): copies of the lab nodes' own data. */
export const DEMO_REPLICATION = `
[replication]
alert_after = 1
retry_min = 1s
[sync.files]
paths = /var/lib/asterisk/sounds, ${SPOOL}
spool = ${SPOOL}
[sync.astdb]
debounce = 1s
`;

/** An astdb value in a node (null when the file or the key is absent). */
export function astdbGet(lab: Lab, node: PbxNode, key: string): string | null {
  const file = lab.hostPath(node, ASTDB);
  if (!existsSync(file)) return null;
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    const row = db.prepare('SELECT value FROM astdb WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? row.value : null;
  } finally {
    db.close();
  }
}

/** Sets an astdb key in a node, as Asterisk's `database put` does (one transaction). */
export function astdbPut(lab: Lab, node: PbxNode, key: string, value: string): void {
  const db = new Database(lab.hostPath(node, ASTDB), { fileMustExist: true, timeout: 5000 });
  try {
    db.prepare('INSERT OR REPLACE INTO astdb (key, value) VALUES (?, ?)').run(key, value);
  } finally {
    db.close();
  }
}

/** Leaves a voicemail in a node's INBOX as Asterisk does: a temporary name, renamed into place. */
export function leaveVoicemail(lab: Lab, node: PbxNode, name: string, body: string): void {
  const dir = lab.hostPath(node, INBOX);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `.${name}.tmp`), body);
  renameSync(path.join(dir, `.${name}.tmp`), path.join(dir, name));
}

/** The content of a voicemail in a node's INBOX (null when absent). */
export function voicemail(lab: Lab, node: PbxNode, name: string): string | null {
  const file = path.join(lab.hostPath(node, INBOX), name);
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

/** Highest N among the `<prefix>-N.txt` voicemails of a node's INBOX (0 when none). */
export function newestVoicemail(lab: Lab, node: PbxNode, prefix: string): number {
  const dir = lab.hostPath(node, INBOX);
  if (!existsSync(dir)) return 0;
  const re = new RegExp(`^${prefix}-(\\d+)\\.txt$`);
  let max = 0;
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/** The settings table on both nodes (the schema is not copied: both nodes have it, as on a PBX). */
export async function createSettingsTable(lab: Lab, node: PbxNode): Promise<void> {
  await lab.psql(
    node,
    `CREATE TABLE IF NOT EXISTS ${SETTINGS_TABLE} (id serial PRIMARY KEY, firstname text NOT NULL, description text)`,
  );
}

/**
 * Rows of the settings table whose description is `marker` (a word of letters, digits and "-",
 * so that it can be written into the SQL as it is).
 */
export async function settingsRows(lab: Lab, node: PbxNode, marker: string): Promise<number> {
  if (!/^[\w-]+$/.test(marker)) throw new Error(`settingsRows: unexpected marker "${marker}"`);
  const out = await lab.psql(node, `SELECT count(*) FROM ${SETTINGS_TABLE} WHERE description = '${marker}'`);
  return Number(out.trim());
}

export async function insertSetting(
  lab: Lab,
  node: PbxNode,
  firstname: string,
  marker: string,
): Promise<void> {
  if (!/^[\w -]+$/.test(firstname) || !/^[\w-]+$/.test(marker))
    throw new Error(`insertSetting: unexpected text "${firstname}" / "${marker}"`);
  await lab.psql(
    node,
    `INSERT INTO ${SETTINGS_TABLE} (firstname, description) VALUES ('${firstname}', '${marker}')`,
  );
}
