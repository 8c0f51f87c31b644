/**
 * The Markdown report, computed from a results file alone: the headline table, the targets
 * (met or missed, with the numbers), pbx-ha's own figures, idle use beside keepalived, how it
 * was measured and with which settings.
 */
import { GATEWAY } from '../../lab/layout';
import { KEEPALIVED_DEFAULTS } from './keepalived';
import { fmtMs, median, worst } from './stats';
import { spoolReportLines, spoolTarget } from './spool';
import { DUMP_SCHEDULE, dbReportLines, dbTarget } from './db-loss';
import { failbackDataReportLines, failbackDataTarget } from './failback-data';
import type { AgentName, BenchResults, OutageRun, OutageScenario, Timing, TimingName } from './types';
import type { Part } from './types';
import { AGENTS, DB_MODES, OUTAGE_SCENARIOS, PARTS, SCENARIO_TITLES, TIMINGS, detectionMs } from './types';

/** A full run: what the committed report needs. */
export function isFullRun(r: BenchResults): boolean {
  const o = r.options;
  return (
    o.only.length === 0 &&
    o.timings.length === TIMINGS.length &&
    o.runs >= 10 &&
    o.soakMinutes >= 10 &&
    o.idleSeconds >= 60 &&
    (o.dbModes === undefined || o.dbModes.length === DB_MODES.length)
  );
}

const MIN_RUNS = 10;

/**
 * What a run measured, from its options alone: the parts, the timings, the runs per figure, the
 * soak's length only when the soak ran, the idle window only when idle use was measured.
 */
export function whatRan(r: BenchResults): string {
  const o = r.options;
  const parts = o.only.length === 0 ? PARTS : o.only;
  const ran = (p: Part) => parts.includes(p);
  const timed = parts.filter((p) => p !== 'soak' && p !== 'idle');
  const bits: string[] = [];
  if (o.only.length) bits.push(`only ${o.only.join(', ')}`);
  if (timed.length) bits.push(`${o.runs} run${o.runs === 1 ? '' : 's'} per figure`);
  // The loss-window and failback-data parts run at timing 1s whatever --timings says.
  const atOneSecond: Part[] = ['astdb', 'spool', 'db', 'failback-data'];
  if (timed.some((p) => !atOneSecond.includes(p)) || ran('idle'))
    bits.push(`timings ${o.timings.join(' and ')}`);
  // Results files from before these parts have neither dbModes nor failbackData.
  if (ran('db') && o.dbModes)
    bits.push(
      `database mode${o.dbModes.length === 1 ? '' : 's'} ${o.dbModes.join(' and ')}` +
        (o.dbModes.includes('dump') ? ` (dump \`schedule = ${DUMP_SCHEDULE}\`)` : '') +
        ' at timing 1s',
    );
  if (ran('failback-data') && r.failbackData)
    bits.push(
      'failbacks with an astdb key, a spool file, a database row or nothing to bring back, at timing 1s',
    );
  if (ran('idle')) bits.push(`idle use over ${o.idleSeconds} s`);
  if (ran('soak')) bits.push(`${o.soakMinutes}-minute soak at 100 ms`);
  else bits.push('no soak');
  return bits.join(', ');
}

function valid(
  results: BenchResults,
  scenario: OutageScenario,
  timing: TimingName,
  agent: AgentName,
): number[] {
  return results.outages
    .filter(
      (r) =>
        r.scenario === scenario &&
        r.timing === timing &&
        r.agent === agent &&
        !r.error &&
        r.outageMs !== null,
    )
    .map((r) => r.outageMs!);
}

function runsOf(
  results: BenchResults,
  scenario: OutageScenario,
  timing: TimingName,
  agent: AgentName,
): OutageRun[] {
  return results.outages.filter((r) => r.scenario === scenario && r.timing === timing && r.agent === agent);
}

function unavailable(
  results: BenchResults,
  scenario: OutageScenario,
  timing: TimingName,
  agent: AgentName,
): string | null {
  return runsOf(results, scenario, timing, agent).find((r) => r.unavailable)?.unavailable ?? null;
}

function fewRuns(n: number): string {
  return n < MIN_RUNS ? ` (${n} run${n === 1 ? '' : 's'}, fewer than ${MIN_RUNS}: indicative only)` : '';
}

type Status = 'met' | 'missed' | 'not measured' | 'not available';

interface Target {
  target: string;
  measured: string;
  status: Status;
}

function verdict(ok: boolean | null): Status {
  if (ok === null) return 'not measured';
  return ok ? 'met' : 'missed';
}

function statusCell(t: Target): string {
  switch (t.status) {
    case 'met':
      return '**met**';
    case 'missed':
      return '**MISSED**';
    default:
      return t.status;
  }
}

/** pbx-ha's takeover latencies (decision to first gratuitous ARP) at one timing, cut and dead host. */
function takeoverLatencies(results: BenchResults, timing: TimingName): number[] {
  return results.outages
    .filter(
      (r) =>
        r.agent === 'pbx-ha' &&
        r.timing === timing &&
        (r.scenario === 'cut-link' || r.scenario === 'dead-host') &&
        typeof r.takeoverLatencyMs === 'number',
    )
    .map((r) => r.takeoverLatencyMs!);
}

/**
 * The targets, as issue 15 and the data-continuity work set them: verdicts on the median unless
 * the target names the worst run. Only the figures a run measured are judged.
 */
export function targets(results: BenchResults): Target[] {
  const out: Target[] = [];
  const timings = TIMINGS.filter((t) => results.options.timings.includes(t.name));
  // Cut link and dead host: ≤ 0.85 × keepalived's outage, and nothing on top of the detection.
  for (const scenario of ['cut-link', 'dead-host'] as const) {
    for (const t of timings) {
      const p = valid(results, scenario, t.name, 'pbx-ha');
      const k = valid(results, scenario, t.name, 'keepalived');
      const pm = median(p);
      const km = median(k);
      out.push({
        target: `${SCENARIO_TITLES[scenario]}, ${t.name}: pbx-ha median ≤ 0.85 × keepalived's`,
        measured:
          pm !== null && km !== null
            ? `${fmtMs(pm)} vs ${fmtMs(km)} = ${(pm / km).toFixed(2)} ×${fewRuns(Math.min(p.length, k.length))}`
            : 'no data',
        status: verdict(pm !== null && km !== null ? pm <= 0.85 * km : null),
      });
    }
  }
  for (const scenario of ['cut-link', 'dead-host'] as const) {
    for (const t of timings) {
      const p = valid(results, scenario, t.name, 'pbx-ha');
      const w = worst(p);
      const d = detectionMs(t);
      out.push({
        target: `${SCENARIO_TITLES[scenario]}, ${t.name}: pbx-ha outage − detection (${t.fall} × ${t.pbxHaInterval} = ${fmtMs(d)}) ≤ 5 ms, worst run`,
        measured:
          w !== null
            ? `worst ${fmtMs(w)} − ${fmtMs(d)} = ${fmtMs(w - d)}; median ${fmtMs(median(p)! - d)}${fewRuns(p.length)}`
            : 'no data',
        status: verdict(w !== null ? w - d <= 5 : null),
      });
    }
  }
  for (const t of timings) {
    const v = takeoverLatencies(results, t.name);
    const m = median(v);
    out.push({
      target: `takeover latency, ${t.name}: decision → first gratuitous ARP ≤ 2 ms median`,
      measured:
        m !== null
          ? `median ${m.toFixed(1)} ms, worst ${worst(v)!.toFixed(1)} ms${fewRuns(v.length)}`
          : 'no data',
      status: verdict(m !== null ? m <= 2 : null),
    });
  }
  for (const t of timings) {
    const p = valid(results, 'planned', t.name, 'pbx-ha');
    const pm = median(p);
    const why = unavailable(results, 'planned', t.name, 'pbx-ha');
    out.push({
      target: `${SCENARIO_TITLES.planned}, ${t.name}: pbx-ha ≤ 15 ms`,
      measured:
        why ??
        (pm !== null ? `median ${fmtMs(pm)}, worst ${fmtMs(worst(p))}${fewRuns(p.length)}` : 'no data'),
      status: why ? 'not available' : verdict(pm !== null ? pm <= 15 : null),
    });
  }
  // Failback, the slave having written astdb keys while it served: at most keepalived's median,
  // worst run ≤ 20 ms, and never two holders longer than one probe interval.
  for (const t of timings) {
    const p = valid(results, 'failback', t.name, 'pbx-ha');
    const k = valid(results, 'failback', t.name, 'keepalived');
    const pm = median(p);
    const km = median(k);
    const pw = worst(p);
    out.push({
      target: `${SCENARIO_TITLES.failback}, ${t.name}: pbx-ha median ≤ keepalived's, worst ≤ 20 ms`,
      measured:
        pm !== null && km !== null
          ? `median ${fmtMs(pm)} vs ${fmtMs(km)}, worst ${fmtMs(pw)}${fewRuns(Math.min(p.length, k.length))}`
          : 'no data',
      status: verdict(pm !== null && km !== null && pw !== null ? pm <= km && pw <= 20 : null),
    });
    const doubles = runsOf(results, 'failback', t.name, 'pbx-ha')
      .filter((r) => !r.error && typeof r.twoHoldersMs === 'number')
      .map((r) => r.twoHoldersMs!);
    const dw = worst(doubles);
    out.push({
      target: `${SCENARIO_TITLES.failback}, ${t.name}: never two holders longer than one probe interval (${t.pbxHaInterval})`,
      measured: dw !== null ? `longest ${fmtMs(dw)} with two holders${fewRuns(doubles.length)}` : 'no data',
      status: verdict(dw !== null ? dw <= t.intervalMs : null),
    });
  }
  const loss = results.astdb.filter((r) => r.lossS !== null).map((r) => r.lossS!);
  const lm = median(loss);
  out.push({
    target: 'astdb loss window ≤ 5 s',
    measured:
      lm !== null
        ? `median ${lm.toFixed(2)} s, worst ${worst(loss)!.toFixed(2)} s${fewRuns(loss.length)}`
        : 'no data',
    status: verdict(lm !== null ? lm <= 5 : null),
  });
  const sp = spoolTarget(results.spool);
  out.push({ target: sp.target, measured: sp.measured, status: verdict(sp.ok) });
  const db = dbTarget(results.db);
  out.push({ target: db.target, measured: db.measured, status: verdict(db.ok) });
  const fb = failbackDataTarget(results.failbackData);
  out.push({ target: fb.target, measured: fb.measured, status: verdict(fb.ok) });
  const soak = results.soak;
  out.push({
    target: 'zero false failovers (master busy, 100 ms probes)',
    measured:
      soak && !soak.error
        ? `${soak.takeovers} takeover(s) in ${soak.minutes} min`
        : soak?.error
          ? `failed: ${soak.error}`
          : 'no data',
    status: verdict(soak && !soak.error ? soak.takeovers === 0 : null),
  });
  const idle = results.idle.find((i) => i.timing === '100ms')?.use['pbx-ha'];
  const nodes = idle ? [idle.pbx1, idle.pbx2].filter((u) => u !== undefined) : [];
  const cpu = nodes.length ? Math.max(...nodes.map((u) => u.cpuPercent)) : null;
  const rss = nodes.length ? Math.max(...nodes.map((u) => u.rssKbMean / 1024)) : null;
  out.push({
    target: 'idle CPU at 100 ms probes ≤ 0.4 % of one core (the agent and its helpers)',
    measured: idle
      ? `master ${idle.pbx1?.cpuPercent.toFixed(2)} %, slave ${idle.pbx2?.cpuPercent.toFixed(2)} %`
      : 'no data',
    status: verdict(cpu !== null ? cpu <= 0.4 : null),
  });
  out.push({
    target: 'idle memory at 100 ms probes ≤ 55 MiB RSS (the agent and its helpers, mean)',
    measured: idle
      ? `master ${((idle.pbx1?.rssKbMean ?? 0) / 1024).toFixed(1)} MiB, slave ${((idle.pbx2?.rssKbMean ?? 0) / 1024).toFixed(1)} MiB`
      : 'no data',
    status: verdict(rss !== null ? rss <= 55 : null),
  });
  return out;
}

/** The headline table: median / worst per scenario × timing, both agents. */
export function headlineTable(results: BenchResults): string {
  const rows = [
    '| scenario | timing | pbx-ha median | pbx-ha worst | keepalived median | keepalived worst | runs |',
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const scenario of OUTAGE_SCENARIOS) {
    for (const t of TIMINGS) {
      if (!results.outages.some((r) => r.scenario === scenario && r.timing === t.name)) continue;
      const cells: string[] = [];
      const counts: number[] = [];
      for (const agent of AGENTS) {
        const v = valid(results, scenario, t.name, agent);
        const why = unavailable(results, scenario, t.name, agent);
        if (why) cells.push('not available', '');
        else cells.push(fmtMs(median(v)), fmtMs(worst(v)));
        counts.push(v.length);
      }
      rows.push(
        `| ${SCENARIO_TITLES[scenario]} | ${t.name} | ${cells.join(' | ')} | ${counts.join(' / ')} |`,
      );
    }
  }
  return rows.join('\n');
}

/** The first few transition lines (without timestamp and level), and how many more. */
function listTransitions(lines: string[], max = 6): string {
  const shown = lines.slice(0, max).map((l) => `\`${l.replace(/^\S+\s+\w+\s+/, '')}\``);
  return shown.join(', ') + (lines.length > max ? ` … and ${lines.length - max} more` : '');
}

function timingText(t: Timing): string {
  return `${t.name}: pbx-ha \`interval = ${t.pbxHaInterval}\`, \`fall = ${t.fall}\`, \`rise = ${t.rise}\`; keepalived VRRPv${t.vrrpVersion} \`advert_int ${t.advertInt}\``;
}

export function renderReport(
  results: BenchResults,
  files: { chart: string; resultsFile: string; performanceDoc: string },
): string {
  const L: string[] = [];
  const m = results.machine;
  const full = isFullRun(results);
  L.push('# Failover benchmark: pbx-ha beside keepalived');
  L.push('');
  L.push(
    `Run of ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.cpus} cores (${m.cpuModel}), Linux ${m.kernel}, Node.js ${m.node}, ` +
      `${m.keepalived}, pbx-ha ${m.commit}; it took ${results.durationS !== null ? `${(results.durationS / 60).toFixed(0)} min` : '(unfinished)'}` +
      ` (\`${results.command}\`: ${whatRan(results)}). ` +
      // The load is reported, not judged: the soak, when it runs, is the last phase, and its CPU
      // hogs are in the end value.
      (m.loadavgStart
        ? `Load average (1, 5, 15 min) at the start ${m.loadavgStart}, at the end ${m.loadavgEnd ?? '?'}` +
          `${results.options.only.length === 0 || results.options.only.includes('soak') ? ' (after the soak, whose CPU hogs are in it)' : ''}. `
        : '') +
      `Raw data: [${files.resultsFile}](${files.resultsFile}).` +
      (full ? '' : ' **Partial or short run: not the committed benchmark.**'),
  );
  L.push('');
  L.push(
    `Reproduce: \`sudo npm run bench\` (or \`sudo scripts/bench --runs N --soak-minutes M --only ${'cut-link,...'}\`); see [How](#how-it-is-measured).`,
  );
  L.push('');
  L.push('## Outage seen by a phone');
  L.push('');
  const periods = results.outages
    .filter((r) => typeof r.pingPeriodMs === 'number')
    .map((r) => r.pingPeriodMs!);
  L.push(
    `The phone pings the VOIP VIP every ${results.pingIntervalMs} ms (\`ping -i ${((results.pingArgMs ?? results.pingIntervalMs) / 1000).toFixed(4).replace(/0+$/, '')}\`` +
      (results.pingCalibratedMs
        ? `, chosen at the start for a real period of ${results.pingCalibratedMs} ms: iputils' ping paces \`-i 0.01\` slower`
        : '') +
      `${periods.length ? `; replies came every ${median(periods)!.toFixed(1)} ms in the median run` : ''}); ` +
      'the outage is the longest gap without a reply around the event. Median and worst of the runs (runs: pbx-ha / keepalived).',
  );
  L.push('');
  L.push(headlineTable(results));
  L.push('');
  L.push(`![outage per scenario, pbx-ha beside keepalived](${files.chart})`);
  L.push('');
  L.push('## Targets');
  L.push('');
  L.push(
    'Verdicts use the median of the runs unless the target names the worst run; the other is shown beside it. No test asserts these times. ' +
      `For each target missed, [docs/performance.md](${files.performanceDoc}) gives the measured reason and what would close it.`,
  );
  L.push('');
  L.push('| target | measured | |');
  L.push('|---|---|---|');
  for (const t of targets(results)) L.push(`| ${t.target} | ${t.measured} | ${statusCell(t)} |`);
  L.push('');

  L.push('## pbx-ha alone');
  L.push('');
  const lat = TIMINGS.map((t) => ({ t, v: takeoverLatencies(results, t.name) })).filter((x) => x.v.length);
  if (lat.length) {
    L.push(
      "**Takeover latency** (from the decision line `pbx2: standby -> active (…)` in the slave's log to the first gratuitous ARP for the VIP " +
        'on the wire, tcpdump -tt on the phone; cut-link and dead-host runs): ' +
        lat
          .map(
            ({ t, v }) =>
              `${t.name}: median ${v.length ? median(v)!.toFixed(1) : '–'} ms, worst ${worst(v)!.toFixed(1)} ms (${v.length} runs)`,
          )
          .join('; ') +
        '.',
    );
    L.push('');
  }
  const astdb = results.astdb.filter((r) => r.lossS !== null);
  if (results.astdb.length) {
    const loss = astdb.map((r) => r.lossS!);
    const fb = astdb.filter((r) => typeof r.failbackOutageMs === 'number').map((r) => r.failbackOutageMs!);
    L.push(
      `**astdb loss window** (writer adding a key every 10 ms on the master, \`[sync.astdb]\` as shipped: every 2 min and 2 s after a change; ` +
        `master cut at a random moment; keys the slave lacks once it serves × the writer's measured period): ` +
        `median ${loss.length ? median(loss)!.toFixed(2) : '–'} s, worst ${loss.length ? worst(loss)!.toFixed(2) : '–'} s (${loss.length} runs, timing 1s). ` +
        `The failback after each, with the astdb check over the trusted link: median ${fmtMs(median(fb))}, worst ${fmtMs(worst(fb))}.`,
    );
    L.push('');
  }
  L.push(...spoolReportLines(results.spool));
  L.push(...dbReportLines(results.db));
  L.push(...failbackDataReportLines(results.failbackData));
  const s = results.soak;
  if (s) {
    const copies = Object.entries(s.copies)
      .map(([k, c]) => `${k} ${c.done} done${c.failed ? ` / ${c.failed} failed` : ''}`)
      .join(', ');
    L.push(
      `**False failovers**: ${s.minutes} min at 100 ms probes with the master busy (two CPU hogs in its namespace, at ${s.hogCpuPercent.join(' % and ')} % of a core; ` +
        `the astdb written every 10 ms; copies: ${copies || 'none'}): **${s.takeovers} takeover(s)**` +
        `; the master went to fault ${s.masterFaults ?? 0} time(s)` +
        `${s.transitions.length ? `; transitions logged: ${listTransitions(s.transitions)}` : ', no transition at all'}` +
        `; longest gap of the phone's 100 ms pings ${fmtMs(s.longestGapMs)}; load average at the end ${s.loadavg.split(' ').slice(0, 3).join(' ')}.` +
        (s.error ? ` Error: ${s.error}.` : ''),
    );
    L.push('');
  }
  const idle = results.idle.find((i) => i.timing === '100ms');
  if (idle) {
    L.push(
      `**Idle use at 100 ms probes** (steady state, ${idle.use['pbx-ha']?.pbx1?.windowS ?? results.options.idleSeconds} s window; CPU = time on CPU of every thread of the daemon and its children (/proc/PID/task/*/schedstat, and cutime + cstime of /proc/PID/stat for children reaped meanwhile), % of one core; memory = VmRSS of /proc/PID/status summed over them):`,
    );
    L.push('');
    L.push('| agent | node | CPU | RSS mean | RSS max | processes |');
    L.push('|---|---|--:|--:|--:|---|');
    for (const agent of AGENTS) {
      for (const node of ['pbx1', 'pbx2'] as const) {
        const u = idle.use[agent]?.[node];
        if (!u) continue;
        L.push(
          `| ${agent} | ${node} (${node === 'pbx1' ? 'master' : 'slave'}) | ${u.cpuPercent.toFixed(2)} % | ${(u.rssKbMean / 1024).toFixed(1)} MiB | ${(u.rssKbMax / 1024).toFixed(1)} MiB | ${[...new Set(u.processes.map((p) => p.split(' ').slice(1).join(' ')))].join(', ')} |`,
        );
      }
    }
    if (idle.error) L.push(`\nError: ${idle.error}`);
    L.push('');
  }

  L.push('## How it is measured');
  L.push('');
  L.push(
    '- Network lab (`scripts/lab`, prefix `pbxbench`): pbx1 (master) and pbx2 (slave) with their VOIP (eth0) and DATA (eth1) links on two bridges, a phone and a gateway, each in its own network namespace.',
  );
  L.push(
    '- Runs are interleaved: in each round, every scenario × timing runs once with pbx-ha, then once with keepalived, so machine noise hits both alike. Each run starts a fresh pair, waits for its steady state, waits 1 s plus a random part of one interval (any phase of the probes or adverts), makes the event, and stops both daemons afterwards.',
  );
  L.push(
    "- Events: **cut link** — the master's cables pulled at the switch (its interfaces lose carrier); **host dies** — every process in the master's namespace killed (SIGKILL) and its cables pulled; " +
      "**planned handover** — `pbx-ha failover` on the master (keepalived: its master daemon stopped with SIGTERM, which sends priority 0); **failback** — the master's cables plugged back after the cut-link run (pbx-ha: the slave's stand-in for Asterisk wrote an astdb key every 20 ms while it served, so the failback brings its changes back).",
  );
  L.push('- Timings: ' + TIMINGS.map(timingText).join('; ') + '.');
  L.push(
    "- What the settings predict for a cut link or a dead host: pbx-ha takes over fall × interval after the master's last answer, which came 0 to 1 interval before the event, so the outage lies between (fall − 1) × interval and fall × interval, plus the takeover; " +
      "keepalived's backup (priority 100) takes over 3 × advert_int + skew time ((256 − 100) / 256 × advert_int = 0.61 × advert_int) after the last advert, so between 2.61 and 3.61 × advert_int. " +
      'On a clean stop keepalived sends priority 0 and the backup takes over after the skew time alone (0.61 × advert_int).',
  );
  L.push(
    `- pbx-ha: the lab configuration (VOIP and DATA VIPs with their routes, \`track = ${GATEWAY.voip}\`, \`[garp] count = 5, interval = 200ms, repeat_after = 5s\`), \`timeout\` = interval (default), replication on and paired (sshd in both nodes, \`pbx-ha pair\`), scheduled copies moved out of the outage runs.`,
  );
  L.push(
    "- keepalived: two VRRP instances (VOIP on eth0, DATA on eth1, same routes with the VIP as source) in a sync group, priorities 150 (pbx1, `state MASTER`) and 100, `nopreempt` not set, multicast adverts (its default; on one LAN segment unicast peers would take the same path). Run with `keepalived -n -l -D -G -P` in each node, pid files in the node's private /run. Defaults left as they are: " +
      KEEPALIVED_DEFAULTS.join('; ') +
      '.',
  );
  L.push('');
  const failed = results.outages.filter((r) => r.error);
  const otherFailed = [
    ...results.astdb.filter((x) => x.error).map((r) => `astdb round ${r.round}: ${r.error}`),
    ...(results.spool ?? []).filter((x) => x.error).map((r) => `spool round ${r.round}: ${r.error}`),
    ...(results.db ?? []).filter((x) => x.error).map((r) => `db ${r.mode} round ${r.round}: ${r.error}`),
    ...(results.failbackData ?? [])
      .filter((x) => x.error)
      .map((r) => `failback-data ${r.kind} round ${r.round}: ${r.error}`),
  ];
  if (results.notes?.length) {
    L.push('## Notes on this run');
    L.push('');
    for (const note of results.notes) L.push(`- ${note}`);
    L.push('');
  }
  if (failed.length || results.errors.length || otherFailed.length) {
    L.push('## Failed runs (not counted)');
    L.push('');
    for (const r of failed) L.push(`- round ${r.round}, ${r.scenario} ${r.timing} ${r.agent}: ${r.error}`);
    for (const line of otherFailed) L.push(`- ${line}`);
    for (const e of results.errors) L.push(`- ${e}`);
    L.push('');
  }
  L.push('<details><summary>Configurations used</summary>');
  L.push('');
  for (const [name, text] of Object.entries(results.configs)) {
    L.push(`${name}:`);
    L.push('');
    L.push('```');
    L.push(text.trimEnd());
    L.push('```');
    L.push('');
  }
  L.push('</details>');
  L.push('');
  return L.join('\n');
}
