// What a PostgreSQL server is, read with fixed queries and tools and turned into the planner's
// observation (src/domain/pg-streaming.ts). Every parser checks shape and size and refuses what it
// does not recognise: an observation it cannot trust is never guessed.

import {
  parseLsn,
  parseTimelineHistory,
  type PgObservation,
  type StandbyReport,
} from '../../domain/pg-streaming';

/**
 * One line of JSON: what the running server is. Fixed text, no value from outside. The timeline of
 * a primary is the one of the WAL file it writes; of a standby (PostgreSQL 15 shows no replay
 * timeline), the newest of the one its WAL receiver streams, its last restartpoint's and the
 * newest history file in pg_wal: with recovery_target_timeline = 'latest' it replays that one
 * (once past the switch point; before, its lag says it is not there yet). The history file is read only on a primary past timeline 1.
 */
export const SERVER_STATE_SQL = `
WITH r AS (SELECT pg_is_in_recovery() AS rec),
t AS (
  SELECT CASE WHEN rec
    THEN greatest((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()),
      (SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{8}[.]history$'))
    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS tli FROM r)
SELECT json_build_object(
  'system_id', (SELECT system_identifier::text FROM pg_control_system()),
  'in_recovery', (SELECT rec FROM r),
  'timeline', (SELECT tli FROM t),
  'current_lsn', CASE WHEN (SELECT rec FROM r) THEN NULL ELSE pg_current_wal_lsn()::text END,
  'receive_lsn', pg_last_wal_receive_lsn()::text,
  'replay_lsn', pg_last_wal_replay_lsn()::text,
  'streaming', coalesce((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false),
  'history', CASE WHEN (SELECT rec FROM r) OR (SELECT tli FROM t) = 1 THEN NULL
    ELSE pg_read_file('pg_wal/' || lpad(upper(to_hex((SELECT tli FROM t))), 8, '0') || '.history') END,
  'standbys', (SELECT coalesce(json_agg(json_build_object(
      'application_name', application_name, 'state', state,
      'replay_lsn', replay_lsn::text, 'replay_lag', extract(epoch FROM replay_lag))), '[]'::json)
    FROM pg_stat_replication)
)`;

/** A history file is small (one line per promotion); a longer answer is not trusted. */
const MAX_STATE_BYTES = 256 * 1024;

export class PgStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgStateError';
  }
}

const SYSTEM_ID = /^\d{1,20}$/;

function lsnField(o: Record<string, unknown>, key: string, required: boolean): bigint | null {
  const v = o[key];
  if (v === null || v === undefined) {
    if (required) throw new PgStateError(`${key} missing`);
    return null;
  }
  const lsn = typeof v === 'string' ? parseLsn(v) : null;
  if (lsn === null) throw new PgStateError(`${key} ${JSON.stringify(v)}: not an LSN`);
  return lsn;
}

/** SERVER_STATE_SQL's output → a primary or standby observation. */
export function parseServerState(stdout: string): PgObservation {
  if (stdout.length > MAX_STATE_BYTES)
    throw new PgStateError(`answer of ${stdout.length} bytes, more than expected`);
  let o: unknown;
  try {
    o = JSON.parse(stdout.trim());
  } catch {
    throw new PgStateError('answer is not one line of JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new PgStateError('answer is not an object');
  const s = o as Record<string, unknown>;
  const systemId = s.system_id;
  if (typeof systemId !== 'string' || !SYSTEM_ID.test(systemId))
    throw new PgStateError('system_id not a number');
  const timeline = s.timeline;
  if (typeof timeline !== 'number' || !Number.isInteger(timeline) || timeline < 1)
    throw new PgStateError(`timeline ${JSON.stringify(timeline)}`);
  if (typeof s.in_recovery !== 'boolean') throw new PgStateError('in_recovery not a boolean');
  if (s.in_recovery) {
    return {
      kind: 'standby',
      systemId,
      timeline,
      receiveLsn: lsnField(s, 'receive_lsn', false),
      replayLsn: lsnField(s, 'replay_lsn', true)!,
      streaming: s.streaming === true,
    };
  }
  let history = parseTimelineHistory('');
  if (timeline > 1) {
    history = typeof s.history === 'string' ? parseTimelineHistory(s.history) : null;
    if (history === null) throw new PgStateError(`history of timeline ${timeline} unreadable`);
  }
  if (!Array.isArray(s.standbys) || s.standbys.length > 100)
    throw new PgStateError('standbys not a short list');
  const standbys: StandbyReport[] = s.standbys.map((x: unknown) => {
    const r = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    const lag = r.replay_lag;
    return {
      applicationName: typeof r.application_name === 'string' ? r.application_name.slice(0, 64) : '',
      state: typeof r.state === 'string' ? r.state.slice(0, 32) : '',
      replayLsn: lsnField(r, 'replay_lsn', false),
      replayLagSeconds: typeof lag === 'number' && Number.isFinite(lag) && lag >= 0 ? lag : null,
    };
  });
  return {
    kind: 'primary',
    systemId,
    timeline,
    history: history!,
    currentLsn: lsnField(s, 'current_lsn', true)!,
    standbys,
  };
}

/**
 * pg_controldata's output (LC_ALL=C) of a server known not to run → a stopped observation. A state
 * other than "shut down" ("in production" after a crash) is an unclean stop.
 */
export function parseControlData(stdout: string, standbyConfigured: boolean): PgObservation {
  if (stdout.length > 64 * 1024) throw new PgStateError('pg_controldata answer longer than expected');
  const field = (name: string): string => {
    const line = stdout.split('\n').find((l) => l.startsWith(`${name}:`));
    if (line === undefined) throw new PgStateError(`pg_controldata without "${name}"`);
    return line.slice(name.length + 1).trim();
  };
  const state = field('Database cluster state');
  const systemId = field('Database system identifier');
  if (!SYSTEM_ID.test(systemId)) throw new PgStateError(`system identifier ${JSON.stringify(systemId)}`);
  const checkpointLsn = parseLsn(field('Latest checkpoint location'));
  if (checkpointLsn === null) throw new PgStateError('latest checkpoint location not an LSN');
  const timeline = Number(field("Latest checkpoint's TimeLineID"));
  if (!Number.isInteger(timeline) || timeline < 1) throw new PgStateError('timeline not a number');
  return {
    kind: 'stopped',
    systemId,
    timeline,
    checkpointLsn,
    cleanShutdown: state === 'shut down' || state === 'shut down in recovery',
    standbyConfigured,
  };
}

/**
 * Commits in pg_waldump's --rmgr=Transaction output. pg_waldump ends with an error at the end of
 * the valid WAL ("invalid record length …"); that is where counting stops, not a failure.
 */
export function countCommits(stdout: string): number {
  let n = 0;
  for (const line of stdout.split('\n')) if (/\bdesc: COMMIT(_PREPARED)?\b/.test(line)) n++;
  return n;
}

/** Whether pg_waldump's error is the normal end of the WAL rather than a failure to read it. */
export function isEndOfWal(stderr: string): boolean {
  // A missing segment ("could not find file") is not the end: the WAL to count is not there.
  return /error in WAL record at [0-9A-F]+\/[0-9A-F]+: (invalid record length|invalid magic number|record with incorrect prev-link)/.test(
    stderr,
  );
}
