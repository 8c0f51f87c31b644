/**
 * The outage chart, hand-written SVG: one group per scenario × timing, pbx-ha beside
 * keepalived, a dot per run and a bar at the median. The y axis is logarithmic (outages run
 * from ~10 ms to several seconds), so equal ratios look equal: "0.9 × keepalived" is the same
 * distance everywhere.
 */
import { median } from './stats';
import type { AgentName, BenchResults, OutageScenario, TimingName } from './types';
import { AGENTS, OUTAGE_SCENARIOS, SCENARIO_TITLES, TIMINGS, detectionMs } from './types';

const COLORS: Record<AgentName, string> = { 'pbx-ha': '#1f6fb4', keepalived: '#e07b12' };
const W = 980;
const H = 460;
const M = { top: 56, right: 20, bottom: 96, left: 64 };
const Y_MIN = 5;
const Y_MAX = 10_000;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const r1 = (x: number) => Math.round(x * 10) / 10;

function y(ms: number): number {
  const v = Math.min(Y_MAX, Math.max(Y_MIN, ms));
  const f = (Math.log10(v) - Math.log10(Y_MIN)) / (Math.log10(Y_MAX) - Math.log10(Y_MIN));
  return r1(H - M.bottom - f * (H - M.top - M.bottom));
}

function label(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

function valueLabel(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function renderChart(results: BenchResults): string {
  const groups: { scenario: OutageScenario; timing: TimingName }[] = [];
  for (const scenario of OUTAGE_SCENARIOS) {
    for (const t of TIMINGS) {
      if (results.outages.some((r) => r.scenario === scenario && r.timing === t.name))
        groups.push({ scenario, timing: t.name });
    }
  }
  const plotW = W - M.left - M.right;
  const gw = plotW / Math.max(1, groups.length);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(
    `<text x="${M.left}" y="20" font-size="15" font-weight="bold">Outage seen by a phone pinging the VIP every ${results.pingIntervalMs} ms</text><text x="${W - M.right}" y="20" text-anchor="end" fill="#555">log scale · dot = one run · bar = median (value below the axis)</text>`,
  );
  // Legend.
  let lx = M.left;
  for (const agent of AGENTS) {
    out.push(
      `<circle cx="${lx + 5}" cy="38" r="4.5" fill="${COLORS[agent]}"/><text x="${lx + 14}" y="42">${agent}</text>`,
    );
    lx += 100;
  }
  out.push(
    `<line x1="${lx}" y1="38" x2="${lx + 22}" y2="38" stroke="#222" stroke-width="2.5"/><text x="${lx + 28}" y="42">median</text>`,
  );
  out.push(
    `<line x1="${lx + 100}" y1="38" x2="${lx + 122}" y2="38" stroke="#888" stroke-dasharray="4 3"/><text x="${lx + 128}" y="42">detection time (fall × interval)</text>`,
  );

  // Axis and grid.
  for (const tick of [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]) {
    const ty = y(tick);
    out.push(`<line x1="${M.left}" y1="${ty}" x2="${W - M.right}" y2="${ty}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${M.left - 6}" y="${ty + 4}" text-anchor="end" fill="#444">${label(tick)}</text>`);
  }
  out.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#444"/>`);
  out.push(
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#444"/>`,
  );

  groups.forEach((g, gi) => {
    const x0 = M.left + gi * gw;
    if (gi > 0)
      out.push(`<line x1="${r1(x0)}" y1="${M.top}" x2="${r1(x0)}" y2="${H - M.bottom}" stroke="#f0f0f0"/>`);
    if (g.scenario === 'cut-link' || g.scenario === 'dead-host') {
      const timing = TIMINGS.find((t) => t.name === g.timing)!;
      const dy = y(detectionMs(timing));
      out.push(
        `<line x1="${r1(x0 + 6)}" y1="${dy}" x2="${r1(x0 + gw - 6)}" y2="${dy}" stroke="#888" stroke-dasharray="4 3"/>`,
      );
    }
    AGENTS.forEach((agent, ai) => {
      const cx = x0 + gw * (ai === 0 ? 0.3 : 0.7);
      const runs = results.outages.filter(
        (r) => r.scenario === g.scenario && r.timing === g.timing && r.agent === agent,
      );
      const values = runs.filter((r) => r.outageMs !== null && !r.error).map((r) => r.outageMs!);
      if (!values.length) {
        const why = runs.some((r) => r.unavailable) ? 'not available' : 'no data';
        out.push(
          `<text x="${r1(cx)}" y="${H - M.bottom - 8}" text-anchor="start" fill="${COLORS[agent]}" font-size="11" transform="rotate(-90 ${r1(cx)} ${H - M.bottom - 8})">${why}</text>`,
        );
        return;
      }
      values.forEach((v, i) => {
        const jitter = (((i * 7) % 11) - 5) * 1.6;
        out.push(
          `<circle cx="${r1(cx + jitter)}" cy="${y(v)}" r="3.2" fill="${COLORS[agent]}" fill-opacity="0.55"><title>${agent}, run ${i + 1}: ${Math.round(v)} ms</title></circle>`,
        );
      });
      const med = median(values)!;
      const my = y(med);
      out.push(
        `<line x1="${r1(cx - 13)}" y1="${my}" x2="${r1(cx + 13)}" y2="${my}" stroke="#222" stroke-width="2.5"/>`,
      );
      // The median's value, under the axis, in the agent's colour.
      out.push(
        `<text x="${r1(cx)}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11" fill="${COLORS[agent]}">${valueLabel(med)}</text>`,
      );
    });
    const title = SCENARIO_TITLES[g.scenario];
    const [line1, line2] = title.length > 18 ? splitTitle(title) : [title, ''];
    const cx = r1(x0 + gw / 2);
    out.push(
      `<text x="${cx}" y="${H - M.bottom + 36}" text-anchor="middle" font-weight="bold">${g.timing}</text>`,
    );
    out.push(`<text x="${cx}" y="${H - M.bottom + 54}" text-anchor="middle">${esc(line1)}</text>`);
    if (line2) out.push(`<text x="${cx}" y="${H - M.bottom + 69}" text-anchor="middle">${esc(line2)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function splitTitle(title: string): [string, string] {
  const words = title.split(' ');
  let best: [string, string] = [title, ''];
  let bestDiff = Infinity;
  for (let i = 1; i < words.length; i++) {
    const a = words.slice(0, i).join(' ');
    const b = words.slice(i).join(' ');
    if (Math.abs(a.length - b.length) < bestDiff) {
      bestDiff = Math.abs(a.length - b.length);
      best = [a, b];
    }
  }
  return best;
}
