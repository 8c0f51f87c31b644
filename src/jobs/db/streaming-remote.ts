// The peer's PostgreSQL as seen through the replication protocol, with the replication role and its
// passfile: the same access a standby has, no SSH and no SQL. IDENTIFY_SYSTEM gives the system
// identifier, the timeline and the WAL position (a standby's: where it replayed, on the timeline it
// replays); TIMELINE_HISTORY the primary's history; SHOW in_hot_standby whether it is a standby.
// A server that does not answer is `unknown` — a stopped one cannot be told apart from a dead
// link this way.

import * as path from 'node:path';
import { runCommand } from '../../adapters/exec';
import { parseLsn, parseTimelineHistory, type PgObservation } from '../../domain/pg-streaming';
import {
  checkLayout,
  checkSource,
  toolEnvironment,
  type PgClusterLayout,
  type ReplicationSource,
} from './streaming-commands';
import { PgStateError } from './streaming-state';

/** psql on a replication connection to the peer, running one replication command. */
export function replicationCommand(
  c: PgClusterLayout,
  s: ReplicationSource,
  command: 'IDENTIFY_SYSTEM' | 'SHOW in_hot_standby' | { timelineHistory: number },
): string[] {
  checkLayout(c);
  checkSource(s);
  let text: string;
  if (typeof command === 'string') text = command;
  else {
    const t = command.timelineHistory;
    if (!Number.isInteger(t) || t < 2 || t > 0xffffffff) throw new PgStateError(`timeline ${t}`);
    text = `TIMELINE_HISTORY ${t}`;
  }
  const conninfo = `host=${s.host} port=${s.port} user=${s.role} passfile=${s.passfile} replication=true application_name=pbx_ha_probe connect_timeout=10`;
  return [
    'runuser',
    '-u',
    c.osUser,
    '--',
    path.join(c.binDir, 'psql'),
    '-X',
    '--no-password',
    '-A',
    '-t',
    '-d',
    conninfo,
    '-c',
    text,
  ];
}

/** IDENTIFY_SYSTEM's row, `systemid|timeline|xlogpos|dbname`. */
export function parseIdentifySystem(stdout: string): { systemId: string; timeline: number; lsn: bigint } {
  const m = /^(\d{1,20})\|(\d{1,10})\|([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})\|[^\n]*$/.exec(stdout.trim());
  if (m === null) throw new PgStateError('IDENTIFY_SYSTEM answer not recognised');
  const timeline = Number(m[2]);
  if (timeline < 1) throw new PgStateError('IDENTIFY_SYSTEM timeline 0');
  return { systemId: m[1], timeline, lsn: parseLsn(m[3])! };
}

/** TIMELINE_HISTORY's row, `filename|content`: the content, checked and parsed. */
export function parseTimelineHistoryAnswer(stdout: string, timeline: number) {
  if (stdout.length > 256 * 1024) throw new PgStateError('TIMELINE_HISTORY answer longer than expected');
  const name = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history|`;
  if (!stdout.startsWith(name)) throw new PgStateError(`TIMELINE_HISTORY answer is not ${name.slice(0, -1)}`);
  const history = parseTimelineHistory(stdout.slice(name.length));
  if (history === null) throw new PgStateError(`history of timeline ${timeline} malformed`);
  return history;
}

export class RemotePgObserver {
  constructor(
    private readonly layout: PgClusterLayout,
    private readonly source: ReplicationSource,
    private readonly timeoutMs: number,
    /** Ends the question early (the peer then counts as not answering). */
    private readonly signal?: AbortSignal,
  ) {}

  private async ask(command: Parameters<typeof replicationCommand>[2]): Promise<string> {
    const r = await runCommand(replicationCommand(this.layout, this.source, command), {
      timeoutMs: this.timeoutMs,
      env: toolEnvironment(),
      signal: this.signal,
    });
    return r.stdout;
  }

  async observe(): Promise<PgObservation> {
    try {
      const standby = (await this.ask('SHOW in_hot_standby')).trim();
      if (standby !== 'on' && standby !== 'off') throw new PgStateError('in_hot_standby neither on nor off');
      const id = parseIdentifySystem(await this.ask('IDENTIFY_SYSTEM'));
      if (standby === 'on')
        // Seen from outside: where it replayed; whether it streams is its own business.
        return {
          kind: 'standby',
          systemId: id.systemId,
          timeline: id.timeline,
          receiveLsn: null,
          replayLsn: id.lsn,
          streaming: false,
        };
      const history =
        id.timeline === 1
          ? []
          : parseTimelineHistoryAnswer(await this.ask({ timelineHistory: id.timeline }), id.timeline);
      return {
        kind: 'primary',
        systemId: id.systemId,
        timeline: id.timeline,
        history,
        currentLsn: id.lsn,
        standbys: [],
      };
    } catch (e) {
      return { kind: 'unknown', reason: (e as Error).message };
    }
  }
}
