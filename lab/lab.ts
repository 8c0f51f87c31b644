/**
 * The network lab (scripts/lab) seen from TypeScript: two PBX nodes, a phone and a gateway in
 * network namespaces, each PBX node with its own hostname and private /etc/pbx-ha, /var/lib/*,
 * /run, ... Used by the lab tests, the fault suite, the benchmark and the demo.
 *
 * Typical use (every test tears the lab down, also when it fails):
 *
 *   import { test } from 'node:test';
 *   import { withLab } from '../../lab/lab';
 *
 *   test('slave takes over when the master is cut', async (t) => {
 *     await withLab(t, async (lab) => {
 *       await lab.start('pbx1');
 *       await lab.start('pbx2');
 *       await lab.waitFor('pbx1 holds the VOIP VIP', async () => (await lab.holders(VOIP_VIP)).includes('pbx1'), 10_000);
 *       const pinger = await lab.startPhonePinger(VOIP_VIP, 10);
 *       await lab.cut('pbx1');
 *       await lab.waitFor('pbx2 holds the VOIP VIP', async () => (await lab.holders(VOIP_VIP)).includes('pbx2'), 10_000);
 *       const { longestGapMs } = await pinger.stop();
 *     });
 *   });
 *
 * withLab() skips (outside CI) or fails (when process.env.CI is set) if the lab cannot run here.
 * Without withLab(): create a `new Lab()`, call `await lab.up()` and put `await lab.down()` in a
 * `finally` block or an `after()` hook.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { fingerprint } from '../src/link/known-hosts';
import { LAB_SCRIPT, type LabNode, PBX_NODES, type PbxNode, REPO_ROOT, VIPS, voipAddress } from './layout';
import { parsePing, type PingerResult } from './pinger';
import { type RunOptions, type RunResult, pollUntil, processAlive, quote, run, sleep, tail } from './run';

export interface Address {
  ifname: string;
  local: string;
  prefixlen: number;
  family: string;
  /** e.g. 'global', 'host' */
  scope: string;
}

/** One entry of `ip -json route`: dst is 'default' or 'a.b.c.d/n' (or a bare host address). */
export interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  protocol?: string;
  scope?: string;
  flags?: string[];
  [key: string]: unknown;
}

export interface Link {
  ifname: string;
  flags: string[];
  operstate: string;
  address: string;
  mtu: number;
  [key: string]: unknown;
}

export interface Pinger {
  stop(): Promise<PingerResult>;
}

export interface Capture {
  /** Stops tcpdump and returns its text output (one packet per line). */
  stop(): Promise<string>;
}

export interface LabOptions {
  /** Namespace prefix (PBX_LAB_PREFIX). Default: inherited from the environment, else 'pbxlab'. */
  prefix?: string;
  /** Lab directory (PBX_LAB_DIR). Default: inherited from the environment, else /tmp/pbx-ha-lab. */
  dir?: string;
}

/** Environment variables understood by `scripts/lab up`. */
export interface UpEnv {
  /** Copy this file as each node's pbx-ha.conf instead of the built-in lab configuration. */
  PBX_LAB_CONFIG?: string;
  /** [health] interval of the built-in configuration, e.g. '500ms' (default 1s). */
  PBX_LAB_INTERVAL?: string;
  PBX_LAB_FALL?: string;
  PBX_LAB_RISE?: string;
  [key: string]: string | undefined;
}

export interface StartOptions {
  /** Program to run instead of `<repo>/bin/pbx-ha agent` (a stand-in such as 'sleep'). */
  agent?: string;
  env?: NodeJS.ProcessEnv;
}

/** A process that runs in a node until stop(), its output collected. */
interface Watched {
  child: ChildProcess;
  stdout(): string;
  /** SIGINT (SIGKILL 3 s later if still there); resolves once it exited. */
  stop(): Promise<void>;
}

/** Can the lab run on this machine? (root, `ip netns`, unshare). */
export function labAvailability(): { ok: boolean; reason: string } {
  if (process.platform !== 'linux')
    return { ok: false, reason: `platform is ${process.platform}, not linux` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'the network lab needs root (network namespaces, bind mounts)' };
  }
  for (const [cmd, args] of [
    ['ip', ['netns', 'list']],
    ['unshare', ['--version']],
    ['ping', ['-V']],
    ['tcpdump', ['--version']],
  ] as const) {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
    if (r.error || r.status !== 0) {
      return {
        ok: false,
        reason: `\`${cmd} ${args.join(' ')}\` does not work here (${r.error?.message ?? `exit ${r.status}`})`,
      };
    }
  }
  if (!existsSync(LAB_SCRIPT)) return { ok: false, reason: `${LAB_SCRIPT} is missing` };
  return { ok: true, reason: '' };
}

/**
 * If the lab cannot run here: throws when process.env.CI is set (a lab test must never silently
 * pass in CI), otherwise marks the test skipped with a loud message. Returns whether to go on.
 */
export function requireLab(t: TestContext): boolean {
  const { ok, reason } = labAvailability();
  if (ok) return true;
  const msg = `NETWORK LAB UNAVAILABLE: ${reason}`;
  if (process.env.CI) throw new Error(`${msg} (CI is set, so this is a failure, not a skip)`);
  process.stderr.write(`\n*** ${msg} — skipping "${t.name}" (set CI=1 to make this a failure) ***\n\n`);
  t.skip(msg);
  return false;
}

/**
 * Brings the lab up, runs fn, and always tears the lab down. On failure, the tail of each node's
 * agent.log is reported as a test diagnostic before the teardown.
 */
export async function withLab<T>(
  t: TestContext,
  fn: (lab: Lab) => Promise<T>,
  opts: LabOptions & { env?: UpEnv } = {},
): Promise<T | undefined> {
  if (!requireLab(t)) return undefined;
  const lab = new Lab(opts);
  try {
    await lab.up(opts.env);
    return await fn(lab);
  } catch (e) {
    for (const node of PBX_NODES) {
      const log = await lab.agentLog(node).catch(() => '');
      if (log.trim()) t.diagnostic(`${node} agent.log (tail):\n${tail(log, 40)}`);
    }
    throw e;
  } finally {
    await lab.down();
  }
}

export class Lab {
  readonly prefix: string;
  readonly dir: string;
  readonly script = LAB_SCRIPT;
  readonly repoRoot = REPO_ROOT;

  constructor(opts: LabOptions = {}) {
    this.prefix = opts.prefix ?? process.env.PBX_LAB_PREFIX ?? 'pbxlab';
    this.dir = opts.dir ?? process.env.PBX_LAB_DIR ?? '/tmp/pbx-ha-lab';
  }

  /** Namespace name of a node (or 'sw'). */
  namespace(node: LabNode | 'sw'): string {
    return `${this.prefix}-${node}`;
  }

  /** The environment that makes scripts/lab act on this lab. */
  labEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return { PBX_LAB_PREFIX: this.prefix, PBX_LAB_DIR: this.dir, ...extra };
  }

  /** Runs `scripts/lab ARGS...`. */
  lab(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run([this.script, ...args], { ...opts, env: this.labEnv(opts.env) });
  }

  // ----- lifecycle ---------------------------------------------------------------------------

  /** Builds the lab (tearing down any leftover first) and writes each node's pbx-ha.conf. */
  async up(env: UpEnv = {}): Promise<void> {
    await this.lab(['up'], { env, timeoutMs: 60_000 });
  }

  /** Kills everything in the lab, deletes its namespaces, mount points and directory. Idempotent. */
  async down(): Promise<void> {
    await this.lab(['down'], { timeoutMs: 60_000 });
  }

  /** Text of `scripts/lab status`. */
  async status(): Promise<string> {
    return (await this.lab(['status'])).stdout;
  }

  // ----- running things in nodes -------------------------------------------------------------

  /**
   * Runs argv inside a node as on a real PBX (its netns, hostname, private directories).
   * Throws on a non-zero exit unless allowFail.
   */
  exec(node: LabNode, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.lab(['exec', node, ...argv], opts);
  }

  /**
   * Starts a long-running command in a node and returns the child process (its pid is the
   * command's own pid: every step of `scripts/lab exec` execs). The caller must end it; `down()`
   * kills it anyway.
   */
  spawnIn(node: LabNode, argv: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    return spawn(this.script, ['exec', node, ...argv], {
      env: { ...process.env, ...this.labEnv(env) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Starts the agent (`bin/pbx-ha agent ARGS`, or opts.agent) in the background; returns its pid. */
  async start(node: PbxNode, args: readonly string[] = [], opts: StartOptions = {}): Promise<number> {
    const env = { ...opts.env, ...(opts.agent ? { PBX_LAB_AGENT: opts.agent } : {}) };
    const r = await this.lab(['start', node, ...args], { env });
    return Number.parseInt(r.stdout.trim(), 10);
  }

  /** Signals the agent (default TERM) and waits up to 10 s for it to exit. */
  async stop(node: PbxNode, signal: NodeJS.Signals | string = 'TERM'): Promise<void> {
    await this.lab(['stop', node, signal.replace(/^SIG/, '')], { timeoutMs: 15_000 });
  }

  /** Pid of the running agent, or null. */
  async agentPid(node: PbxNode): Promise<number | null> {
    const text = await fsp.readFile(path.join(this.nodeDir(node), 'agent.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : null;
  }

  /** Pids of the processes in a node's network namespace. */
  async pids(node: LabNode): Promise<number[]> {
    const r = await this.lab(['pids', node]);
    return r.stdout
      .split('\n')
      .map((l) => Number.parseInt(l.trim().split(/\s+/)[0], 10))
      .filter((n) => Number.isInteger(n));
  }

  // ----- cables --------------------------------------------------------------------------------

  /** Pulls the cable(s) of a node at the switch: the node sees NO-CARRIER. Default: all interfaces. */
  async cut(node: LabNode, iface?: string): Promise<void> {
    await this.lab(['cut', node, ...(iface ? [iface] : [])]);
  }

  /** Plugs the cable(s) back in. */
  async restore(node: LabNode, iface?: string): Promise<void> {
    await this.lab(['restore', node, ...(iface ? [iface] : [])]);
  }

  // ----- files ---------------------------------------------------------------------------------

  /** Backing directory of a node: its private /etc/pbx-ha is nodeDir(node) + '/etc/pbx-ha', etc. */
  nodeDir(node: LabNode): string {
    return path.join(this.dir, node);
  }

  /** Path (in the root filesystem) of the node's /etc/pbx-ha/pbx-ha.conf. */
  configPath(node: PbxNode): string {
    return path.join(this.nodeDir(node), 'etc', 'pbx-ha', 'pbx-ha.conf');
  }

  /** Path (in the root filesystem) of what the node sees as `nodePath` (e.g. '/var/lib/pbx-ha/x'). */
  hostPath(node: PbxNode, nodePath: string): string {
    return path.join(this.nodeDir(node), nodePath);
  }

  async readConfig(node: PbxNode): Promise<string> {
    return fsp.readFile(this.configPath(node), 'utf8');
  }

  /** Replaces the node's pbx-ha.conf (atomically, so a running agent never reads half a file). */
  async writeConfig(node: PbxNode, text: string): Promise<void> {
    const file = this.configPath(node);
    const tmp = `${file}.tmp-${process.pid}`;
    await fsp.writeFile(tmp, text);
    await fsp.rename(tmp, file);
  }

  /** Text of the node's agent.log ('' if none). */
  async agentLog(node: PbxNode): Promise<string> {
    return fsp.readFile(path.join(this.nodeDir(node), 'agent.log'), 'utf8').catch(() => '');
  }

  /** What lab-fake-service last recorded: 'running', 'stopped', or null if never called. */
  async fakeServiceState(node: PbxNode): Promise<string | null> {
    const text = await fsp.readFile(this.hostPath(node, '/run/fake-pbx/state'), 'utf8').catch(() => null);
    return text === null ? null : text.trim();
  }

  /** Lines of the node's /run/fake-pbx/notify.log: "<timestamp> EVENT NODE STATE ROLE". */
  async notifyLog(node: PbxNode): Promise<string[]> {
    return this.readLines(this.hostPath(node, '/run/fake-pbx/notify.log'));
  }

  /** Lines of the node's /run/fake-pbx/calls.log: "<timestamp> ARGS...". */
  async fakeServiceCalls(node: PbxNode): Promise<string[]> {
    return this.readLines(this.hostPath(node, '/run/fake-pbx/calls.log'));
  }

  private async readLines(file: string): Promise<string[]> {
    const text = await fsp.readFile(file, 'utf8').catch(() => '');
    return text.split('\n').filter((l) => l.length > 0);
  }

  // ----- network state -------------------------------------------------------------------------

  /** `ip -json ARGS` in a node, parsed. */
  async ipJson<T>(node: LabNode, args: readonly string[]): Promise<T[]> {
    const r = await this.exec(node, ['ip', '-json', ...args], { timeoutMs: 10_000 });
    const text = r.stdout.trim();
    return text ? (JSON.parse(text) as T[]) : [];
  }

  /** IPv4 addresses of a node (all interfaces, lo included), from `ip -json addr`. */
  async addresses(node: LabNode): Promise<Address[]> {
    type Raw = {
      ifname: string;
      addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
    };
    const raw = await this.ipJson<Raw>(node, ['addr']);
    return raw.flatMap((l) =>
      (l.addr_info ?? [])
        .filter((a) => a.family === 'inet')
        .map((a) => ({
          ifname: l.ifname,
          local: a.local,
          prefixlen: a.prefixlen,
          family: a.family,
          scope: a.scope,
        })),
    );
  }

  /** Routes of the main table, from `ip -json route`. */
  async routes(node: LabNode): Promise<Route[]> {
    return this.ipJson<Route>(node, ['route']);
  }

  /** Links of a node, from `ip -json link` (flags include 'NO-CARRIER' when the cable is cut). */
  async links(node: LabNode): Promise<Link[]> {
    return this.ipJson<Link>(node, ['link']);
  }

  async link(node: LabNode, iface: string): Promise<Link> {
    const [l] = await this.ipJson<Link>(node, ['link', 'show', 'dev', iface]);
    if (!l) throw new Error(`${node} has no interface ${iface}`);
    return l;
  }

  /** Has the interface carrier (cable plugged in, link up)? */
  async hasCarrier(node: LabNode, iface: string): Promise<boolean> {
    const l = await this.link(node, iface);
    return l.flags.includes('LOWER_UP') && !l.flags.includes('NO-CARRIER');
  }

  /**
   * IPv4 addresses of a node, read with `ip -n NS` from the root mount namespace: one fast
   * command, fast enough for samplers that watch a handover.
   */
  async ipv4(node: LabNode): Promise<string[]> {
    type Raw = { addr_info?: { family: string; local: string }[] };
    const r = await run(['ip', '-n', this.namespace(node), '-4', '-json', 'addr', 'show'], {
      timeoutMs: 10_000,
    });
    const raw = (r.stdout.trim() ? JSON.parse(r.stdout) : []) as Raw[];
    return raw.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local));
  }

  /** Which of pbx1/pbx2 currently hold an address ('192.0.2.10' or '192.0.2.10/24'). */
  async holders(address: string): Promise<PbxNode[]> {
    const ip = address.split('/')[0];
    const held = await Promise.all(
      PBX_NODES.map(async (node) => ((await this.ipv4(node)).includes(ip) ? [node] : [])),
    );
    return held.flat();
  }

  /** The VIPs of the lab's layout that a node holds now. */
  async vipsHeld(node: PbxNode): Promise<string[]> {
    const mine = await this.ipv4(node);
    return VIPS.filter((v) => mine.includes(v.address)).map((v) => v.address);
  }

  /** MAC address of a node's interface. */
  async nodeMac(node: LabNode, iface: string): Promise<string> {
    return (await this.link(node, iface)).address;
  }

  /** MAC address a node's neighbour table has for ip on dev (null if no usable entry: absent, FAILED, INCOMPLETE). */
  async arpMac(node: LabNode, ip: string, dev = 'eth0'): Promise<string | null> {
    type Neigh = { dst: string; lladdr?: string; state?: string[] };
    const entries = await this.ipJson<Neigh>(node, ['neigh', 'show', 'to', ip, 'dev', dev]);
    return entries.find((n) => n.dst === ip && n.lladdr)?.lladdr ?? null;
  }

  /** MAC address the phone's ARP cache has for ip (null if no usable entry). */
  async phoneArpMac(ip: string): Promise<string | null> {
    return this.arpMac('phone', ip, 'eth0');
  }

  /** Forgets the phone's ARP entry for ip (so the next packet resolves it again). */
  async flushPhoneArp(ip?: string): Promise<void> {
    await this.exec('phone', ['ip', 'neigh', 'flush', 'dev', 'eth0', ...(ip ? ['to', ip] : [])]);
  }

  // ----- traffic -------------------------------------------------------------------------------

  /** One ping from the phone; true if answered within timeoutMs. */
  async phonePingOnce(ip: string, timeoutMs = 1000): Promise<boolean> {
    return this.pingOnce('phone', ip, timeoutMs);
  }

  /** One ping from any node; true if answered within timeoutMs. */
  async pingOnce(node: LabNode, ip: string, timeoutMs = 1000): Promise<boolean> {
    const r = await this.exec(
      node,
      ['ping', '-n', '-q', '-c', '1', '-W', (timeoutMs / 1000).toFixed(3), ip],
      {
        allowFail: true,
        timeoutMs: timeoutMs + 5000,
      },
    );
    return r.code === 0;
  }

  /**
   * Starts argv in a node and waits until `ready(stdout, stderr)` (or the process exits: then
   * throws with its stderr). The caller must stop() it; `down()` kills it anyway.
   */
  async watch(
    node: LabNode,
    argv: readonly string[],
    desc: string,
    ready: (stdout: string, stderr: string) => boolean,
  ): Promise<Watched> {
    const child = this.spawnIn(node, argv);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    };
    try {
      await this.waitFor(desc, () => ready(stdout, stderr) || child.exitCode !== null, 5000, 10);
    } catch (e) {
      await stop();
      throw e;
    }
    if (child.exitCode !== null) {
      throw new Error(`${quote(argv)} in ${node} exited at once (code ${child.exitCode}): ${tail(stderr)}`);
    }
    return { child, stdout: () => stdout, stop };
  }

  /**
   * Pings ip from the phone every intervalMs (ping -D -O, root allows < 200 ms) until stop().
   * Resolves once ping runs. The result measures the outage: longest gap between replies.
   */
  async startPhonePinger(ip: string, intervalMs = 10): Promise<Pinger> {
    const argv = ['ping', '-n', '-D', '-O', '-i', (intervalMs / 1000).toFixed(3), '-W', '1', ip];
    const startedAt = Date.now();
    // ping prints "PING ip (ip) 56(84) bytes of data." as soon as it runs.
    const ping = await this.watch('phone', argv, `ping ${ip} running in the phone`, (out) =>
      out.includes('PING '),
    );
    return {
      stop: async () => {
        const stoppedAt = Date.now();
        await ping.stop();
        return parsePing(ping.stdout(), startedAt, stoppedAt);
      },
    };
  }

  /**
   * Captures packets on a node's eth0 (tcpdump -n -e -l) until stop(); resolves once tcpdump listens.
   * `filter` is a tcpdump filter expression, passed as one argument.
   */
  async startCapture(node: LabNode = 'phone', filter = 'arp', iface = 'eth0'): Promise<Capture> {
    return this.capture(
      node,
      ['-n', '-e', '-l', '-i', iface],
      filter,
      `tcpdump listening on ${node} ${iface}`,
    );
  }

  /**
   * Like startCapture, with `tcpdump -tt`: each line starts with the packet's time in seconds
   * since the epoch (e.g. "1700000000.123456 aa:bb:… > ff:ff:…"), the clock Date.now() and the
   * agent's ISO log timestamps use, so capture and log times can be subtracted.
   */
  async startTimedCapture(node: LabNode = 'phone', filter = 'arp', iface = 'eth0'): Promise<Capture> {
    return this.capture(
      node,
      ['-tt', '-n', '-e', '-l', '-i', iface],
      filter,
      `tcpdump -tt listening on ${node} ${iface}`,
    );
  }

  private async capture(node: LabNode, options: string[], filter: string, desc: string): Promise<Capture> {
    const argv = ['tcpdump', ...options, ...(filter ? [filter] : [])];
    const tcpdump = await this.watch(node, argv, desc, (_out, err) => err.includes('listening on'));
    return {
      stop: async () => {
        await sleep(50); // let the last packets reach tcpdump
        await tcpdump.stop();
        return tcpdump.stdout();
      },
    };
  }

  // ----- services (scripts/lab sshd | postgres) ------------------------------------------------

  /** Address of a PBX node on the VOIP network, where its sshd and PostgreSQL listen. */
  voipAddress(node: PbxNode): string {
    return voipAddress(node);
  }

  /**
   * Starts OpenSSH's sshd in the node (listening on its VOIP address, port 22; root may log in
   * with a key from the node's /root/.ssh/authorized_keys, never with a password); returns its pid.
   * The host key is made once per lab: hostKeyFingerprint(). A no-op if it already runs.
   */
  async startSshd(node: PbxNode): Promise<number> {
    const r = await this.lab(['sshd', node], { timeoutMs: 30_000 });
    return Number.parseInt(r.stdout.trim(), 10);
  }

  /**
   * Starts a PostgreSQL cluster in the node (made once per lab in nodeDir/pgdata, trust
   * authentication, run as the postgres system user), listening on the node's VOIP address and
   * on the socket directory /run/postgresql, port 5432; waits until it accepts connections and
   * creates the database `asterisk`. Returns the postmaster's pid. A no-op if it already runs.
   */
  async startPostgres(node: PbxNode): Promise<number> {
    const r = await this.lab(['postgres', node], { timeoutMs: 90_000 });
    return Number.parseInt(r.stdout.trim(), 10);
  }

  /**
   * Runs SQL with psql inside the node (as user postgres over /run/postgresql, unaligned,
   * tuples only, stops at the first error) and returns its output without the final newline.
   */
  async psql(node: PbxNode, sql: string, db = 'asterisk'): Promise<string> {
    const r = await this.exec(
      node,
      [
        'psql',
        '-X',
        '-A',
        '-t',
        '-h',
        '/run/postgresql',
        '-U',
        'postgres',
        '-d',
        db,
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        sql,
      ],
      { timeoutMs: 30_000 },
    );
    return r.stdout.replace(/\n$/, '');
  }

  /** Path (in the root filesystem) of the node's sshd host key (the `.pub` next to it is public). */
  hostKeyPath(node: PbxNode): string {
    return path.join(this.nodeDir(node), 'etc-ssh', 'ssh_host_ed25519_key');
  }

  /** Fingerprint (`SHA256:…`, as ssh-keygen -l shows it) of the node's sshd host key. */
  async hostKeyFingerprint(node: PbxNode): Promise<string> {
    const line = await fsp.readFile(`${this.hostKeyPath(node)}.pub`, 'utf8');
    const [type, base64] = line.trim().split(/\s+/);
    if (type !== 'ssh-ed25519' || !base64)
      throw new Error(`${this.hostKeyPath(node)}.pub: not an ed25519 public key`);
    return fingerprint(Buffer.from(base64, 'base64'));
  }

  // ----- waiting -------------------------------------------------------------------------------

  /**
   * Polls fn every pollMs until it returns a truthy value other than an empty array (so that
   * `waitFor('a holder', () => lab.holders(vip), ...)` waits for someone), and returns it. An error
   * thrown by fn counts as "not yet". On timeout throws an error naming desc and the last value
   * (or the last error fn threw).
   */
  waitFor<T>(desc: string, fn: () => Promise<T> | T, timeoutMs: number, pollMs = 100): Promise<T> {
    return pollUntil(desc, fn, timeoutMs, pollMs);
  }
}
