/**
 * The benchmark: pbx-ha beside keepalived in the network lab (scripts/lab), as root.
 *
 *   scripts/bench [--runs N] [--soak-minutes M] [--idle-seconds S] [--only PART,...] [--timings 1s,100ms]
 *                 [--db-mode dump,streaming]
 *   scripts/bench --report bench/results/DATE.json      (redraws the report and chart; no lab)
 *
 * Outage per scenario (master's link cut, master's host dead, planned handover, failback) at two
 * timings (1 s and 100 ms, fall 3), runs interleaved pbx-ha, keepalived, pbx-ha, ... so that
 * machine noise hits both alike; then, for pbx-ha alone, the takeover latency (from the cut and
 * dead-host runs), the astdb, spool-file and database (each `[sync.db] mode`) loss windows, the
 * failback's time with each kind of data to bring back, false failovers under load (soak), and beside
 * keepalived the idle CPU and memory at 100 ms. Writes bench/results/<date>.json and a
 * Markdown report with an SVG chart (bench/REPORT.md and bench/outage.svg for a full run).
 * Everything runs in the lab's namespaces (prefix pbxbench, directory /tmp/pbx-ha-bench),
 * which are removed at the end, also after a failure or an interrupt.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, labAvailability } from '../lab/lab';
import { PBX_HA, PBX_NODES, REPO_ROOT, WRITER } from '../lab/layout';
import { setUpTrustedLink } from '../lab/pair';
import { STREAMING_DB_SETTINGS } from '../lab/pg-cluster';
import { renderChart } from './bench-lib/chart';
import { SPOOL_DIR } from './bench-lib/spool';
import { DUMP_SCHEDULE } from './bench-lib/db-loss';
import { FAILBACK_SPOOL } from './bench-lib/failback-data';
import { KeepalivedDriver, PbxHaDriver, cleanNodes } from './bench-lib/drivers';
import { calibratePing } from './bench-lib/net';
import { withSettings } from './bench-lib/ini';
import { keepalivedConfig, keepalivedVersion } from './bench-lib/keepalived';
import { isFullRun, renderReport } from './bench-lib/report';
import {
  type BenchContext,
  type ConfigVariant,
  astdbRun,
  dbLossRun,
  failbackKindRun,
  spoolLossRun,
  cutAndFailback,
  deadHost,
  idleUse,
  planned,
  soak,
} from './bench-lib/scenarios';
import {
  AGENTS,
  type AgentName,
  type BenchResults,
  DB_MODES,
  type DbMode,
  FAILBACK_KINDS,
  OUTAGE_SCENARIOS,
  type OutageRun,
  type OutageScenario,
  PARTS,
  type Part,
  TIMINGS,
  type Timing,
  type TimingName,
} from './bench-lib/types';

const BENCH_DIR = path.join(REPO_ROOT, 'bench');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const PING_INTERVAL_MS = 10;
/** Never fires during a benchmark: copies that a phase does not measure stay out of the way. */
const NEVER = '0 0 1 1 *';
/** What the lab's file copies may touch: the nodes' private /var/lib/asterisk only. */
const FILE_PATHS = '/var/lib/asterisk/sounds';
/**
 * The PBX services of the outage runs: the fault suite's stand-in for Asterisk, which writes the
 * astdb (a key every 20 ms) while the services run and stops when they stop. A slave that serves
 * changes its astdb (registrations), so the failback brings its last changes back: measured
 * without that, the failback figure would be the easy case. The master's writer is switched off
 * (`no-writer`): its own writes would not change what a failback does, only load the machine.
 */
const PBX_SERVICE = path.join(REPO_ROOT, 'test', 'faults', 'fixtures', 'pbx-service');

const say = (line = '') => process.stdout.write(`${line}\n`);

interface Options {
  runs: number;
  soakMinutes: number;
  idleSeconds: number;
  only: Part[];
  timings: TimingName[];
  dbModes: DbMode[];
  report: string | null;
  keepLogs: boolean;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}
usage: scripts/bench [--runs N] [--soak-minutes M] [--idle-seconds S] [--only PART,...] [--timings 1s,100ms]
                    [--db-mode dump,streaming]
       scripts/bench --report bench/results/DATE.json
  --runs N            runs per scenario, timing and agent (default 10; the report needs 10 for its verdicts)
  --soak-minutes M    length of the false-failover soak (default 10)
  --idle-seconds S    window of the idle CPU and memory measurement (default 60)
  --only PART,...     ${PARTS.join(', ')} (default: all)
  --timings T,...     1s, 100ms (default: both)
  --db-mode M,...     [sync.db] modes of the db part: dump, streaming (default: both); a mode that
                      check-config refuses fails the part (and the benchmark), never skipped
  --report FILE       redraw the report and chart from a results file, run nothing
  --keep-logs         copy the agents' logs to bench/results/DATE.logs/ before the lab is removed
`);
  process.exit(64);
}

function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    usage(`${name}: expected a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: '10' },
        'soak-minutes': { type: 'string', default: '10' },
        'idle-seconds': { type: 'string', default: '60' },
        only: { type: 'string' },
        timings: { type: 'string' },
        'db-mode': { type: 'string' },
        report: { type: 'string' },
        'keep-logs': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help) usage('help');
  const list = <T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T[] => {
    if (text === undefined) return [];
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const i of items)
      if (!allowed.includes(i as T)) usage(`${name}: unknown "${i}" (expected ${allowed.join(', ')})`);
    return [...new Set(items)] as T[];
  };
  const timings = list(
    '--timings',
    values.timings,
    TIMINGS.map((t) => t.name),
  );
  return {
    runs: wholeNumber('--runs', values.runs!, 1, 1000),
    soakMinutes: wholeNumber('--soak-minutes', values['soak-minutes']!, 1, 24 * 60),
    idleSeconds: wholeNumber('--idle-seconds', values['idle-seconds']!, 5, 3600),
    only: list('--only', values.only, PARTS),
    timings: timings.length ? timings : TIMINGS.map((t) => t.name),
    dbModes: ((m) => (m.length ? m : [...DB_MODES]))(list('--db-mode', values['db-mode'], DB_MODES)),
    report: values.report ?? null,
    keepLogs: values['keep-logs'] ?? false,
  };
}

/** Writes the report and chart for a results file; returns the report's path. */
function writeReport(results: BenchResults, resultsFile: string): string {
  const stem = path.basename(resultsFile, '.json');
  const full = isFullRun(results) && results.finishedAt !== null;
  const reportFile = full
    ? path.join(BENCH_DIR, 'REPORT.md')
    : path.join(path.dirname(resultsFile), `${stem}.md`);
  const chartFile = full
    ? path.join(BENCH_DIR, 'outage.svg')
    : path.join(path.dirname(resultsFile), `${stem}.svg`);
  writeFileSync(chartFile, renderChart(results));
  const relResults = path.relative(path.dirname(reportFile), resultsFile);
  writeFileSync(
    reportFile,
    renderReport(results, {
      chart: path.basename(chartFile),
      resultsFile: relResults,
      performanceDoc: path.relative(path.dirname(reportFile), path.join(REPO_ROOT, 'docs', 'performance.md')),
    }),
  );
  return reportFile;
}

function newResultsFile(): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  for (let n = 1; ; n++) {
    const file = path.join(RESULTS_DIR, n === 1 ? `${date}.json` : `${date}-${n}.json`);
    if (!existsSync(file)) return file;
  }
}

/** The first three fields of /proc/loadavg (other work on the machine shows here). */
function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function gitDescribe(): string {
  try {
    return execFileSync('git', ['-C', REPO_ROOT, 'describe', '--always', '--dirty'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** pbx-ha.conf for a timing and a phase: the lab's configuration with [health] and the copies set. */
function pbxHaConfigFrom(base: string) {
  return (timing: Timing, variant: ConfigVariant): string => {
    const copies: Record<ConfigVariant, Record<string, Record<string, string>>> = {
      // The outage runs: the trusted link is set up (planned handover, the astdb check before a
      // failback), but no scheduled copy runs during a measured event.
      outage: {
        'sync.files': { schedule: NEVER, paths: FILE_PATHS },
        'sync.db': { schedule: NEVER },
        'sync.astdb': { schedule: NEVER, debounce: '0' },
        services: { start: `${PBX_SERVICE} start`, stop: `${PBX_SERVICE} stop` },
      },
      // astdb loss window: the astdb job as shipped (every 2 min, and 2 s after a change).
      astdb: { 'sync.files': { schedule: NEVER, paths: FILE_PATHS }, 'sync.db': { schedule: NEVER } },
      // Spool loss window: the voicemail directory copied on change, no scheduled copy.
      spool: {
        'sync.files': { schedule: NEVER, paths: `${FILE_PATHS}, ${SPOOL_DIR}`, spool: SPOOL_DIR },
        'sync.db': { schedule: NEVER },
        'sync.astdb': { schedule: NEVER, debounce: '0' },
      },
      // Soak: every copy busy — files every 10 s, the database every 30 s, the astdb as shipped.
      soak: {
        'sync.files': { schedule: '*/10 * * * * *', paths: FILE_PATHS },
        'sync.db': { schedule: '*/30 * * * * *' },
      },
      // Database loss window, dump mode: the schedule explicit (the report states it).
      'db-dump': {
        'sync.files': { schedule: NEVER, paths: FILE_PATHS },
        'sync.db': { mode: 'dump', schedule: DUMP_SCHEDULE },
        'sync.astdb': { schedule: NEVER, debounce: '0' },
      },
      // Database loss window, streaming mode, on the lab's pg_ctl clusters (lab/pg-cluster.ts).
      'db-streaming': {
        'sync.files': { schedule: NEVER, paths: FILE_PATHS },
        'sync.db': { mode: 'streaming', schedule: NEVER, ...STREAMING_DB_SETTINGS },
        'sync.astdb': { schedule: NEVER, debounce: '0' },
      },
      // Failback with data: spool copied on change, no scheduled copy; the astdb as shipped.
      'failback-data': {
        'sync.files': { schedule: NEVER, paths: `${FILE_PATHS}, ${FAILBACK_SPOOL}`, spool: FAILBACK_SPOOL },
        'sync.db': { schedule: NEVER },
      },
    };
    const text = withSettings(base, {
      health: { interval: timing.pbxHaInterval, fall: String(timing.fall), rise: String(timing.rise) },
      ...copies[variant],
    });
    return `; scripts/bench: timing ${timing.name}, phase ${variant}\n${text}`;
  };
}

/** For the soak: PostgreSQL with a table on both nodes, rows and sound files on the master. */
async function prepareSoakData(lab: Lab): Promise<void> {
  for (const node of PBX_NODES) {
    await lab.startPostgres(node);
    await lab.psql(
      node,
      'CREATE TABLE IF NOT EXISTS userfeatures (id serial PRIMARY KEY, firstname text NOT NULL, description text)',
    );
  }
  await lab.psql(
    'pbx1',
    "INSERT INTO userfeatures (firstname, description) SELECT 'user' || g, md5(g::text) FROM generate_series(1, 2000) g",
  );
  const sounds = lab.hostPath('pbx1', '/var/lib/asterisk/sounds/custom');
  mkdirSync(sounds, { recursive: true });
  for (let f = 0; f < 200; f++)
    writeFileSync(path.join(sounds, `prompt-${f}.wav`), Buffer.alloc(8192, f % 256));
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.report) {
    const results = JSON.parse(readFileSync(opts.report, 'utf8')) as BenchResults;
    say(
      `bench: report written to ${path.relative(process.cwd(), writeReport(results, path.resolve(opts.report)))}`,
    );
    return;
  }
  const available = labAvailability();
  if (!available.ok) usage(`the network lab cannot run here: ${available.reason}`);
  const wants = (p: Part) => opts.only.length === 0 || opts.only.includes(p);
  const timings = TIMINGS.filter((t) => opts.timings.includes(t.name));

  const resultsFile = newResultsFile();
  const startedMs = Date.now();
  const results: BenchResults = {
    version: 1,
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: null,
    durationS: null,
    command: `scripts/bench ${process.argv.slice(2).join(' ')}`.trim(),
    options: {
      runs: opts.runs,
      soakMinutes: opts.soakMinutes,
      idleSeconds: opts.idleSeconds,
      only: opts.only,
      timings: opts.timings,
      dbModes: opts.dbModes,
    },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      kernel: os.release(),
      node: process.version,
      keepalived: await keepalivedVersion(),
      commit: gitDescribe(),
      loadavgStart: loadavg(),
    },
    configs: {},
    pbxHaFailover: false,
    pingIntervalMs: PING_INTERVAL_MS,
    outages: [],
    astdb: [],
    spool: [],
    db: [],
    failbackData: [],
    idle: [],
    soak: null,
    errors: [],
  };
  const save = () => writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);

  const lab = new Lab({ prefix: 'pbxbench', dir: '/tmp/pbx-ha-bench' });
  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}: removing the lab\n`);
    results.errors.push(`interrupted by ${signal}`);
    save();
    void lab.down().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  say(`bench: results in ${path.relative(process.cwd(), resultsFile)}; lab ${lab.prefix} in ${lab.dir}`);
  try {
    await lab.up();
    const pbxHaConfig = pbxHaConfigFrom(await lab.readConfig('pbx1'));
    for (const t of TIMINGS) {
      results.configs[`pbx-ha.conf (${t.name})`] = pbxHaConfig(t, 'outage');
      results.configs[`keepalived.conf of pbx1 (${t.name})`] = keepalivedConfig('pbx1', t);
    }
    // Every generated pbx-ha.conf must be valid in the node it is for.
    for (const t of TIMINGS) {
      // db-streaming is checked by its own part, which fails loudly where the mode is refused.
      for (const variant of ['outage', 'astdb', 'spool', 'soak', 'db-dump', 'failback-data'] as const) {
        await lab.writeConfig('pbx1', pbxHaConfig(t, variant));
        const check = await lab.exec('pbx1', [PBX_HA, 'check-config'], { allowFail: true });
        if (check.code !== 0)
          throw new Error(
            `the ${variant} configuration (${t.name}) is invalid:\n${check.stdout}${check.stderr}`,
          );
      }
    }
    await lab.writeConfig('pbx1', pbxHaConfig(TIMINGS[0], 'outage'));
    await lab.writeConfig('pbx2', pbxHaConfig(TIMINGS[0], 'outage'));
    say('bench: trusted link (sshd in both nodes, pbx-ha pair)');
    await setUpTrustedLink(lab);
    // A PBX always has an astdb: the master's has 1000 keys (a planned handover copies it last).
    await lab.exec('pbx1', [process.execPath, WRITER, '--fill', '1000']);
    // Only the slave's services write the astdb (see PBX_SERVICE).
    mkdirSync(lab.hostPath('pbx1', '/run/fake-pbx'), { recursive: true });
    writeFileSync(lab.hostPath('pbx1', '/run/fake-pbx/no-writer'), '');

    const ping = await calibratePing(lab, PING_INTERVAL_MS);
    results.pingArgMs = ping.argMs;
    results.pingCalibratedMs = ping.periodMs;
    say(`bench: the phone pings with -i ${(ping.argMs / 1000).toFixed(4)} (one every ${ping.periodMs} ms)`);
    const pbxHa = new PbxHaDriver(lab);
    results.pbxHaFailover = pbxHa.failover;
    const ctx: BenchContext = {
      lab,
      drivers: { 'pbx-ha': pbxHa, keepalived: new KeepalivedDriver(lab) },
      pbxHaConfig,
      pingIntervalMs: ping.argMs,
      restoreServices: async () => {
        for (const node of PBX_NODES) await lab.startSshd(node);
      },
      say,
    };
    await cleanNodes(lab);

    // --- outages, interleaved --------------------------------------------------------------
    const cutGroup = wants('cut-link') || wants('failback') || wants('takeover');
    const deadGroup = wants('dead-host') || wants('takeover');
    // --only takeover (without an outage scenario): pbx-ha's cut-link and dead-host runs alone.
    const onlyTakeover =
      opts.only.includes('takeover') && !OUTAGE_SCENARIOS.some((p) => opts.only.includes(p));
    const agents: AgentName[] = onlyTakeover ? ['pbx-ha'] : [...AGENTS];
    const groups: {
      name: string;
      scenarios: OutageScenario[];
      run: (agent: AgentName, t: Timing, round: number) => Promise<OutageRun[]>;
    }[] = [];
    if (cutGroup)
      groups.push({
        name: 'cut-link + failback',
        scenarios: ['cut-link', 'failback'],
        run: (a, t, r) => cutAndFailback(ctx, a, t, r),
      });
    if (deadGroup)
      groups.push({
        name: 'dead-host',
        scenarios: ['dead-host'],
        run: async (a, t, r) => [await deadHost(ctx, a, t, r)],
      });
    if (wants('planned') && !onlyTakeover)
      groups.push({
        name: 'planned',
        scenarios: ['planned'],
        run: async (a, t, r) => [await planned(ctx, a, t, r)],
      });
    let failuresInARow = 0;
    const runGroup = async (group: (typeof groups)[number], timing: Timing, round: number, of: string) => {
      for (const agent of agents) {
        if (interrupted) return;
        const runs = await group.run(agent, timing, round);
        results.outages.push(...runs);
        save();
        for (const r of runs)
          say(
            `  round ${round}/${of} ${timing.name.padEnd(5)} ${r.scenario.padEnd(9)} ${agent.padEnd(10)} ${describeRun(r)}`,
          );
        failuresInARow = runs.some((r) => r.error) ? failuresInARow + 1 : 0;
        if (failuresInARow >= 6)
          throw new Error(`6 runs in a row failed; last: ${runs.find((r) => r.error)?.error}`);
      }
    };
    for (let round = 1; round <= opts.runs; round++) {
      for (const timing of timings)
        for (const group of groups) await runGroup(group, timing, round, String(opts.runs));
    }
    // Make-up rounds (at most 3) where failed runs left fewer than --runs figures.
    const validCount = (g: (typeof groups)[number], t: Timing) =>
      Math.min(
        ...agents.flatMap((a) =>
          g.scenarios.map((sc) => {
            const runs = results.outages.filter(
              (r) => r.scenario === sc && r.timing === t.name && r.agent === a,
            );
            return runs.some((r) => r.unavailable)
              ? Infinity
              : runs.filter((r) => !r.error && r.outageMs !== null).length;
          }),
        ),
      );
    for (let extra = 1; extra <= 3 && !interrupted; extra++) {
      const short = timings.flatMap((t) =>
        groups.filter((g) => validCount(g, t) < opts.runs).map((g) => ({ g, t })),
      );
      if (!short.length) break;
      for (const { g, t } of short) await runGroup(g, t, opts.runs + extra, `${opts.runs}+${extra}`);
    }
    if (interrupted) return;

    // --- pbx-ha alone, and idle use beside keepalived ------------------------------------------
    if (wants('astdb')) {
      say('bench: astdb loss window (writer every 10 ms on the master, cut, timing 1s)');
      for (let round = 1; round <= opts.runs && !interrupted; round++) {
        const r = await astdbRun(ctx, round);
        results.astdb.push(r);
        save();
        say(
          `  round ${round}/${opts.runs} astdb: ${r.error ? `FAILED: ${r.error}` : `${r.lossS} s lost (keys ${r.masterKey} vs ${r.slaveKey}), failback ${r.failbackOutageMs} ms`}`,
        );
      }
    }
    if (wants('spool')) {
      say('bench: spool-file loss window (a file every 100 ms on the master, cut, timing 1s)');
      for (let round = 1; round <= opts.runs && !interrupted; round++) {
        const r = await spoolLossRun(ctx, round);
        (results.spool ??= []).push(r);
        save();
        say(
          `  round ${round}/${opts.runs} spool: ${r.error ? `FAILED: ${r.error}` : `${r.lossS} s lost (file ${r.lastOnSlave} of ${r.lastWritten} on the slave)`}`,
        );
      }
    }
    if (wants('db')) {
      for (const mode of opts.dbModes) {
        say(`bench: database loss window, mode ${mode} (a row every 10 ms on the master, cut, timing 1s)`);
        for (let round = 1; round <= opts.runs && !interrupted; round++) {
          const r = await dbLossRun(ctx, mode, round);
          (results.db ??= []).push(r);
          save();
          say(
            `  round ${round}/${opts.runs} db ${mode}: ${r.error ? `FAILED: ${r.error}` : `${r.lossS} s lost (newest row on the slave ${r.lastOnSlave}, last before the cut ${r.lastOnMaster})`}`,
          );
          // A refused mode fails every round alike: said once, loudly, and the benchmark fails.
          if (r.error && /check-config refused/.test(r.error)) {
            results.errors.push(`db ${mode}: ${r.error}`);
            break;
          }
        }
      }
    }
    if (wants('failback-data')) {
      say('bench: failback with each kind of data to bring back (timing 1s)');
      for (let round = 1; round <= opts.runs && !interrupted; round++) {
        for (const kind of FAILBACK_KINDS) {
          if (interrupted) break;
          const r = await failbackKindRun(ctx, kind, round);
          (results.failbackData ??= []).push(r);
          save();
          say(
            `  round ${round}/${opts.runs} failback ${kind.padEnd(5)}: ${r.error ? `FAILED: ${r.error}` : `claim ${r.returnToClaimMs} ms after the cables came back, no holder ${r.noHolderMs} ms${r.broughtBack === null ? '' : r.broughtBack ? ', on the master' : ', NOT on the master'}`}`,
          );
        }
      }
    }
    if (wants('idle') && !interrupted) {
      say('bench: idle CPU and memory at 100 ms');
      const t = TIMINGS.find((x) => x.name === '100ms')!;
      results.idle.push(await idleUse(ctx, t, opts.idleSeconds));
      save();
    }
    if (wants('soak') && !interrupted) {
      say(`bench: false failovers, ${opts.soakMinutes} min with the master busy (100 ms probes)`);
      results.soak = await soak(ctx, opts.soakMinutes, () => prepareSoakData(lab));
      save();
    }
  } catch (e) {
    results.errors.push((e as Error).message);
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    for (const node of PBX_NODES) {
      const log = await lab.agentLog(node).catch(() => '');
      if (log)
        process.stderr.write(
          `--- ${node} agent.log (tail)\n${log.trimEnd().split('\n').slice(-15).join('\n')}\n`,
        );
    }
  } finally {
    if (!interrupted) {
      if (opts.keepLogs) keepLogs(lab, resultsFile.replace(/\.json$/, '.logs'));
      say('bench: removing the lab');
      await lab.down();
      results.finishedAt = new Date().toISOString();
      results.machine.loadavgEnd = loadavg();
      results.durationS = Math.round((Date.now() - startedMs) / 1000);
      save();
      const report = writeReport(results, resultsFile);
      say(
        `bench: done in ${(results.durationS / 60).toFixed(1)} min; report ${path.relative(process.cwd(), report)}`,
      );
    }
  }
  if (results.errors.length) process.exitCode = 1;
}

/** Copies every *.log of the PBX nodes' lab directories (agent, keepalived, sshd, postgres). */
function keepLogs(lab: Lab, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const node of PBX_NODES) {
    for (const name of readdirSync(lab.nodeDir(node)).filter((n) => n.endsWith('.log'))) {
      copyFileSync(path.join(lab.nodeDir(node), name), path.join(dir, `${node}-${name}`));
    }
  }
  say(`bench: logs kept in ${path.relative(process.cwd(), dir)}`);
}

function describeRun(r: OutageRun): string {
  if (r.unavailable) return r.unavailable;
  if (r.error) return `FAILED: ${r.error}`;
  const latency =
    r.takeoverLatencyMs !== undefined
      ? ` (takeover latency ${r.takeoverLatencyMs === null ? '?' : `${r.takeoverLatencyMs} ms`})`
      : '';
  return `outage ${Math.round(r.outageMs!)} ms${latency}`;
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
