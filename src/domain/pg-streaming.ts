// PostgreSQL streaming replication: what to do next, given what the node must become and what
// both PostgreSQL servers were seen to be. Pure: observations in, one step out. The caller runs the
// step with PostgreSQL's own tools, observes again and asks again, until `done`, `split` or
// `blocked` — one step at a time, so that a step that failed or was half done is seen as it is.
//
// The goals, as the node's role changes:
//   serve        this node takes the VIPs (takeover): its PostgreSQL must be the primary before the
//                services start. A standby is promoted; when the peer's PostgreSQL still answers as
//                primary it is stopped first (its WAL senders flush every record to the standby on a
//                clean stop), so that the two are never primaries together.
//   stand-by     this node stands by: its PostgreSQL must be a standby of the peer's, streaming and
//                caught up. An old primary follows the new timeline as is when it has nothing the
//                new primary lacks; it is rewound (pg_rewind) when it holds WAL past the fork but no
//                committed transaction; it is cloned again (pg_basebackup, the old data directory
//                kept aside) when it belongs to another cluster or a rewind failed.
//   switchover   planned handover of the primary role to this node (the failback): the local standby
//                must have caught up (lag 0); the peer's primary is stopped cleanly, the standby is
//                promoted once it holds the peer's last checkpoint. No committed transaction is lost.
//
// Two primaries — both promoted, so that each holds transactions the other lacks — are never
// resolved here: the answer is `split`, and the caller keeps both data directories as they are,
// stops copying, alerts, and shows `resolve` in status.
//
// LSNs are 64-bit WAL positions (PostgreSQL's text form "16/B374D848"); timelines are numbered from 1.

export type Lsn = bigint;

/** "16/B374D848" → 0x16B374D848n; null when the text is not an LSN. */
export function parseLsn(text: string): Lsn | null {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (m === null) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** PostgreSQL's text form of an LSN ("16/B374D848"). */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * One line of a timeline history file (`0000000N.history`): `timeline` ended at `switchLsn`, where
 * the next timeline of this history began.
 */
export interface TimelineSwitch {
  timeline: number;
  switchLsn: Lsn;
}

/**
 * Parses a timeline history file's text (lines "parentTLI<tab>switchpoint<tab>reason", comments
 * with "#"). Null when a line is malformed or the timelines do not increase: such a history is
 * not trusted for a decision.
 */
export function parseTimelineHistory(text: string): TimelineSwitch[] | null {
  const out: TimelineSwitch[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d{1,10})\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s.*)?$/.exec(line);
    if (m === null) return null;
    const timeline = Number(m[1]);
    const switchLsn = parseLsn(m[2])!;
    const last = out[out.length - 1];
    if (timeline < 1 || (last !== undefined && (timeline <= last.timeline || switchLsn < last.switchLsn)))
      return null;
    out.push({ timeline, switchLsn });
  }
  return out;
}

/** A standby as the primary reports it (pg_stat_replication). */
export interface StandbyReport {
  applicationName: string;
  /** 'streaming', 'catchup', 'startup', 'backup', 'stopping'. */
  state: string;
  replayLsn: Lsn | null;
  /** replay_lag, in seconds; null when the primary has no measure (idle, or just connected). */
  replayLagSeconds: number | null;
}

/**
 * What a PostgreSQL server was seen to be. `systemId` is pg_control's database system identifier
 * (a decimal string): two servers of one replication lineage share it.
 */
export type PgObservation =
  /** Could not be asked (the peer's link is down, the server does not answer). */
  | { kind: 'unknown'; reason: string }
  | {
      /** Not running; from pg_controldata. */
      kind: 'stopped';
      systemId: string;
      timeline: number;
      /** "Latest checkpoint location": after a clean stop, the last record the server wrote. */
      checkpointLsn: Lsn;
      /** "Database cluster state" is "shut down" or "shut down in recovery". */
      cleanShutdown: boolean;
      /** standby.signal is present: it starts as a standby. */
      standbyConfigured: boolean;
    }
  | {
      kind: 'primary';
      systemId: string;
      timeline: number;
      /** The history of `timeline` (empty on timeline 1). */
      history: TimelineSwitch[];
      /** pg_current_wal_lsn(). */
      currentLsn: Lsn;
      standbys: StandbyReport[];
    }
  | {
      kind: 'standby';
      systemId: string;
      /** The timeline it replays. */
      timeline: number;
      /** pg_last_wal_receive_lsn(); null when nothing was streamed since it started. */
      receiveLsn: Lsn | null;
      /** pg_last_wal_replay_lsn(). */
      replayLsn: Lsn;
      /** pg_stat_wal_receiver.status is 'streaming'. */
      streaming: boolean;
    };

/**
 * What is known of the local WAL past a fork point: how many transactions committed there
 * (counted with pg_waldump over the local pg_wal from `fromLsn`). Null: not counted yet.
 */
export interface Divergence {
  timeline: number;
  fromLsn: Lsn;
  commits: number;
}

export type PgGoal =
  | {
      kind: 'serve';
      /**
       * The peer is known to be gone (silent for fall × interval): promote even when its
       * PostgreSQL cannot be asked. Without it an unknown peer blocks, since it may still be primary.
       */
      peerGone: boolean;
    }
  | { kind: 'stand-by' }
  | { kind: 'switchover' };

export interface PgFacts {
  local: PgObservation;
  peer: PgObservation;
  /** Commits counted past the fork, once the `count-commits` step has run. */
  divergence?: Divergence;
  /** A pg_rewind of the local data directory failed (missing WAL, no wal_log_hints): clone instead. */
  rewindFailed?: boolean;
}

export type PgStep =
  | { kind: 'done'; summary: string }
  /** Start the local server as it is configured (primary, or standby when standby.signal is there). */
  | { kind: 'start'; reason: string }
  /** Stop the local server cleanly (pg_ctl stop -m fast), so that pg_rewind can work on it. */
  | { kind: 'stop'; reason: string }
  /** Promote the local standby (pg_ctl promote). `behindBytes`: what it had not received, when known. */
  | { kind: 'promote'; reason: string; behindBytes: bigint | null }
  /** Configure the local server as a standby of the peer (standby.signal, primary_conninfo, slot), start it. */
  | { kind: 'follow'; reason: string }
  /** pg_rewind the stopped local data directory from the peer, then follow it. */
  | { kind: 'rewind'; reason: string; forkLsn: Lsn }
  /** Keep the local data directory aside, pg_basebackup from the peer, follow it. */
  | { kind: 'clone'; reason: string }
  /** Count the transactions the local WAL committed past `fromLsn` on `timeline` (pg_waldump). */
  | { kind: 'count-commits'; timeline: number; fromLsn: Lsn }
  /** Ask the peer to stop its PostgreSQL cleanly (its WAL senders send every record first). */
  | { kind: 'stop-peer'; reason: string }
  /** Ask the peer to start its PostgreSQL again (a switchover that must not go on). */
  | { kind: 'start-peer'; reason: string }
  /** Nothing to do now but wait and observe again (catching up, connecting). */
  | { kind: 'wait'; reason: string; lagBytes: bigint | null }
  /** Cannot go on safely; nothing was changed. */
  | { kind: 'blocked'; reason: string }
  /** Two primaries: keep both, stop copying, alert; `resolve` is the status line's way out. */
  | { kind: 'split'; reason: string; resolve: string };

/** The command an operator runs, on the node whose data is given up, after keeping a dump of it. */
export const SPLIT_RESOLVE =
  'keep a dump of the side you give up (pg_dumpall), then on that node move its data directory aside and let it be cloned again';

/** The last WAL position an observation shows, when there is one. */
export function endLsn(o: PgObservation): Lsn | null {
  switch (o.kind) {
    case 'primary':
      return o.currentLsn;
    case 'standby':
      return o.receiveLsn !== null && o.receiveLsn > o.replayLsn ? o.receiveLsn : o.replayLsn;
    case 'stopped':
      return o.checkpointLsn;
    case 'unknown':
      return null;
  }
}

/**
 * Replication lag of `standby` behind `primary`, in bytes of WAL not yet replayed (0 when caught up);
 * null when either is not in the right role or their timelines differ.
 */
export function lagBytes(primary: PgObservation, standby: PgObservation): bigint | null {
  if (primary.kind !== 'primary' || standby.kind !== 'standby') return null;
  if (primary.timeline !== standby.timeline) return null;
  const lag = primary.currentLsn - standby.replayLsn;
  return lag > 0n ? lag : 0n;
}

const describe = (o: PgObservation): string =>
  o.kind === 'unknown'
    ? `unknown (${o.reason})`
    : o.kind === 'stopped'
      ? `stopped on timeline ${o.timeline} at ${formatLsn(o.checkpointLsn)}`
      : `${o.kind} on timeline ${o.timeline} at ${formatLsn(endLsn(o)!)}`;

/** The next step towards `goal`. */
export function nextPgStep(goal: PgGoal, facts: PgFacts): PgStep {
  switch (goal.kind) {
    case 'serve':
      return towardsServe(goal.peerGone, facts);
    case 'stand-by':
      return towardsStandBy(facts);
    case 'switchover':
      return towardsSwitchover(facts);
  }
}

function towardsServe(peerGone: boolean, { local, peer }: PgFacts): PgStep {
  switch (local.kind) {
    case 'unknown':
      return { kind: 'blocked', reason: `the local PostgreSQL cannot be asked: ${local.reason}` };
    case 'stopped':
      // Started as it was, an old primary would be a second primary beside the peer's.
      if (!local.standbyConfigured && peer.kind === 'primary' && peer.systemId === local.systemId)
        return {
          kind: 'blocked',
          reason: `the peer's PostgreSQL is primary (${describe(peer)}): this node must first stand by for it`,
        };
      return { kind: 'start', reason: 'the local PostgreSQL is stopped' };
    case 'primary':
      if (peer.kind === 'primary' && peer.systemId === local.systemId)
        return twoPrimaries(local, peer, 'both servers are primaries');
      return { kind: 'done', summary: `the local PostgreSQL is primary (${describe(local)})` };
    case 'standby':
      break;
  }
  // A standby that must become the primary.
  if (peer.kind === 'primary') {
    if (peer.systemId !== local.systemId)
      return {
        kind: 'blocked',
        reason: 'the peer runs another PostgreSQL cluster (system identifiers differ)',
      };
    // Stop it cleanly first: its WAL senders send every record, and it cannot take writes after.
    return {
      kind: 'stop-peer',
      reason: 'the peer is still primary; a clean stop sends its last WAL here first',
    };
  }
  if (peer.kind === 'unknown' && !peerGone)
    return {
      kind: 'blocked',
      reason: `the peer's PostgreSQL cannot be asked (${peer.reason}) and the peer is not known to be gone`,
    };
  let behind: bigint | null = null;
  if (peer.kind === 'stopped' && peer.systemId === local.systemId && peer.timeline === local.timeline) {
    // After a clean stop the standby holds the shutdown checkpoint record: replayed past it.
    const have = endLsn(local)!;
    behind = have > peer.checkpointLsn ? 0n : peer.checkpointLsn - have;
  }
  return {
    kind: 'promote',
    reason: peer.kind === 'unknown' ? 'the peer is gone' : `the peer's PostgreSQL is ${describe(peer)}`,
    behindBytes: behind,
  };
}

function twoPrimaries(local: PgObservation, peer: PgObservation, why: string): PgStep {
  return {
    kind: 'split',
    reason: `${why}: this node's PostgreSQL is ${describe(local)}, the peer's is ${describe(peer)}; both are kept`,
    resolve: SPLIT_RESOLVE,
  };
}

function towardsStandBy(facts: PgFacts): PgStep {
  const { local, peer } = facts;
  if (peer.kind !== 'primary') {
    if (local.kind === 'standby')
      return {
        kind: 'wait',
        reason: `a standby waiting for its primary (the peer's is ${describe(peer)})`,
        lagBytes: null,
      };
    return { kind: 'blocked', reason: `the peer's PostgreSQL is ${describe(peer)}, not a primary to follow` };
  }
  if (local.kind === 'unknown')
    return { kind: 'blocked', reason: `the local PostgreSQL cannot be asked: ${local.reason}` };
  // A clone replaces the data directory: the server is stopped first (cleanly, so that the copy
  // kept aside is whole).
  const cloneWhy =
    local.systemId !== peer.systemId
      ? 'the local data directory belongs to another cluster (system identifiers differ)'
      : facts.rewindFailed
        ? 'pg_rewind could not rewind the local data directory'
        : null;
  if (cloneWhy !== null)
    return local.kind === 'stopped'
      ? { kind: 'clone', reason: cloneWhy }
      : { kind: 'stop', reason: `${cloneWhy}: stopped before a new clone` };
  if (local.kind === 'stopped' && !local.cleanShutdown)
    return {
      kind: 'start',
      reason: 'the local PostgreSQL stopped uncleanly; started so that it recovers first',
    };

  const end = endLsn(local)!;
  // Where the local timeline stops being part of the peer's history; null: it is not part of it.
  let forkLsn: Lsn | null;
  if (local.timeline === peer.timeline) forkLsn = peer.currentLsn;
  else if (local.timeline > peer.timeline) forkLsn = null;
  else forkLsn = peer.history.find((s) => s.timeline === local.timeline)?.switchLsn ?? null;

  if (local.kind === 'primary' && local.timeline === peer.timeline)
    return twoPrimaries(local, peer, 'both servers were promoted to the same timeline');
  if (forkLsn === null)
    return twoPrimaries(
      local,
      peer,
      `the peer's timeline ${peer.timeline} does not descend from this node's timeline ${local.timeline}`,
    );

  // A stopped server's end is the start of its last checkpoint record, which must lie before the
  // fork to be replayed on the new timeline; a running one's is the end of what it wrote.
  if (local.kind === 'stopped' ? end < forkLsn : end <= forkLsn) {
    // Nothing here that the peer lacks.
    if (local.kind === 'standby') {
      if (local.timeline === peer.timeline && local.streaming) {
        const lag = lagBytes(peer, local)!;
        if (lag === 0n)
          return { kind: 'done', summary: `a streaming standby, caught up (${describe(local)})` };
        return { kind: 'wait', reason: 'catching up', lagBytes: lag };
      }
      return { kind: 'wait', reason: 'connecting to the primary, following its timeline', lagBytes: null };
    }
    if (local.kind === 'primary')
      return { kind: 'stop', reason: 'an old primary that the peer has all of: stopped to follow it' };
    return local.standbyConfigured
      ? { kind: 'start', reason: 'a standby that is stopped' }
      : { kind: 'follow', reason: 'an old primary that the peer has all of' };
  }
  // The local WAL goes past the fork: a rewind drops what lies there, so only if no commit does.
  // Counted on a stopped server, so that no commit can follow the count.
  if (local.kind !== 'stopped')
    return {
      kind: 'stop',
      reason: `WAL past the fork at ${formatLsn(forkLsn)}: stopped cleanly to inspect it`,
    };
  const d = facts.divergence;
  if (d === undefined || d.timeline !== local.timeline || d.fromLsn !== forkLsn)
    return { kind: 'count-commits', timeline: local.timeline, fromLsn: forkLsn };
  if (d.commits > 0)
    return twoPrimaries(
      local,
      peer,
      `this node committed ${d.commits} transaction(s) past ${formatLsn(forkLsn)}, where the peer's timeline ${peer.timeline} began`,
    );
  return {
    kind: 'rewind',
    reason: `no transaction committed past ${formatLsn(forkLsn)}: the records there are rewound`,
    forkLsn,
  };
}

function towardsSwitchover(facts: PgFacts): PgStep {
  const { local, peer } = facts;
  if (local.kind === 'primary') {
    if (peer.kind === 'primary' && peer.systemId === local.systemId)
      return twoPrimaries(local, peer, 'both servers are primaries');
    return { kind: 'done', summary: `the local PostgreSQL is primary (${describe(local)})` };
  }
  if (local.kind !== 'standby')
    return {
      kind: 'blocked',
      reason: `the local PostgreSQL is ${describe(local)}: it must first stand by (catch up)`,
    };
  if (peer.kind === 'primary') {
    if (peer.systemId !== local.systemId || peer.timeline !== local.timeline || !local.streaming)
      return {
        kind: 'blocked',
        reason: `the local standby does not stream from the peer (${describe(local)}; peer ${describe(peer)})`,
      };
    const lag = lagBytes(peer, local)!;
    if (lag > 0n) return { kind: 'wait', reason: 'catching up before the switchover', lagBytes: lag };
    return { kind: 'stop-peer', reason: 'caught up: the peer stops cleanly and sends its last records' };
  }
  if (peer.kind === 'stopped') {
    if (peer.systemId !== local.systemId || peer.timeline !== local.timeline)
      return {
        kind: 'blocked',
        reason: `the peer's PostgreSQL is ${describe(peer)}, another timeline than this standby's`,
      };
    if (!peer.cleanShutdown)
      return {
        kind: 'start-peer',
        reason: "the peer's PostgreSQL did not stop cleanly: its last records may not be here",
      };
    const have = endLsn(local)!;
    if (have > peer.checkpointLsn)
      return {
        kind: 'promote',
        reason: "holds the peer's shutdown checkpoint: nothing committed is missing",
        behindBytes: 0n,
      };
    return {
      kind: 'start-peer',
      reason: `the standby stopped at ${formatLsn(have)}, before the peer's shutdown checkpoint ${formatLsn(peer.checkpointLsn)}`,
    };
  }
  return { kind: 'blocked', reason: `the peer's PostgreSQL is ${describe(peer)}: the switchover needs it` };
}
