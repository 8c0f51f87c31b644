/**
 * The fault-injection suite's toolkit (npm run test:faults → scripts/test-faults).
 *
 * Every case runs in a lab of its own (prefix pbxflt<N>, directory /tmp/pbx-ha-faults-<N>), with
 * both agents on fast health settings (200 ms × 3), the trusted link paired, and PBX services
 * that run a stand-in for Asterisk writing the astdb (fixtures/pbx-service). A case injects its
 * fault, then checks what must hold afterwards (checkInvariants):
 *   - exactly one VIP holder: from both nodes' addresses, from the phone's ARP view of the VOIP
 *     VIP and the gateway's of the DATA VIP (after a ping);
 *   - the phone reaches the VIP;
 *   - no astdb key lost that had been replicated (AstdbLedger);
 *   - no agent crash: each agent is the process the case started last, and no "internal error"
 *     is in its log;
 * and the case checks the message the fault left in the log, in `pbx-ha status` and in
 * `pbx-ha history`. faultCase() records held/broken in dist/faults-results.json, from which
 * scripts/test-faults prints the summary and scripts/faults-table makes the README table.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  rmSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  writeFileSync,
  appendFileSync,
  mkdirSync,
  renameSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import type { AgentStatus } from '../../src/agent/status';
import { Lab, requireLab } from '../../lab/lab';
import {
  ASTDB,
  DATA_VIP,
  PBX_HA,
  PBX_NODES,
  type PbxNode,
  REPO_ROOT,
  VOIP_VIP,
  WRITER,
  otherNode,
} from '../../lab/layout';
import {
  FAST_HEALTH,
  type HolderSamples,
  type LabAgentStatus,
  agentStatus,
  removeVips,
  setUpTrustedLink,
  startHolderSampler,
  waitSoleHolder,
  waitState,
} from '../../lab/pair';
import { processAlive as alive, sleep } from '../../lab/run';

export { ASTDB, DATA_VIP, PBX_HA, VOIP_VIP, WRITER, sleep };
export type { PbxNode };

export const FIXTURES = path.join(REPO_ROOT, 'test', 'faults', 'fixtures');
export const RESULTS_FILE = path.join(REPO_ROOT, 'dist', 'faults-results.json');
export const LOGS_DIR = path.join(REPO_ROOT, 'dist', 'faults-logs');

// ----- parameters --------------------------------------------------------------------------------

function numberFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw}: expected a number of at least ${min}`);
  return n;
}

/** The suite's parameters (scripts/test-faults sets them from its options). */
export const PARAMS = {
  /** How long the link flaps of cases 1 and 2 last (down 1 s, up 2 s). */
  flapSeconds: numberFromEnv('PBX_FAULTS_FLAP_SECONDS', 60, 6),
  /** How long the soak (case 12) runs. */
  soakMinutes: numberFromEnv('PBX_FAULTS_SOAK_MINUTES', 3, 1),
  /** Rounds of case 5. */
  bootRounds: numberFromEnv('PBX_FAULTS_BOOT_ROUNDS', 10, 1),
  /** The soak's PRNG seed (a fresh one, printed, when not given). */
  seed: numberFromEnv('PBX_FAULTS_SEED', Math.floor(Math.random() * 2 ** 31), 0) >>> 0,
};

/** Generous bound for "soon" in this suite: detection is 600 ms; a failback goes over SSH. */
export const SETTLE_MS = 30_000;

// ----- results ---------------------------------------------------------------------------------

export interface CaseResult {
  n: number;
  name: string;
  fault: string;
  holds: string;
  result: 'held' | 'broken';
  seconds: number;
  details: string[];
  error?: string;
  finishedAt: string;
}

interface ResultsFile {
  suite: 'pbx-ha fault injection';
  params: { flapSeconds: number; soakMinutes: number; bootRounds: number; seed?: number };
  cases: Record<string, CaseResult>;
}

/** Merges one case's result into dist/faults-results.json (each test file is its own process). */
export function recordResult(r: CaseResult, extra: { seed?: number } = {}): void {
  let file: ResultsFile = {
    suite: 'pbx-ha fault injection',
    params: {
      flapSeconds: PARAMS.flapSeconds,
      soakMinutes: PARAMS.soakMinutes,
      bootRounds: PARAMS.bootRounds,
    },
    cases: {},
  };
  try {
    const old = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as ResultsFile;
    if (old && typeof old.cases === 'object') file = { ...old, params: { ...old.params, ...file.params } };
  } catch {
    // first case of the run
  }
  if (extra.seed !== undefined) file.params.seed = extra.seed;
  file.cases[String(r.n)] = r;
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  const tmp = `${RESULTS_FILE}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n');
  renameSync(tmp, RESULTS_FILE);
}

// ----- the lab of one case -----------------------------------------------------------------------

export interface CaseSpec {
  n: number;
  /** Short name: FAULT <n> <name>. */
  name: string;
  /** The fault, in a sentence (for the README table). */
  fault: string;
  /** What must hold afterwards (for the README table). */
  holds: string;
}

export interface CaseOptions {
  /** pbx-ha pair from pbx1 to pbx2 (sshd in both) before the agents start. Default true. */
  pair?: boolean;
  /** PostgreSQL in both nodes with a small schema. Default false. */
  postgres?: boolean;
  /** Extra configuration appended to each node's pbx-ha.conf (before the agents start). */
  config?: Partial<Record<PbxNode, string>>;
  /** Changes to a node's pbx-ha.conf (after the appended configuration). */
  editConfig?: (node: PbxNode, text: string) => string;
  /** Runs after the lab is up and configured, before sshd, pairing and the agents. */
  beforeStart?: (f: FaultLab) => Promise<void>;
  /** Start both agents and wait for pbx1 active, pbx2 standby. Default true. */
  startPair?: boolean;
}

/** Replication settings of the fault labs: quick retries, an alert at the first failure. */
const REPLICATION_CONFIG = `
[replication]
alert_after = 1
retry_min = 1s
retry_max = 10s
[sync.files]
paths = /var/lib/asterisk/sounds
[sync.astdb]
debounce = 1s
`;

/** Runs one fault case in its own lab; records held/broken; always tears everything down. */
export async function faultCase(
  t: TestContext,
  spec: CaseSpec,
  opts: CaseOptions,
  fn: (f: FaultLab) => Promise<void>,
): Promise<void> {
  if (!requireLab(t)) return;
  const started = Date.now();
  const lab = new Lab({ prefix: `pbxflt${spec.n}`, dir: `/tmp/pbx-ha-faults-${spec.n}` });
  const f = new FaultLab(lab, t, spec);
  let error: unknown = null;
  try {
    await lab.up(FAST_HEALTH);
    for (const node of PBX_NODES) {
      const base = (await lab.readConfig(node)).replace(
        /\/\S*\/scripts\/lab-fake-service\b/g,
        path.join(FIXTURES, 'pbx-service'),
      );
      const text = `${base}${REPLICATION_CONFIG}${opts.config?.[node] ?? ''}`;
      await lab.writeConfig(node, opts.editConfig ? opts.editConfig(node, text) : text);
    }
    if (opts.beforeStart) await opts.beforeStart(f);
    if (opts.postgres) await f.startPostgres();
    if (opts.pair !== false) await f.pair();
    if (opts.startPair !== false) await f.startPair();
    await fn(f);
  } catch (e) {
    error = e;
    t.diagnostic(`the agents' logs are in ${LOGS_DIR}/${spec.n}-pbx1.log and ${spec.n}-pbx2.log`);
  }
  try {
    await f.runCleanups();
    await f
      .keepEvidence(error !== null)
      .catch((e: Error) => t.diagnostic(`could not keep the logs: ${e.message}`));
  } finally {
    await lab.down().catch((e: Error) => t.diagnostic(`lab down failed: ${e.message}`));
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const result: CaseResult = {
    n: spec.n,
    name: spec.name,
    fault: spec.fault,
    holds: spec.holds,
    result: error ? 'broken' : 'held',
    seconds,
    details: f.details,
    finishedAt: new Date().toISOString(),
    ...(error
      ? { error: error instanceof Error ? error.message.split('\n').slice(0, 6).join('\n') : String(error) }
      : {}),
  };
  recordResult(result, f.seed !== undefined ? { seed: f.seed } : {});
  t.diagnostic(`FAULT ${spec.n} ${spec.name}: ${result.result} (${seconds} s)`);
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

// ----- processes inside a lab node ---------------------------------------------------------------

export interface ProcInfo {
  pid: number;
  argv: string[];
}

/** Processes whose network namespace is `ns` (read from /proc, fast enough to catch a copy under way). */
export function processesInNamespace(ns: string): ProcInfo[] {
  let inode: number;
  try {
    inode = statSync(`/run/netns/${ns}`).ino;
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const link = readlinkSync(`/proc/${name}/ns/net`);
      if (link !== `net:[${inode}]`) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a.length > 0);
      if (argv.length) out.push({ pid: Number(name), argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Resident memory of a process in KiB (VmRSS), or null if it is gone. */
export function residentKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ----- the astdb ledger ------------------------------------------------------------------------

/** The writer's numbered keys in an astdb: prefix -> { last, seq numbers present }. */
function readWriterKeys(file: string): Map<string, { last: number; seqs: Set<number> }> | null {
  if (!existsSync(file)) return null;
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
    const rows = db
      .prepare(
        "SELECT key, value FROM astdb WHERE (key >= '/pbx1/' AND key < '/pbx10') OR (key >= '/pbx2/' AND key < '/pbx20')",
      )
      .all() as { key: string; value: string }[];
    const out = new Map<string, { last: number; seqs: Set<number> }>();
    for (const { key, value } of rows) {
      const m = /^\/(pbx[12])\/(?:(last)|seq\/(\d+))$/.exec(key);
      if (!m) continue;
      const entry = out.get(m[1]) ?? { last: 0, seqs: new Set<number>() };
      if (m[2]) entry.last = Number(value);
      else entry.seqs.add(Number(m[3]));
      out.set(m[1], entry);
    }
    return out;
  } catch {
    return null; // mid-install, or locked: the next sample will do
  } finally {
    db?.close();
  }
}

/**
 * What has been replicated: the writer on pbx1 numbers /pbx1/seq/1..n, the one on pbx2
 * /pbx2/seq/1..n. Keys of pbx1's writer seen in pbx2's astdb came there by a copy, and those of
 * pbx2's writer seen in pbx1's astdb by a fetch before a failback. The node serving at the end
 * must hold all of them.
 */
export class AstdbLedger {
  /** prefix -> the highest number seen replicated (every seq key up to it was there). */
  readonly replicated = new Map<string, number>([
    ['pbx1', 0],
    ['pbx2', 0],
  ]);
  /** When each new high was seen (written next to the logs, for a post-mortem). */
  readonly history: string[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private lab: Lab) {}

  sample(): void {
    for (const [holder, origin] of [
      ['pbx2', 'pbx1'],
      ['pbx1', 'pbx2'],
    ] as const) {
      const keys = readWriterKeys(this.lab.hostPath(holder, ASTDB))?.get(origin);
      if (!keys) continue;
      // Count only a contiguous run from 1: a copy is consistent, so it has all of 1..last.
      let n = 0;
      while (keys.seqs.has(n + 1)) n++;
      if (n > (this.replicated.get(origin) ?? 0)) {
        this.replicated.set(origin, n);
        this.history.push(
          `${new Date().toISOString()} ${holder}'s astdb holds ${origin}'s keys 1..${n} (last=${keys.last})`,
        );
      }
    }
  }

  /** Samples every `everyMs` until stop(). */
  startSampling(everyMs = 1000): void {
    this.stop();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Asserts that `node`'s astdb holds every key seen replicated. Returns a summary. */
  assertHeldBy(node: PbxNode): string {
    this.sample();
    const keys = readWriterKeys(this.lab.hostPath(node, ASTDB));
    const parts: string[] = [];
    for (const [origin, upTo] of this.replicated) {
      if (upTo === 0) continue;
      assert.ok(keys, `${node}'s astdb is readable (it should hold ${upTo} replicated keys of ${origin})`);
      const seqs = keys.get(origin)?.seqs ?? new Set<number>();
      const missing: number[] = [];
      for (let i = 1; i <= upTo; i++) if (!seqs.has(i)) missing.push(i);
      assert.equal(
        missing.length,
        0,
        `${node}'s astdb lost ${missing.length} replicated keys of ${origin}'s writer (first: /${origin}/seq/${missing[0]}; replicated up to ${upTo})`,
      );
      parts.push(`${origin} 1..${upTo}`);
    }
    return parts.length
      ? `replicated astdb keys all on ${node} (${parts.join(', ')})`
      : 'no astdb key replicated yet';
  }
}

// ----- the fault lab -----------------------------------------------------------------------------

export interface InvariantOptions {
  /** Who must hold the VIPs (default pbx1, the master). */
  holder?: PbxNode;
  /** The state the other node must be in (default standby; null: its agent does not run). */
  otherState?: AgentStatus['state'] | null;
  /** How long the pair may take to settle (default SETTLE_MS). */
  settleMs?: number;
  /** Report the astdb check as a detail (default true). */
  report?: boolean;
}

export class FaultLab {
  /** The agent pid each node must have (the last one this case started). */
  readonly pids = new Map<PbxNode, number>();
  readonly ledger: AstdbLedger;
  readonly details: string[] = [];
  seed: number | undefined;
  private cleanups: (() => Promise<void>)[] = [];

  constructor(
    readonly lab: Lab,
    readonly t: TestContext,
    readonly spec: CaseSpec,
  ) {
    this.ledger = new AstdbLedger(lab);
  }

  /** A line for the results (and a test diagnostic now). */
  detail(line: string): void {
    this.details.push(line);
    this.t.diagnostic(line);
  }

  /** Runs at teardown, before the lab goes down, last registered first, also after a failure. */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  async runCleanups(): Promise<void> {
    this.ledger.stop();
    while (this.cleanups.length) {
      const fn = this.cleanups.pop()!;
      await fn().catch((e: Error) => this.t.diagnostic(`cleanup failed: ${e.message}`));
    }
  }

  /** The agents' logs (always) and, after a failure, the astdb files and the replaced copies kept, under dist/faults-logs/. */
  async keepEvidence(failed: boolean): Promise<void> {
    const n = this.spec.n;
    mkdirSync(LOGS_DIR, { recursive: true });
    for (const node of PBX_NODES) {
      writeFileSync(path.join(LOGS_DIR, `${n}-${node}.log`), await this.lab.agentLog(node));
      const keep = path.join(LOGS_DIR, `${n}-${node}-files`);
      rmSync(keep, { recursive: true, force: true });
      if (!failed) continue;
      for (const dir of ['/var/lib/asterisk', '/var/lib/pbx-ha/backup', '/run/fake-pbx']) {
        const from = this.lab.hostPath(node, dir);
        if (existsSync(from))
          cpSync(from, path.join(keep, dir), { recursive: true, filter: (src) => !src.includes('/sounds') });
      }
    }
    writeFileSync(path.join(LOGS_DIR, `${n}-ledger.log`), this.ledger.history.join('\n') + '\n');
  }

  // --- set-up ----------------------------------------------------------------------------------

  /** sshd in both nodes, root's own key from pbx1 to pbx2 (the administrator's), `pbx-ha pair`. */
  async pair(): Promise<void> {
    await setUpTrustedLink(this.lab);
  }

  /** PostgreSQL in both nodes, with the tables the db copy carries. */
  async startPostgres(): Promise<void> {
    const schema =
      'CREATE TABLE userfeatures (id serial PRIMARY KEY, firstname text NOT NULL, lastname text); CREATE TABLE cel (id serial PRIMARY KEY, eventtype text);';
    for (const node of PBX_NODES) {
      await this.lab.startPostgres(node);
      await this.lab.psql(node, schema);
    }
  }

  /** Starts both agents (master first) and waits for pbx1 active, pbx2 standby. */
  async startPair(): Promise<void> {
    await this.start('pbx1');
    await this.start('pbx2');
    await this.waitSoleHolder('pbx1');
    await this.waitState('pbx1', 'active');
    await this.waitState('pbx2', 'standby');
    this.ledger.startSampling();
    // Replication is part of every case: the first astdb copy has reached the slave.
    if (
      existsSync(this.lab.hostPath('pbx1', '/etc/pbx-ha/ssh/known_hosts')) &&
      !existsSync(this.lab.hostPath('pbx1', '/run/fake-pbx/no-writer'))
    ) {
      await this.lab.waitFor(
        'a first astdb copy on the slave',
        () => {
          this.ledger.sample();
          return (this.ledger.replicated.get('pbx1') ?? 0) > 0;
        },
        SETTLE_MS,
        200,
      );
    }
  }

  // --- agents ------------------------------------------------------------------------------------

  async start(node: PbxNode): Promise<number> {
    const pid = await this.lab.start(node);
    this.pids.set(node, pid);
    return pid;
  }

  /** Starts both agents at the same moment. */
  async startBoth(): Promise<void> {
    await Promise.all(PBX_NODES.map((n) => this.start(n)));
  }

  /** SIGKILL of a node's agent (waits until it is gone). */
  async killAgent(node: PbxNode): Promise<void> {
    await this.lab.stop(node, 'KILL');
    this.pids.delete(node);
  }

  /** Removes the VIPs (and the routes from them) from a node by hand (what a reboot does). */
  async removeVips(node: PbxNode): Promise<void> {
    await removeVips(this.lab, node);
  }

  /** Kills the node's "Asterisk" (the astdb writer started by its services), as a reboot does. */
  async killWriter(node: PbxNode): Promise<void> {
    const pidfile = this.lab.hostPath(node, '/run/fake-pbx/writer.pid');
    // No pid file: its services have not started a writer (yet).
    const pid = Number.parseInt((existsSync(pidfile) ? readFileSync(pidfile, 'utf8') : '').trim(), 10) || 0;
    const proc = processesInNamespace(this.lab.namespace(node)).find(
      (p) => p.pid === pid && p.argv.some((a) => a.endsWith('astdb-writer.js')),
    );
    if (proc) {
      process.kill(proc.pid, 'SIGKILL');
      await this.lab.waitFor(`the writer of ${node} is gone`, () => !alive(proc.pid), 5000, 20);
    }
  }

  /** Sends SIGHUP to a node's agent (a reload of its pbx-ha.conf). */
  async reload(node: PbxNode): Promise<void> {
    const pid = this.pids.get(node);
    assert.ok(pid, `${node}'s agent runs`);
    const before = (await this.lab.agentLog(node)).length;
    process.kill(pid, 'SIGHUP');
    await this.lab
      .waitFor(
        `${node} reloaded its configuration`,
        async () =>
          /configuration reloaded|reload refused/.exec((await this.lab.agentLog(node)).slice(before))?.[0],
        SETTLE_MS,
      )
      .then((what) => assert.equal(what, 'configuration reloaded', `${node} took the new configuration`));
  }

  async status(node: PbxNode): Promise<LabAgentStatus> {
    return agentStatus(this.lab, node);
  }

  async history(node: PbxNode, limit = 500): Promise<string> {
    return (await this.lab.exec(node, [PBX_HA, 'history', '--limit', String(limit)], { timeoutMs: 20_000 }))
      .stdout;
  }

  async sync(kind: 'files' | 'db' | 'astdb' | 'all', opts: { now?: boolean; allowFail?: boolean } = {}) {
    return this.lab.exec('pbx1', [PBX_HA, 'sync', kind, ...(opts.now ? ['--now'] : [])], {
      timeoutMs: 300_000,
      allowFail: opts.allowFail,
    });
  }

  async waitState(node: PbxNode, state: AgentStatus['state'], timeoutMs = SETTLE_MS): Promise<void> {
    await waitState(this.lab, node, state, timeoutMs);
  }

  /** Who holds an address, straight from `ip -n NS` (no mount namespace: fast, for samplers). */
  async holders(vip: string): Promise<PbxNode[]> {
    return this.lab.holders(vip);
  }

  async waitSoleHolder(node: PbxNode, timeoutMs = SETTLE_MS): Promise<void> {
    await waitSoleHolder(this.lab, node, timeoutMs);
  }

  /**
   * Samples the holders of both VIPs as fast as `ip -n` allows until stop(); reports the longest
   * stretch with two holders of one VIP.
   */
  holderSampler(): { stop(): Promise<HolderSamples> } {
    return startHolderSampler(this.lab);
  }

  /** MAC of `ip` in a node's neighbour table after one ping (null when it did not answer). */
  private async pingAndArp(
    from: 'phone' | 'gw',
    ip: string,
    dev: string,
  ): Promise<{ answered: boolean; mac: string | null }> {
    const answered = await this.lab.pingOnce(from, ip, 1000);
    return { answered, mac: await this.lab.arpMac(from, ip, dev) };
  }

  // --- faults ------------------------------------------------------------------------------------

  /**
   * Cable flaps: down `downMs`, up `upMs`, for `durationMs`. While a cut is on, the node's
   * `pbx-ha status` is read once per cycle (it must answer, and say why it is in fault).
   */
  async flap(
    node: PbxNode,
    durationMs: number,
    opts: { downMs?: number; upMs?: number; iface?: string } = {},
  ): Promise<{ cycles: number; reasons: string[] }> {
    const downMs = opts.downMs ?? 1000;
    const upMs = opts.upMs ?? 2000;
    const end = Date.now() + durationMs;
    const reasons: string[] = [];
    let cycles = 0;
    while (Date.now() < end) {
      const cutAt = Date.now();
      await this.lab.cut(node, opts.iface);
      await sleep(Math.min(600, downMs / 2));
      const s = await this.status(node).catch(
        (e: Error) => ({ state: 'no answer', reason: e.message }) as unknown as AgentStatus,
      );
      reasons.push(`${s.state}: ${s.reason}`);
      await sleep(Math.max(0, downMs - (Date.now() - cutAt)));
      await this.lab.restore(node, opts.iface);
      cycles++;
      await sleep(upMs);
    }
    return { cycles, reasons };
  }

  /** The first process in a node whose argv matches, polling /proc every few ms. */
  async waitForProcess(
    node: PbxNode,
    desc: string,
    match: (p: ProcInfo) => boolean,
    timeoutMs: number,
  ): Promise<ProcInfo> {
    const ns = this.lab.namespace(node);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = processesInNamespace(ns).find(match);
      if (p) return p;
      if (Date.now() > deadline) throw new Error(`no ${desc} appeared in ${node} within ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  /**
   * Kills a copy half-way: waits for the process, then SIGKILL once `progressed()` says part of
   * the work is done. With `slices` (for copies too fast to catch), the process is frozen
   * (SIGSTOP) and let run a few milliseconds at a time until then. Throws if the process ended by
   * itself first (the copy was too small to catch).
   */
  async killHalfWay(
    node: PbxNode,
    desc: string,
    match: (p: ProcInfo) => boolean,
    progressed: () => boolean | Promise<boolean>,
    opts: { slices?: boolean; timeoutMs?: number } = {},
  ): Promise<ProcInfo> {
    const p = await this.waitForProcess(node, desc, match, opts.timeoutMs ?? 60_000);
    const signal = (sig: NodeJS.Signals) => {
      if (!alive(p.pid))
        throw new Error(
          `${desc} (pid ${p.pid}) ended by itself before it could be killed half-way: make the copy larger`,
        );
      process.kill(p.pid, sig);
    };
    const slices = opts.slices ?? true;
    if (slices) signal('SIGSTOP');
    for (let n = 0; !(await progressed()); n++) {
      if (n > 3000) throw new Error(`${desc} (pid ${p.pid}) made no progress`);
      if (slices) {
        signal('SIGCONT');
        await sleep(n < 50 ? 5 : 20);
        signal('SIGSTOP');
      } else {
        if (!alive(p.pid)) signal('SIGKILL'); // throws: it ended by itself
        await sleep(20);
      }
    }
    signal('SIGKILL');
    await this.lab.waitFor(`${desc} (pid ${p.pid}) gone`, () => !alive(p.pid), 10_000, 20);
    return p;
  }

  // --- what must hold ------------------------------------------------------------------------------

  /** Each agent is the one this case started last, and no "internal error" is in its log. */
  async assertAgentsSound(): Promise<void> {
    for (const node of PBX_NODES) {
      const expected = this.pids.get(node);
      if (expected === undefined) continue;
      assert.equal(
        await this.lab.agentPid(node),
        expected,
        `${node}'s agent (pid ${expected}) still runs: it did not crash`,
      );
      assert.ok(alive(expected), `${node}'s agent pid ${expected} is alive`);
      const log = await this.lab.agentLog(node);
      const bad = log.split('\n').filter((l) => /internal error|uncaught|unhandled/i.test(l));
      assert.deepEqual(bad, [], `${node}'s agent.log has no internal error`);
    }
  }

  /**
   * What must hold after every fault: one holder (the nodes' addresses, the phone's and the
   * gateway's ARP views), the phone reaches the VIP, the agents did not crash, no replicated
   * astdb key lost.
   */
  async checkInvariants(opts: InvariantOptions = {}): Promise<void> {
    const holder = opts.holder ?? 'pbx1';
    const other = otherNode(holder);
    const settleMs = opts.settleMs ?? SETTLE_MS;
    await this.waitSoleHolder(holder, settleMs);
    await this.waitState(holder, 'active', settleMs);
    if (opts.otherState !== null) await this.waitState(other, opts.otherState ?? 'standby', settleMs);
    const voipMac = await this.lab.nodeMac(holder, 'eth0');
    const dataMac = await this.lab.nodeMac(holder, 'eth1');
    let last: unknown;
    await this.lab
      .waitFor(
        `the phone reaches ${VOIP_VIP} at ${holder}'s MAC ${voipMac}`,
        async () => {
          const r = await this.pingAndArp('phone', VOIP_VIP, 'eth0');
          last = r;
          return r.answered && r.mac === voipMac;
        },
        settleMs,
        300,
      )
      .catch((e: Error) => {
        throw new Error(`${e.message}; last: ${JSON.stringify(last)}`);
      });
    await this.lab.waitFor(
      `the gateway reaches ${DATA_VIP} at ${holder}'s MAC ${dataMac}`,
      async () => {
        const r = await this.pingAndArp('gw', DATA_VIP, 'eth1');
        return r.answered && r.mac === dataMac;
      },
      settleMs,
      300,
    );
    // Still one holder a moment later (not a passing state).
    await sleep(1000);
    for (const vip of [VOIP_VIP, DATA_VIP])
      assert.deepEqual(await this.holders(vip), [holder], `${holder} alone holds ${vip}`);
    await this.assertAgentsSound();
    const astdb = this.ledger.assertHeldBy(holder);
    if (opts.report === false) this.t.diagnostic(astdb);
    else this.detail(astdb);
  }
}

/** Bytes under a directory (files whose name starts with a dot, rsync's partial files, included). */
export function bytesUnder(dir: string): number {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    try {
      if (e.isDirectory()) total += bytesUnder(p);
      else if (e.isFile()) total += statSync(p).size;
    } catch {
      // renamed or removed meanwhile
    }
  }
  return total;
}

/** SHA-256 of a directory tree: relative paths and contents, in order. */
export function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else if (e.isFile()) hash.update(`${rel}${e.name}\0`).update(readFileSync(p)).update('\0');
    }
  };
  walk(dir, '');
  return hash.digest('hex');
}

/** Marks a node's services so that they run no astdb writer (cases that fill the astdb themselves). */
export function noWriter(lab: Lab, node: PbxNode): void {
  mkdirSync(lab.hostPath(node, '/run/fake-pbx'), { recursive: true });
  writeFileSync(lab.hostPath(node, '/run/fake-pbx/no-writer'), '');
}

/** Appends a line to a node's file (root filesystem path of what the node sees as `nodePath`). */
export function appendNodeFile(lab: Lab, node: PbxNode, nodePath: string, text: string): void {
  const file = lab.hostPath(node, nodePath);
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, text);
}

/** Seeded PRNG (mulberry32): the soak prints its seed so that a run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
