// From scanned INI sections to a validated PbxHaConfig, collecting every problem at once.
//
//   validateConfig(scan: IniScan, file: string): ConfigResult
//   type ConfigResult = { ok: true; config: PbxHaConfig } | { ok: false; problems: ConfigProblem[] }
//
// Problems come back sorted by line (problems without a line, such as a missing section, last), so
// the administrator fixes the file top to bottom. A configuration is returned only when there is no
// problem at all: the agent must never run on a half-understood file (keepalived's --config-test).
//
// Each kind of section has a module of its own (validate-*.ts: its keys and its reader); SECTIONS
// below lists them in the order they are read, each reading what the sections before it gave
// (a VIP's address is checked against the nodes', [health] track against both). The checks that
// need every section read come last (CROSS_CHECKS).

import type { IniScan, IniSection } from './ini-scan';
import { isHostName } from './host-name';
import { SectionReader } from './read-values';
import { AGENT_KEYS, readAgent } from './validate-agent';
import { checkNodesNamed, CLUSTER_KEYS, NODE_KEYS, readCluster, readNode } from './validate-cluster';
import { NOTIFY_KEYS, readNotify, readServices, SERVICES_KEYS } from './validate-commands';
import { FAILOVER_KEYS, readFailover } from './validate-failover';
import { GARP_KEYS, readGarp } from './validate-garp';
import { HEALTH_KEYS, readHealth } from './validate-health';
import { METRICS_KEYS, readMetrics } from './validate-metrics';
import { readReplication, REPLICATION_KEYS } from './validate-replication';
import { readTrackCheck, TRACK_KEYS, TRACK_NAME, TRACK_NAME_EXPECTED } from './validate-track';
import { readVip, VIP_KEYS, VIP_NAME } from './validate-vip';
import { closestName } from './suggest';
import type { ConfigProblem, NodeConfig, PbxHaConfig, TrackCheckConfig, VipConfig } from './types';

export type ConfigResult = { ok: true; config: PbxHaConfig } | { ok: false; problems: ConfigProblem[] };

const FIXED_SECTIONS = [
  'cluster',
  'health',
  'failover',
  'garp',
  'services',
  'notify',
  'agent',
  'metrics',
  'replication',
  'sync.files',
  'sync.db',
  'sync.astdb',
] as const;
type FixedSection = (typeof FIXED_SECTIONS)[number];
const NAMED_SECTIONS = ['node', 'vip', 'track'] as const;
type NamedSection = (typeof NAMED_SECTIONS)[number];
const SYNC_JOBS = ['files', 'db', 'astdb'] as const;
const ALL_SECTIONS =
  '[cluster], [node.NAME], [vip.NAME], [health], [track.NAME], [failover], [garp], [services], [notify], [agent], [metrics], ' +
  '[replication], [sync.files], [sync.db], [sync.astdb]';

const KNOWN_KEYS: Readonly<Record<FixedSection | NamedSection, readonly string[]>> = {
  cluster: CLUSTER_KEYS,
  node: NODE_KEYS,
  vip: VIP_KEYS,
  track: TRACK_KEYS,
  failover: FAILOVER_KEYS,
  metrics: METRICS_KEYS,
  health: HEALTH_KEYS,
  garp: GARP_KEYS,
  services: SERVICES_KEYS,
  notify: NOTIFY_KEYS,
  agent: AGENT_KEYS,
  ...REPLICATION_KEYS,
};

export { isHostName };

/** The configuration as the sections read so far gave it (a part is null when it was refused). */
interface PairSoFar {
  nodes: NodeConfig[];
  master: string | null;
  slave: string | null;
  vips: VipConfig[];
  /** Each routed destination's [vip.NAME]: a destination is routed once across all VIPs. */
  routeOwners: Map<string, string>;
  health: PbxHaConfig['health'] | null;
  checks: TrackCheckConfig[];
  failover: PbxHaConfig['failover'] | null;
  garp: PbxHaConfig['garp'] | null;
  services: PbxHaConfig['services'] | null;
  notify: PbxHaConfig['notify'] | null;
  agent: PbxHaConfig['agent'] | null;
  /** [agent]'s reader and state_dir, for [replication]'s checks of the paths around it. */
  agentReader: SectionReader | null;
  stateDir: string | null;
  replication: PbxHaConfig['replication'] | null;
  metrics: PbxHaConfig['metrics'] | null;
}

function emptyPair(): PairSoFar {
  return {
    nodes: [],
    master: null,
    slave: null,
    vips: [],
    routeOwners: new Map(),
    health: null,
    checks: [],
    failover: null,
    garp: null,
    services: null,
    notify: null,
    agent: null,
    agentReader: null,
    stateDir: null,
    replication: null,
    metrics: null,
  };
}

/** One kind of section: its module's reader, and what is expected when a required one is absent. */
type SectionModule =
  | {
      kind: FixedSection | NamedSection;
      required?: string;
      read(r: SectionReader, pair: PairSoFar, name: string): void;
    }
  /** [replication] and the [sync.*] sections are read together (validate-replication.ts). */
  | { kind: 'replication' };

const isNamed = (kind: string): kind is NamedSection => (NAMED_SECTIONS as readonly string[]).includes(kind);

/** Every kind of section, in the order they are read (each may use what those before it gave). */
const SECTIONS: readonly SectionModule[] = [
  { kind: 'node', read: (r, pair, name) => void pair.nodes.push(readNode(r, name, pair.nodes)) },
  {
    kind: 'cluster',
    required: 'a [cluster] section naming the master and the slave node',
    read: (r, pair) => Object.assign(pair, readCluster(r, pair.nodes)),
  },
  {
    kind: 'vip',
    required: 'at least one [vip.NAME] section, such as [vip.voip] with address and interface',
    read: (r, pair, name) => void pair.vips.push(readVip(r, name, pair.nodes, pair.vips, pair.routeOwners)),
  },
  { kind: 'health', read: (r, pair) => (pair.health = readHealth(r, pair.nodes, pair.vips)) },
  {
    kind: 'track',
    read: (r, pair) => {
      const check = readTrackCheck(r);
      if (check !== null) pair.checks.push(check);
    },
  },
  { kind: 'failover', read: (r, pair) => (pair.failover = readFailover(r)) },
  { kind: 'garp', read: (r, pair) => (pair.garp = readGarp(r)) },
  { kind: 'services', read: (r, pair) => (pair.services = readServices(r)) },
  { kind: 'notify', read: (r, pair) => (pair.notify = readNotify(r)) },
  {
    kind: 'agent',
    read: (r, pair) => {
      const agent = readAgent(r);
      pair.agent = agent.config;
      pair.agentReader = r;
      pair.stateDir = agent.stateDir;
    },
  },
  { kind: 'replication' },
  { kind: 'metrics', read: (r, pair) => (pair.metrics = readMetrics(r)) },
];

/** Checks that need every section read. */
const CROSS_CHECKS: readonly ((
  pair: PairSoFar,
  c: { file: string; named: Record<NamedSection, IniSection[]>; problems: ConfigProblem[] },
) => void)[] = [
  // Exactly the two nodes [cluster] names.
  (pair, c) => {
    if (pair.master !== null && pair.slave !== null)
      checkNodesNamed(c.file, c.named.node, pair.master, pair.slave, c.problems);
  },
];

export function validateConfig(scan: IniScan, file: string): ConfigResult {
  const problems: ConfigProblem[] = [...scan.problems];
  if (!scan.hasContent) {
    return {
      ok: false,
      problems: [
        {
          file,
          section: null,
          key: null,
          value: null,
          problem: 'the file is empty (only blank lines and comments)',
          expected: 'at least [cluster], two [node.NAME] sections and one [vip.NAME] section',
        },
      ],
    };
  }

  // Sort the sections by kind; a section with a bad name is reported and its keys are not checked.
  const fixed = new Map<FixedSection, IniSection>();
  const named: Record<NamedSection, IniSection[]> = { node: [], vip: [], track: [] };
  for (const section of scan.sections) {
    const dot = section.name.indexOf('.');
    const kind = dot < 0 ? section.name : section.name.slice(0, dot);
    const suffix = dot < 0 ? null : section.name.slice(dot + 1);
    const sectionProblem = (problem: string, expected: string): void => {
      problems.push({
        file,
        line: section.line,
        section: section.name,
        key: null,
        value: null,
        problem,
        expected,
      });
    };
    if ((FIXED_SECTIONS as readonly string[]).includes(section.name)) {
      fixed.set(section.name as FixedSection, section);
    } else if ((FIXED_SECTIONS as readonly string[]).includes(kind)) {
      sectionProblem(`[${kind}] takes no name`, `[${kind}]`);
    } else if (kind === 'sync') {
      const guess = suffix === null ? null : closestName(suffix, SYNC_JOBS);
      sectionProblem(
        suffix === null
          ? '[sync] needs the name of a job'
          : guess === null
            ? 'unknown sync job'
            : `unknown sync job (did you mean [sync.${guess}]?)`,
        'one of [sync.files], [sync.db], [sync.astdb]',
      );
    } else if (kind === 'node') {
      if (suffix !== null && isHostName(suffix)) named.node.push(section);
      else
        sectionProblem(
          'bad node name',
          '[node.NAME] where NAME is the node\'s host name (letters, digits, inner "-"), such as [node.pbx1]',
        );
    } else if (kind === 'vip') {
      if (suffix !== null && VIP_NAME.test(suffix)) named.vip.push(section);
      else
        sectionProblem(
          'bad VIP name',
          '[vip.NAME] where NAME is 1-32 letters, digits, "_" or "-", such as [vip.voip]',
        );
    } else if (kind === 'track') {
      if (suffix !== null && TRACK_NAME.test(suffix)) named.track.push(section);
      else
        sectionProblem(
          suffix === null ? '[track] needs the name of a check' : 'bad check name',
          TRACK_NAME_EXPECTED,
        );
    } else {
      // The whole name first (`[sync_files]` -> [sync.files]), then its kind (`[nodes.pbx3]` -> [node.pbx3]).
      const whole = closestName(section.name, FIXED_SECTIONS);
      const guess = closestName(kind, [
        ...FIXED_SECTIONS.filter((name) => !name.includes('.')),
        ...NAMED_SECTIONS,
        'sync',
      ]);
      // A named kind without a name (`[tracks]`) is offered with NAME: `[track]` alone is refused too.
      const named = (NAMED_SECTIONS as readonly string[]).includes(guess ?? '');
      const spelt =
        whole !== null
          ? `[${whole}]`
          : guess === null
            ? null
            : suffix === null
              ? named
                ? `[${guess}.NAME]`
                : `[${guess}]`
              : `[${guess}.${suffix}]`;
      sectionProblem(
        spelt === null ? 'unknown section' : `unknown section (did you mean ${spelt}?)`,
        `one of ${ALL_SECTIONS}`,
      );
    }
  }

  const reader = (kind: FixedSection): SectionReader => {
    // An absent optional section reads as an empty one, so every key takes its default.
    const section = fixed.get(kind) ?? { name: kind, line: 0, entries: [] };
    const r = new SectionReader(file, section, problems);
    r.checkKeys(KNOWN_KEYS[kind]);
    return r;
  };
  const missingSection = (section: string, expected: string): void => {
    problems.push({ file, section, key: null, value: null, problem: 'missing section', expected });
  };

  const pair = emptyPair();
  for (const module of SECTIONS) {
    if (module.kind === 'replication') {
      pair.replication = readReplication(reader, { reader: pair.agentReader!, stateDir: pair.stateDir });
    } else if (isNamed(module.kind)) {
      for (const section of named[module.kind]) {
        const r = new SectionReader(file, section, problems);
        r.checkKeys(KNOWN_KEYS[module.kind]);
        module.read(r, pair, section.name.slice(module.kind.length + 1));
      }
      if (module.required && named[module.kind].length === 0)
        missingSection(`${module.kind}.NAME`, module.required);
    } else if (module.required && !fixed.has(module.kind)) {
      missingSection(module.kind, module.required);
    } else {
      module.read(reader(module.kind), pair, module.kind);
    }
  }
  for (const check of CROSS_CHECKS) check(pair, { file, named, problems });

  if (problems.length > 0) {
    // Stable sort: by line, and problems tied to no line (missing sections) at the end.
    const order = (p: ConfigProblem): number => p.line ?? Number.MAX_SAFE_INTEGER;
    return { ok: false, problems: problems.sort((a, b) => order(a) - order(b)) };
  }

  // No problem was recorded, so every reader above returned a value and master/slave resolved.
  return {
    ok: true,
    config: {
      file,
      master: pair.master!,
      slave: pair.slave!,
      nodes: pair.nodes,
      vips: pair.vips,
      health: pair.health!,
      checks: pair.checks,
      failover: pair.failover!,
      garp: pair.garp!,
      services: pair.services!,
      notify: pair.notify!,
      agent: pair.agent!,
      replication: pair.replication!,
      metrics: pair.metrics!,
    },
  };
}
