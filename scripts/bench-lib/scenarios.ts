/**
 * The measured events. Every outage run starts a fresh pair (pbx-ha or keepalived), lets it
 * settle, starts the phone's pinger (every 10 ms), waits a random part of one interval (so
 * the event falls at any phase of the probes or adverts), makes the event, waits for the new
 * holder and for the phone's replies, and stops everything again: no run inherits anything
 * from the one before.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Lab } from '../../lab/lab';
import { ASTDB, type PbxNode, VOIP_VIP, WRITER } from '../../lab/layout';
import { agentStatus, holdsAll, soleHolder, startHolderSampler } from '../../lab/pair';
import { outageAround, startLivePinger } from '../../lab/pinger';
import { pollUntil, sleep } from '../../lab/run';
import { type PairDriver, cleanNodes, logSize, readFrom } from './drivers';
import { cpuTicks, measureTree, ticksToSeconds } from './procstat';
import { median } from './stats';
import { spoolRun } from './spool';
import { dbRun } from './db-loss';
import { failbackDataRun } from './failback-data';
import type {
  AgentName,
  AstdbRun,
  DbMode,
  DbRun,
  FailbackDataRun,
  FailbackKind,
  IdleResult,
  OutageRun,
  OutageScenario,
  SoakResult,
  SpoolRun,
  Timing,
} from './types';
import { AGENTS, TIMINGS, detectionMs } from './types';

export type ConfigVariant =
  'outage' | 'astdb' | 'spool' | 'soak' | 'db-dump' | 'db-streaming' | 'failback-data';

export interface BenchContext {
  lab: Lab;
  drivers: Record<AgentName, PairDriver>;
  /** pbx-ha.conf for a timing and a phase. */
  pbxHaConfig(timing: Timing, variant: ConfigVariant): string;
  pingIntervalMs: number;
  /** Restarts what a "dead host" killed (sshd) so that the trusted link works again. */
  restoreServices(): Promise<void>;
  say(line: string): void;
}

interface Measured {
  outageMs: number;
  eventAt: number;
  replies: number;
  sent: number;
  /** Median spacing of the phone's replies: the pinger's real period. */
  pingPeriodMs: number | null;
}

/** Quiet time before an event, plus a random part of one interval (phase). */
function leadInMs(t: Timing): number {
  return 1000 + Math.random() * t.intervalMs;
}

/** How long to keep watching after the VIP answers again (a second interruption would count). */
function tailMs(t: Timing): number {
  return t.intervalMs >= 1000 ? 1000 : 500;
}

/** Generous limit for the new holder to appear (a failure, not a slow run, if exceeded). */
function limitMs(t: Timing): number {
  return 30_000 + 10 * detectionMs(t);
}

async function measureEvent(
  ctx: BenchContext,
  timing: Timing,
  what: { event: () => Promise<void>; done: () => Promise<boolean>; desc: string },
): Promise<Measured> {
  const pinger = await startLivePinger(ctx.lab, VOIP_VIP, ctx.pingIntervalMs);
  let stopped = false;
  try {
    await sleep(leadInMs(timing));
    const eventAt = Date.now();
    await what.event();
    await pollUntil(what.desc, what.done, limitMs(timing), 200);
    await pinger.waitReplyAfter(Date.now(), 10_000);
    await sleep(tailMs(timing));
    const res = await pinger.stop();
    stopped = true;
    const gaps = res.replyTimes.slice(1).map((t, i) => t - res.replyTimes[i]);
    const period = median(gaps);
    return {
      outageMs: outageAround(res, eventAt),
      eventAt,
      replies: res.replies,
      sent: res.sent,
      pingPeriodMs: period === null ? null : Math.round(period * 10) / 10,
    };
  } finally {
    if (!stopped) await pinger.stop().catch(() => undefined);
  }
}

/**
 * Takeover latency (pbx-ha): from the slave's decision line "pbx2: standby -> active (...)"
 * (ISO time in its log) to the first gratuitous ARP for the VOIP VIP from pbx2's MAC that the
 * phone's tcpdump -tt saw. The capture also runs for keepalived, so both runs carry the same load.
 */
async function startLatencyProbe(
  ctx: BenchContext,
  driver: PairDriver,
): Promise<{ finish(): Promise<number | null> }> {
  const mac = (await ctx.lab.nodeMac('pbx2', 'eth0')).toLowerCase();
  const logFile = driver.logPath('pbx2');
  const offset = logSize(logFile);
  const capture = await ctx.lab.startTimedCapture('phone', 'arp', 'eth0');
  return {
    async finish() {
      const text = await capture.stop();
      if (driver.agent !== 'pbx-ha') return null;
      return takeoverLatency(readFrom(logFile, offset), text, mac);
    },
  };
}

export function takeoverLatency(log: string, capture: string, mac: string): number | null {
  const decision = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+\w+\s+pbx2: \S+ -> active \(/m.exec(log);
  if (!decision) return null;
  const decidedAt = Date.parse(decision[1]);
  const vip = VOIP_VIP.replace(/\./g, '\\.');
  const garp = new RegExp(
    `^(\\d+\\.\\d+) ([0-9a-f:]{17}) > ff:ff:ff:ff:ff:ff, .*Request who-has ${vip} (\\([0-9a-f:]{17}\\) )?tell ${vip},`,
  );
  for (const line of capture.split('\n')) {
    const m = garp.exec(line);
    if (!m || m[2].toLowerCase() !== mac) continue;
    const at = Number(m[1]) * 1000;
    if (at >= decidedAt - 1000) return Math.round((at - decidedAt) * 1000) / 1000;
  }
  return null;
}

function outageRun(
  scenario: OutageScenario,
  timing: Timing,
  agent: AgentName,
  round: number,
  m: Measured | null,
  extra: Partial<OutageRun> = {},
): OutageRun {
  return {
    scenario,
    timing: timing.name,
    agent,
    round,
    at: new Date(m?.eventAt ?? Date.now()).toISOString(),
    outageMs: m?.outageMs ?? null,
    ...(m ? { replies: m.replies, sent: m.sent, pingPeriodMs: m.pingPeriodMs } : {}),
    ...extra,
  };
}

function message(e: unknown): string {
  return (e as Error).message?.split('\n').slice(0, 3).join(' | ') ?? String(e);
}

async function startPair(
  ctx: BenchContext,
  driver: PairDriver,
  timing: Timing,
  variant: ConfigVariant,
): Promise<void> {
  await driver.start(timing, driver.agent === 'pbx-ha' ? ctx.pbxHaConfig(timing, variant) : undefined);
  // Both settle as long: a few intervals for the slave's detector to have a baseline.
  await sleep(Math.max(1000, 3 * timing.intervalMs));
}

async function finishRun(ctx: BenchContext, driver: PairDriver): Promise<void> {
  await driver.stop().catch(() => undefined);
  await cleanNodes(ctx.lab);
  await ctx.restoreServices();
}

/** Scenario 1 (cut link) and, after it, scenario 4 (failback when the cable is back). */
export async function cutAndFailback(
  ctx: BenchContext,
  agent: AgentName,
  timing: Timing,
  round: number,
): Promise<OutageRun[]> {
  const { lab } = ctx;
  const driver = ctx.drivers[agent];
  const runs: OutageRun[] = [];
  try {
    await startPair(ctx, driver, timing, 'outage');
    const probe = await startLatencyProbe(ctx, driver);
    let latency: number | null = null;
    let cut: Measured;
    try {
      cut = await measureEvent(ctx, timing, {
        event: () => lab.cut('pbx1'),
        done: () => soleHolder(lab, 'pbx2'),
        desc: 'pbx2 alone holding the VIPs after the cut',
      });
    } finally {
      latency = await probe.finish().catch(() => null);
    }
    runs.push(
      outageRun(
        'cut-link',
        timing,
        agent,
        round,
        cut,
        agent === 'pbx-ha' ? { takeoverLatencyMs: latency } : {},
      ),
    );
    // The one-holder rule at the failback: sampled for both agents alike (same load on both).
    const sampler = startHolderSampler(lab);
    let back: Measured;
    let twoHoldersMs: number | null = null;
    try {
      back = await measureEvent(ctx, timing, {
        event: () => lab.restore('pbx1'),
        done: () => soleHolder(lab, 'pbx1'),
        desc: 'pbx1 alone holding the VIPs after the cable is back',
      });
    } finally {
      twoHoldersMs = (await sampler.stop().catch(() => null))?.longestDoubleMs ?? null;
    }
    runs.push(outageRun('failback', timing, agent, round, back, { twoHoldersMs }));
  } catch (e) {
    for (const s of ['cut-link', 'failback'] as const) {
      if (!runs.some((r) => r.scenario === s))
        runs.push(outageRun(s, timing, agent, round, null, { error: message(e) }));
    }
  } finally {
    await finishRun(ctx, driver);
  }
  return runs;
}

/** Scenario 2: every process of the master's namespace killed (SIGKILL) and its cables pulled. */
export async function deadHost(
  ctx: BenchContext,
  agent: AgentName,
  timing: Timing,
  round: number,
): Promise<OutageRun> {
  const { lab } = ctx;
  const driver = ctx.drivers[agent];
  try {
    await startPair(ctx, driver, timing, 'outage');
    const probe = await startLatencyProbe(ctx, driver);
    const pids = await lab.pids('pbx1');
    let latency: number | null = null;
    let m: Measured;
    try {
      m = await measureEvent(ctx, timing, {
        event: async () => {
          // Frozen first, then killed: like a power cut, nobody gets to send a last word (a
          // keepalived child whose parent dies first would otherwise send priority 0).
          for (const signal of ['SIGSTOP', 'SIGKILL'] as const) {
            for (const pid of pids) {
              try {
                process.kill(pid, signal);
              } catch {
                // already gone
              }
            }
          }
          await lab.cut('pbx1');
        },
        // The dead master keeps its addresses (nobody removed them): only pbx2's matter.
        done: () => holdsAll(lab, 'pbx2'),
        desc: 'pbx2 holding the VIPs after the master died',
      });
    } finally {
      latency = await probe.finish().catch(() => null);
    }
    return outageRun(
      'dead-host',
      timing,
      agent,
      round,
      m,
      agent === 'pbx-ha' ? { takeoverLatencyMs: latency } : {},
    );
  } catch (e) {
    return outageRun('dead-host', timing, agent, round, null, { error: message(e) });
  } finally {
    await finishRun(ctx, driver);
  }
}

/** Scenario 3: planned handover (pbx-ha failover; keepalived: the master's daemon stopped). */
export async function planned(
  ctx: BenchContext,
  agent: AgentName,
  timing: Timing,
  round: number,
): Promise<OutageRun> {
  const { lab } = ctx;
  const driver = ctx.drivers[agent];
  const why = driver.plannedUnavailable();
  if (why) return outageRun('planned', timing, agent, round, null, { unavailable: why });
  try {
    await startPair(ctx, driver, timing, 'outage');
    const m = await measureEvent(ctx, timing, {
      event: () => driver.plannedHandover(),
      done: () => soleHolder(lab, 'pbx2'),
      desc: 'pbx2 alone holding the VIPs after the planned handover',
    });
    return outageRun('planned', timing, agent, round, m);
  } catch (e) {
    return outageRun('planned', timing, agent, round, null, { error: message(e) });
  } finally {
    await finishRun(ctx, driver);
  }
}

/** The writer's last key in a node's astdb (0 if there is no file or no key yet). */
export function lastKey(lab: Lab, node: PbxNode): number {
  const file = lab.hostPath(node, ASTDB);
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    const row = db.prepare('SELECT value FROM astdb WHERE key = ?').get('/pbx-ha-test/last') as
      { value: string } | undefined;
    return row ? Number(row.value) : 0;
  } finally {
    db.close();
  }
}

/**
 * astdb loss window: a writer adds a key every 10 ms on the master (as Asterisk would); the
 * master's cables are pulled at a random moment; once the slave serves, the keys it lacks,
 * times the writer's measured period, are the seconds of astdb changes lost. Then the
 * failback, with replication on (the master checks the slave's astdb first).
 */
export async function astdbRun(ctx: BenchContext, round: number): Promise<AstdbRun> {
  const { lab } = ctx;
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  const driver = ctx.drivers['pbx-ha'];
  const at = new Date().toISOString();
  let writer: ReturnType<Lab['spawnIn']> | null = null;
  try {
    await startPair(ctx, driver, timing, 'astdb');
    writer = lab.spawnIn('pbx1', [process.execPath, WRITER, '--every', '10ms']);
    await sleep(3000);
    const k0 = lastKey(lab, 'pbx1');
    const t0 = Date.now();
    await sleep(8000 + Math.random() * 4000);
    await lab.cut('pbx1');
    const t1 = Date.now();
    const masterKey = lastKey(lab, 'pbx1');
    await pollUntil('pbx2 holding the VIPs after the cut', () => holdsAll(lab, 'pbx2'), limitMs(timing), 100);
    const slaveKey = lastKey(lab, 'pbx2');
    writer.kill('SIGTERM');
    if (masterKey <= k0) throw new Error(`the writer made no progress on pbx1 (key ${k0} -> ${masterKey})`);
    const periodMs = (t1 - t0) / (masterKey - k0);
    const lossS = slaveKey > 0 ? Math.round(((masterKey - slaveKey) * periodMs) / 10) / 100 : null;
    if (lossS === null) throw new Error('no astdb copy had reached the slave');
    const back = await measureEvent(ctx, timing, {
      event: () => lab.restore('pbx1'),
      done: () => soleHolder(lab, 'pbx1'),
      desc: 'pbx1 alone holding the VIPs after the cable is back',
    });
    return {
      round,
      at,
      lossS,
      masterKey,
      slaveKey,
      periodMs: Math.round(periodMs * 100) / 100,
      failbackOutageMs: back.outageMs,
    };
  } catch (e) {
    return { round, at, lossS: null, error: message(e) };
  } finally {
    writer?.kill('SIGTERM');
    await finishRun(ctx, driver);
  }
}

/** The spool-file loss window (bench-lib/spool.ts), with pbx-ha at timing 1s. */
export function spoolLossRun(ctx: BenchContext, round: number): Promise<SpoolRun> {
  const driver = ctx.drivers['pbx-ha'];
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  return spoolRun(
    ctx,
    round,
    (c) => startPair(c, driver, timing, 'spool'),
    (c) => finishRun(c, driver),
  );
}

/** The database loss window in one `[sync.db] mode` (bench-lib/db-loss.ts), with pbx-ha at timing 1s. */
export function dbLossRun(ctx: BenchContext, mode: DbMode, round: number): Promise<DbRun> {
  const driver = ctx.drivers['pbx-ha'];
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  const variant = mode === 'dump' ? 'db-dump' : 'db-streaming';
  return dbRun(
    ctx,
    mode,
    round,
    ctx.pbxHaConfig(timing, variant),
    (c) => startPair(c, driver, timing, variant),
    (c) => finishRun(c, driver),
  );
}

/** A failback with one kind of data to bring back (bench-lib/failback-data.ts), pbx-ha at timing 1s. */
export function failbackKindRun(
  ctx: BenchContext,
  kind: FailbackKind,
  round: number,
): Promise<FailbackDataRun> {
  const driver = ctx.drivers['pbx-ha'];
  const timing = TIMINGS.find((t) => t.name === '1s')!;
  return failbackDataRun(
    ctx,
    kind,
    round,
    (c) => startPair(c, driver, timing, 'failback-data'),
    (c) => finishRun(c, driver),
  );
}

/** Resident memory and CPU of both agents, idle (steady state, nothing happening), at a timing. */
export async function idleUse(ctx: BenchContext, timing: Timing, seconds: number): Promise<IdleResult> {
  const result: IdleResult = { timing: timing.name, use: {} };
  for (const agent of AGENTS) {
    const driver = ctx.drivers[agent];
    try {
      ctx.say(`  idle: ${agent} at ${timing.name}, ${seconds} s`);
      await startPair(ctx, driver, timing, 'outage');
      await sleep(5000);
      const pids = await Promise.all([driver.daemonPid('pbx1'), driver.daemonPid('pbx2')]);
      if (!pids[0] || !pids[1]) throw new Error(`${agent}: no daemon pid`);
      const [m1, m2] = await Promise.all([measureTree(pids[0], seconds), measureTree(pids[1], seconds)]);
      result.use[agent] = { pbx1: m1, pbx2: m2 };
    } catch (e) {
      result.error = `${result.error ? `${result.error}; ` : ''}${agent}: ${message(e)}`;
    } finally {
      await finishRun(ctx, driver);
    }
  }
  return result;
}

/**
 * False failovers: the master busy for `minutes` (a CPU hog per core in its namespace, the
 * astdb written every 10 ms, files, database and astdb copies running), probes every 100 ms.
 * Counts the slave's takeovers (there should be none) and every transition either node logged.
 */
export async function soak(
  ctx: BenchContext,
  minutes: number,
  prepare: () => Promise<void>,
): Promise<SoakResult> {
  const { lab } = ctx;
  const timing = TIMINGS.find((t) => t.name === '100ms')!;
  const driver = ctx.drivers['pbx-ha'];
  const result: SoakResult = {
    minutes,
    timing: timing.name,
    takeovers: 0,
    masterFaults: 0,
    transitions: [],
    copies: {},
    longestGapMs: null,
    loadavg: '',
    hogCpuPercent: [],
  };
  const children: ReturnType<Lab['spawnIn']>[] = [];
  try {
    await prepare();
    await startPair(ctx, driver, timing, 'soak');
    const offsets = { pbx1: logSize(driver.logPath('pbx1')), pbx2: logSize(driver.logPath('pbx2')) };
    children.push(lab.spawnIn('pbx1', [process.execPath, WRITER, '--every', '10ms']));
    const hogs = [0, 1].map(() => lab.spawnIn('pbx1', ['sh', '-c', 'while :; do :; done']));
    children.push(...hogs);
    const pinger = await startLivePinger(lab, VOIP_VIP, 100);
    const started = performance.now();
    const hogTicks0 = hogs.map((h) => cpuTicks(h.pid!));
    try {
      for (let minute = 1; minute <= minutes; minute++) {
        await sleep(Math.max(0, started + minute * 60_000 - performance.now()));
        const takeovers = countTakeovers(readFrom(driver.logPath('pbx2'), offsets.pbx2));
        const copies =
          readFrom(driver.logPath('pbx1'), offsets.pbx1).match(/ copy \([^)]*\) done /g)?.length ?? 0;
        ctx.say(`  soak: ${minute}/${minutes} min, ${takeovers} takeover(s), ${copies} copies done`);
      }
    } finally {
      const elapsedS = (performance.now() - started) / 1000;
      result.hogCpuPercent = hogs.map(
        (h, i) => Math.round((ticksToSeconds(cpuTicks(h.pid!) - hogTicks0[i]) / elapsedS) * 1000) / 10,
      );
      const ping = await pinger.stop();
      result.longestGapMs = Math.round(Math.max(ping.longestGapMs, ping.trailingGapMs));
    }
    result.loadavg = readFrom('/proc/loadavg', 0).trim();
    const log1 = readFrom(driver.logPath('pbx1'), offsets.pbx1);
    const log2 = readFrom(driver.logPath('pbx2'), offsets.pbx2);
    result.takeovers = countTakeovers(log2);
    result.masterFaults = log1.match(/\spbx1: \S+ -> fault \(/g)?.length ?? 0;
    result.transitions = [...log1.split('\n'), ...log2.split('\n')].filter((l) =>
      /\spbx[12]: \S+ -> \S+ \(/.test(l),
    );
    for (const m of log1.matchAll(/ (\w+) copy \([^)]*\) (done|failed) /g)) {
      const c = (result.copies[m[1]] ??= { done: 0, failed: 0 });
      if (m[2] === 'done') c.done++;
      else c.failed++;
    }
    if ((await agentStatus(lab, 'pbx1')).state !== 'active')
      result.error = 'pbx1 is not active at the end of the soak';
  } catch (e) {
    result.error = message(e);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await finishRun(ctx, driver);
  }
  return result;
}

function countTakeovers(slaveLog: string): number {
  return slaveLog.match(/\spbx2: \S+ -> active \(/g)?.length ?? 0;
}
