// Two real Agents on one FakeClock and one FakeLan: the pair of BEHAVIOR.md in memory.
// Each node gets its own fakes (net, prober, ARP, command runner, logger) and a fake link
// monitor that asks its agent to re-read on every carrier or address change, as
// `ip monitor` does for the real agent.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PbxHaConfig } from '../../src/config';
import { Agent, identityFor, type AgentDeps } from '../../src/agent/agent';
import { buildNode, type NodeParts } from '../../src/agent/daemon';
import { FakeClock, flushPromises } from './clock';
import { baseAddresses, nodeOf, pairConfig, vipOf } from './config';
import { FakeArp, FakeLan, FakeNet, FakeProber } from './lan';
import { RecordingLogger } from './logger';
import { FakePeerLink } from './peer-link';
import { RecordingRunner } from './runner';

export interface WorldNode {
  name: string;
  agent: Agent;
  net: FakeNet;
  prober: FakeProber;
  arp: FakeArp;
  runner: RecordingRunner;
  log: RecordingLogger;
  stopMonitor: () => void;
  /** With `peerLinks`: every part of the node, as the daemon builds them, and its trusted link. */
  parts?: NodeParts;
  link?: FakePeerLink;
  /** With `peerLinks`: this node's configuration (its replication paths in a directory of its own). */
  config: PbxHaConfig;
}

export interface WorldOptions {
  /**
   * Builds each node as the daemon does (agent/daemon.ts buildNode), replication included, the
   * two joined by FakePeerLinks that get through when the LAN lets a connection through. Without
   * it, an agent alone with no trusted link (its peer requests fail at once).
   */
  peerLinks?: boolean;
}

export class PairWorld {
  readonly clock = new FakeClock(0);
  readonly lan = new FakeLan(this.clock);
  readonly nodes = new Map<string, WorldNode>();
  /** Every instant at which some VIP was configured on two alive nodes at once. */
  readonly violations: string[] = [];
  /** What the test's command runners do; set before `boot`. */
  serviceDelays = { start: 2000, stop: 500 };

  /** With `peerLinks`: each node's replication directories, removed by `shutdown`. */
  readonly dir: string | null;
  /** With `peerLinks`: facts each node keeps across restarts (state.db). */
  private facts = new Map<string, Map<string, string>>();

  constructor(
    readonly config: PbxHaConfig = pairConfig(),
    options: WorldOptions = {},
  ) {
    this.dir = options.peerLinks ? mkdtempSync(path.join(tmpdir(), 'pbx-ha-world-')) : null;
    for (const n of config.nodes) {
      this.lan.addNode(n.name, baseAddresses(config, n.name));
      // Checked at every change of addresses, not only when the test samples.
      this.lan.onChange(n.name, () => this.checkOneHolder());
    }
  }

  /** Starts the agent of `name` (a fresh process, with fresh fakes); `peer`: its trusted link's hooks. */
  async boot(name: string, peer?: AgentDeps['peer']): Promise<WorldNode> {
    const net = this.lan.net(name);
    const prober = new FakeProber(this.lan, name);
    const arp = new FakeArp(this.lan, name);
    const runner = new RecordingRunner(this.clock);
    const [program] = this.config.services.start?.argv ?? ['/none'];
    runner.on([program, 'start'], { delayMs: this.serviceDelays.start });
    runner.on([program, 'stop'], { delayMs: this.serviceDelays.stop });
    const log = new RecordingLogger();
    let node: WorldNode;
    if (this.dir) {
      const config = this.nodeConfig(name);
      const facts = this.facts.get(name) ?? new Map<string, string>();
      this.facts.set(name, facts);
      const peerName = name === config.master ? config.slave : config.master;
      const peerAddress = nodeOf(config, peerName).address;
      const link = new FakePeerLink(() => {
        const far = this.nodes.get(peerName);
        if (!far?.parts || !this.lan.reaches(name, peerAddress)) return null;
        return {
          handle: (req) => far.parts!.receiver.handle(req),
          exchangeDir: far.config.replication.exchangeDir,
        };
      });
      const parts = buildNode(() => config, nodeOf(config, name), {
        clock: this.clock,
        log,
        net,
        prober,
        arp,
        run: runner.run,
        facts: { fact: (k) => facts.get(k) ?? null, setFact: (k, v) => void facts.set(k, v) },
        link: () => link,
      });
      const stopMonitor = this.lan.onChange(name, () => parts.agent.requestRead());
      node = { name, agent: parts.agent, net, prober, arp, runner, log, stopMonitor, parts, link, config };
    } else {
      const agent = new Agent(this.config, identityFor(this.config, nodeOf(this.config, name)), {
        clock: this.clock,
        log,
        net,
        prober,
        arp,
        run: runner.run,
        peer,
      });
      const stopMonitor = this.lan.onChange(name, () => agent.requestRead());
      node = { name, agent, net, prober, arp, runner, log, stopMonitor, config: this.config };
    }
    const agent = node.agent;
    this.nodes.set(name, node);
    await agent.start();
    await flushPromises();
    return node;
  }

  /** The pair's configuration with `name`'s replication paths under the world's directory. */
  private nodeConfig(name: string): PbxHaConfig {
    const dir = path.join(this.dir!, name);
    const r = this.config.replication;
    const config: PbxHaConfig = {
      ...this.config,
      replication: {
        ...r,
        exchangeDir: path.join(dir, 'exchange'),
        backupDir: path.join(dir, 'backup'),
        astdb: { ...r.astdb, path: path.join(dir, 'astdb', 'astdb.sqlite3') },
      },
      // The receiver's own work files (staged copies, exports) go under the state directory.
      agent: { ...this.config.agent, stateDir: path.join(dir, 'state') },
    };
    mkdirSync(path.dirname(config.replication.astdb.path), { recursive: true });
    return config;
  }

  node(name: string): WorldNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`node ${name} was not booted`);
    return n;
  }

  state(name: string): string {
    return this.node(name).agent.status().state;
  }

  /** Alive nodes that have the VIP configured. */
  holders(vip: string): string[] {
    return this.lan.holders(vipOf(this.config, vip).address);
  }

  /** The one node holding every VIP, or null when no single node holds them all. */
  soleHolder(): string | null {
    const sets = this.config.vips.map((v) => this.holders(v.name));
    const first = sets[0];
    if (first.length !== 1) return null;
    return sets.every((s) => s.length === 1 && s[0] === first[0]) ? first[0] : null;
  }

  /** Power failure: the node stops answering and its agent is gone (without releasing anything). */
  async crash(name: string): Promise<void> {
    const n = this.node(name);
    this.lan.setAlive(name, false);
    n.stopMonitor();
    n.parts?.runner.stop();
    let stopped = false;
    void n.agent.stop(false).then(() => (stopped = true));
    // "At once" on the fake clock: nothing it waits for may need simulated time. Real file work
    // already under way (a copy's base being recorded) may end first, in real time (2 s at most).
    for (let waited = 0; !stopped && waited < 2000; waited += 20) {
      await flushPromises();
      if (!stopped) await new Promise<void>((resolve) => setTimeout(resolve, 20));
    }
    if (!stopped) throw new Error(`the agent of ${name} did not stop at once`);
    this.nodes.delete(name);
  }

  /** Power back: the node boots with its fixed addresses only, and its agent starts. */
  async reboot(name: string, peer?: AgentDeps['peer']): Promise<WorldNode> {
    this.lan.net(name).reboot();
    this.lan.setAlive(name, true);
    return this.boot(name, peer);
  }

  /** Advances in `stepMs` steps for `ms`, checking the one-holder rule after each step. */
  async run(ms: number, stepMs = 50, check?: () => void): Promise<void> {
    const end = this.clock.nowMs() + ms;
    while (this.clock.nowMs() < end) {
      await this.clock.advance(Math.min(stepMs, end - this.clock.nowMs()));
      this.checkOneHolder();
      check?.();
    }
  }

  /** Advances in `stepMs` steps until `done()`; returns the time it first held. */
  async runUntil(done: () => boolean, limitMs: number, stepMs = 10, check?: () => void): Promise<number> {
    return this.clock.advanceUntil(done, limitMs, stepMs, () => {
      this.checkOneHolder();
      check?.();
    });
  }

  /** Stops every agent still running (end of a test). */
  async shutdown(): Promise<void> {
    const nodes = [...this.nodes.values()];
    for (const n of nodes) n.stopMonitor();
    // Every agent is told first (`stop` marks it stopping at once), then time passes.
    const stopping = Promise.all(nodes.map((n) => n.agent.stop(true)));
    await this.clock.advance(60_000);
    await stopping;
    for (const n of nodes) n.parts?.runner.stop();
    this.nodes.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private checkOneHolder(): void {
    for (const v of this.config.vips) {
      const h = this.holders(v.name);
      if (h.length > 1)
        this.violations.push(`${this.clock.nowMs()} ms: ${v.name} held by ${h.join(' and ')}`);
    }
  }
}
