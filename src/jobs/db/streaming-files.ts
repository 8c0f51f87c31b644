// The text of the files streaming replication needs, as pure functions: pbx-ha's block in
// pg_hba.conf (the peer's address only), the server settings, the standby settings, and the
// passfile line of the replication role. Values are checked where they are made, so that no
// setting can add a line, a keyword or an option.

import { randomBytes } from 'node:crypto';
import { DbSettingError } from './commands';
import {
  basebackupCommand,
  controlCommand,
  type PgClusterLayout,
  type ReplicationSource,
} from './streaming-commands';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const HBA_BEGIN = '# BEGIN pbx-ha replication: managed by pbx-ha, the peer only';
export const HBA_END = '# END pbx-ha replication';

/**
 * pg_hba.conf with pbx-ha's block first (the first matching line wins, so that no broader line
 * after it can let the peer in another way for this role), replacing a block already there; every
 * other line kept as it was. The role may connect for replication, and to the database postgres
 * (pg_rewind reads files through a normal connection), from `peerAddress`/32 only, with SCRAM.
 */
export function withReplicationHba(text: string, role: string, peerAddress: string): string {
  if (!IDENT.test(role))
    throw new DbSettingError(`role ${JSON.stringify(role)}: lower-case letters, digits, _`);
  if (!IPV4.test(peerAddress))
    throw new DbSettingError(`peer address ${JSON.stringify(peerAddress)}: not IPv4`);
  const lines = text.split('\n');
  const begin = lines.indexOf(HBA_BEGIN);
  const end = lines.indexOf(HBA_END);
  if ((begin === -1) !== (end === -1) || end < begin)
    throw new DbSettingError('pg_hba.conf holds half of a pbx-ha block: fix it by hand');
  const rest = begin === -1 ? lines : [...lines.slice(0, begin), ...lines.slice(end + 1)];
  const block = [
    HBA_BEGIN,
    `host replication ${role} ${peerAddress}/32 scram-sha-256`,
    `host postgres ${role} ${peerAddress}/32 scram-sha-256`,
    HBA_END,
  ];
  return [...block, ...rest].join('\n');
}

/**
 * Server settings both nodes need to stream and to be rewound (conf.d/pbx-ha-replication.conf):
 * wal_log_hints for pg_rewind (needs a restart), WAL senders and a bound on the WAL a slot may hold
 * when its standby is away (past it the slot is given up and the standby is cloned again, rather
 * than the primary's disk filling), and the recent WAL pg_rewind needs.
 */
export function serverSettings(maxSlotWalKeepMb: number): string {
  if (!Number.isInteger(maxSlotWalKeepMb) || maxSlotWalKeepMb < 64 || maxSlotWalKeepMb > 1_048_576)
    throw new DbSettingError(`max_slot_wal_keep_size ${maxSlotWalKeepMb} MB: from 64 MB to 1 TB`);
  return [
    '# Written by pbx-ha: streaming replication to and from the peer.',
    'wal_level = replica',
    'wal_log_hints = on',
    // PostgreSQL's defaults, written so that they are known: a hot standby refuses to start with
    // less than its primary ran with, and a primary that was only reloaded keeps what it had.
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'hot_standby = on',
    `max_slot_wal_keep_size = ${maxSlotWalKeepMb}MB`,
    // pg_rewind reads the old primary's own WAL back to the last checkpoint before the fork:
    // kept, or the rewind fails and a whole new clone is needed.
    `wal_keep_size = ${Math.min(maxSlotWalKeepMb, 1024)}MB`,
    '',
  ].join('\n');
}

/** Standby settings (conf.d/pbx-ha-standby.conf): the peer to stream from, its slot, the latest timeline. */
export function standbySettings(conninfo: string, slot: string): string {
  if (!IDENT.test(slot)) throw new DbSettingError(`slot ${JSON.stringify(slot)}`);
  if (/['\\\n\r]/.test(conninfo)) throw new DbSettingError('connection string with a quote or a line break');
  return [
    '# Written by pbx-ha: this server stands by for the peer.',
    `primary_conninfo = '${conninfo}'`,
    `primary_slot_name = '${slot}'`,
    "recovery_target_timeline = 'latest'",
    '',
  ].join('\n');
}

/** The passfile's one line (pgpass format) for the role on the peer; the secret is base64url. */
export function passfileLine(host: string, port: number, role: string, secret: string): string {
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(host)) throw new DbSettingError('passfile host');
  if (!IDENT.test(role)) throw new DbSettingError('passfile role');
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(secret))
    throw new DbSettingError('replication secret: 16 to 128 base64url characters');
  return `${host}:${port}:*:${role}:${secret}\n`;
}

/** A new secret for the replication role: 32 base64url characters (192 random bits). */
export function newReplicationSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** One argv as an operator would type it (display only: never run through a shell). */
function typed(argv: readonly string[]): string {
  return argv
    .map((a) => (/^[A-Za-z0-9_./=:,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
    .join(' ');
}

/**
 * The commands that resolve two primaries, for status and the alert, run by hand on the node whose
 * writes since the split are given up: a dump of its whole cluster kept under `backupFile`, its
 * server stopped, its data directory moved aside (never deleted), and a new clone of the other node.
 */
export function splitResolution(c: PgClusterLayout, other: ReplicationSource, backupFile: string): string {
  const control = controlCommand(c, 'stop');
  const dump = [
    'runuser',
    '-u',
    c.osUser,
    '--',
    `${c.binDir}/pg_dumpall`,
    '-h',
    c.socketDir,
    '-p',
    String(c.port),
    '-f',
    backupFile,
  ];
  const aside = `${c.dataDir}.split`;
  // --write-recovery-conf: the clone starts as a standby of the other node (standby.signal, and
  // primary_conninfo with the passfile, never the secret, in postgresql.auto.conf).
  const clone = [...basebackupCommand(c, other, c.dataDir), '--write-recovery-conf'];
  return [
    `on the node whose writes since the split you give up: ${typed(dump)}`,
    typed(control),
    typed(['mv', c.dataDir, aside]),
    typed(['install', '-d', '-m', '0700', '-o', c.osUser, '-g', c.osUser, c.dataDir]),
    typed(clone),
    typed(controlCommand(c, 'start')),
    `then bring what you need from ${backupFile} into the other node by hand`,
  ].join('; ');
}
