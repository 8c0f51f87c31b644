// From scanned INI sections to a validated PbxHaConfig, collecting every problem at once.
//
//   validateConfig(scan: IniScan, file: string): ConfigResult
//   type ConfigResult = { ok: true; config: PbxHaConfig } | { ok: false; problems: ConfigProblem[] }
//
// Problems come back sorted by line (problems without a line, such as a missing section, last), so
// the administrator fixes the file top to bottom. A configuration is returned only when there is no
// problem at all: the agent must never run on a half-understood file (keepalived's --config-test).

import { CONFIG_DEFAULTS as D, CONFIG_LIMITS as L } from './defaults';
import { formatDurationMs } from './duration';
import type { IniScan, IniSection } from './ini-scan';
import { isHostName } from './host-name';
import { broadcastAddress, inSubnet, isIpv4, networkAddress, parseCidr } from './ipv4';
import { SectionReader, splitList } from './read-values';
import { FAILOVER_KEYS, readFailover } from './validate-failover';
import { METRICS_KEYS, readMetrics } from './validate-metrics';
import { readReplication, REPLICATION_KEYS } from './validate-replication';
import { readTrackCheck, TRACK_KEYS, TRACK_NAME, TRACK_NAME_EXPECTED } from './validate-track';
import { closestName } from './suggest';
import type { CommandConfig, ConfigProblem, NodeConfig, PbxHaConfig, RouteConfig, TrackCheckConfig, VipConfig } from './types';

export type ConfigResult = { ok: true; config: PbxHaConfig } | { ok: false; problems: ConfigProblem[] };

const FIXED_SECTIONS = [
  'cluster', 'health', 'failover', 'garp', 'services', 'notify', 'agent', 'metrics',
  'replication', 'sync.files', 'sync.db', 'sync.astdb',
] as const;
type FixedSection = (typeof FIXED_SECTIONS)[number];
const NAMED_SECTIONS = ['node', 'vip', 'track'] as const;
const SYNC_JOBS = ['files', 'db', 'astdb'] as const;
const ALL_SECTIONS =
  '[cluster], [node.NAME], [vip.NAME], [health], [track.NAME], [failover], [garp], [services], [notify], [agent], [metrics], ' +
  '[replication], [sync.files], [sync.db], [sync.astdb]';

const KNOWN_KEYS: Readonly<Record<FixedSection | (typeof NAMED_SECTIONS)[number], readonly string[]>> = {
  cluster: ['master', 'slave'],
  node: ['address'],
  vip: ['address', 'interface', 'route'],
  track: TRACK_KEYS,
  failover: FAILOVER_KEYS,
  metrics: METRICS_KEYS,
  health: ['interval', 'fall', 'rise', 'timeout', 'track'],
  garp: ['count', 'interval', 'repeat_after', 'refresh'],
  services: ['start', 'stop', 'timeout'],
  notify: ['script', 'timeout'],
  agent: ['reconcile_interval', 'socket', 'state_dir', 'release_on_stop'],
  ...REPLICATION_KEYS,
};

export { isHostName };

const VIP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Linux accepts 1-15 bytes, not `.` or `..`, without `/`, `:` or blanks (dev_valid_name()). */
function isInterfaceName(text: string): boolean {
  return /^[^/:\s]{1,15}$/.test(text) && text !== '.' && text !== '..' && !/[\0-\x1f\x7f]/.test(text);
}

export function validateConfig(scan: IniScan, file: string): ConfigResult {
  const problems: ConfigProblem[] = [...scan.problems];
  if (!scan.hasContent) {
    return {
      ok: false,
      problems: [{
        file, section: null, key: null, value: null,
        problem: 'the file is empty (only blank lines and comments)',
        expected: 'at least [cluster], two [node.NAME] sections and one [vip.NAME] section',
      }],
    };
  }

  // Sort the sections by kind; a section with a bad name is reported and its keys are not checked.
  const fixed = new Map<FixedSection, IniSection>();
  const nodeSections: IniSection[] = [];
  const vipSections: IniSection[] = [];
  const trackSections: IniSection[] = [];
  for (const section of scan.sections) {
    const dot = section.name.indexOf('.');
    const kind = dot < 0 ? section.name : section.name.slice(0, dot);
    const suffix = dot < 0 ? null : section.name.slice(dot + 1);
    const sectionProblem = (problem: string, expected: string): void => {
      problems.push({ file, line: section.line, section: section.name, key: null, value: null, problem, expected });
    };
    if ((FIXED_SECTIONS as readonly string[]).includes(section.name)) {
      fixed.set(section.name as FixedSection, section);
    } else if ((FIXED_SECTIONS as readonly string[]).includes(kind)) {
      sectionProblem(`[${kind}] takes no name`, `[${kind}]`);
    } else if (kind === 'sync') {
      const guess = suffix === null ? null : closestName(suffix, SYNC_JOBS);
      sectionProblem(
        suffix === null ? '[sync] needs the name of a job' : guess === null ? 'unknown sync job' : `unknown sync job (did you mean [sync.${guess}]?)`,
        'one of [sync.files], [sync.db], [sync.astdb]',
      );
    } else if (kind === 'node') {
      if (suffix !== null && isHostName(suffix)) nodeSections.push(section);
      else sectionProblem('bad node name', '[node.NAME] where NAME is the node\'s host name (letters, digits, inner "-"), such as [node.pbx1]');
    } else if (kind === 'vip') {
      if (suffix !== null && VIP_NAME.test(suffix)) vipSections.push(section);
      else sectionProblem('bad VIP name', '[vip.NAME] where NAME is 1-32 letters, digits, "_" or "-", such as [vip.voip]');
    } else if (kind === 'track') {
      if (suffix !== null && TRACK_NAME.test(suffix)) trackSections.push(section);
      else sectionProblem(suffix === null ? '[track] needs the name of a check' : 'bad check name', TRACK_NAME_EXPECTED);
    } else {
      // The whole name first (`[sync_files]` -> [sync.files]), then its kind (`[nodes.pbx3]` -> [node.pbx3]).
      const whole = closestName(section.name, FIXED_SECTIONS);
      const guess = closestName(kind, [...FIXED_SECTIONS.filter((name) => !name.includes('.')), ...NAMED_SECTIONS, 'sync']);
      // A named kind without a name (`[tracks]`) is offered with NAME: `[track]` alone is refused too.
      const named = (NAMED_SECTIONS as readonly string[]).includes(guess ?? '');
      const spelt = whole !== null ? `[${whole}]` : guess === null ? null
        : suffix === null ? (named ? `[${guess}.NAME]` : `[${guess}]`) : `[${guess}.${suffix}]`;
      sectionProblem(spelt === null ? 'unknown section' : `unknown section (did you mean ${spelt}?)`, `one of ${ALL_SECTIONS}`);
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

  // [node.NAME]
  const nodes: NodeConfig[] = [];
  for (const section of nodeSections) {
    const r = new SectionReader(file, section, problems);
    r.checkKeys(KNOWN_KEYS.node);
    const address = r.ipv4('address', 'the IPv4 address the peer probes, without prefix, such as 192.0.2.11');
    const other = address === null ? undefined : nodes.find((n) => n.address === address);
    if (other !== undefined) {
      r.report(r.entry('address')!, 'a different address for each node', `same address as [node.${other.name}]`);
    }
    nodes.push({ name: section.name.slice('node.'.length), address: address ?? '' });
  }

  // [cluster]
  let master: string | null = null;
  let slave: string | null = null;
  if (!fixed.has('cluster')) {
    missingSection('cluster', 'a [cluster] section naming the master and the slave node');
  } else {
    const r = reader('cluster');
    const resolve = (key: 'master' | 'slave'): string | null => {
      const name = r.word(key, `the host name of the ${key} node, such as ${key === 'master' ? 'pbx1' : 'pbx2'}`, isHostName);
      if (name === null) return null;
      const node = nodes.find((n) => n.name.toLowerCase() === name.toLowerCase());
      if (node === undefined) {
        const names = nodes.map((n) => n.name).join(', ');
        r.report(r.entry(key)!, `a name with a [node.NAME] section (found: ${names === '' ? 'none' : names})`, `no [node.${name}] section`);
        return null;
      }
      return node.name; // the section's spelling, so that code can compare names exactly
    };
    master = resolve('master');
    slave = resolve('slave');
    if (master !== null && master === slave) {
      r.report(r.entry('slave')!, 'two different nodes: the master and the slave', 'master and slave are the same node');
      slave = null;
    }
    if (master !== null && slave !== null) {
      for (const section of nodeSections) {
        const name = section.name.slice('node.'.length);
        if (name !== master && name !== slave) {
          problems.push({
            file, line: section.line, section: section.name, key: null, value: null,
            problem: 'node is neither the master nor the slave',
            expected: `exactly two [node.NAME] sections, the ones [cluster] names (${master}, ${slave}); remove it or fix [cluster]`,
          });
        }
      }
    }
  }

  // [vip.NAME]
  const vips: VipConfig[] = [];
  const routeOwners = new Map<string, string>();
  for (const section of vipSections) {
    const r = new SectionReader(file, section, problems);
    r.checkKeys(KNOWN_KEYS.vip);
    const vip: VipConfig = { name: section.name.slice('vip.'.length), address: '', prefixLength: 0, interface: '', routes: [] };
    const cidr = r.cidr('address', 'an IPv4 address with its prefix length, such as 192.0.2.10/24');
    const addressEntry = r.entry('address');
    // Routes can be checked against the VIP's subnet as soon as that subnet is known, even when the
    // address itself is refused (say, it collides with a node): one mistake should not hide another.
    let subnet: string | null = null;
    if (cidr !== null && addressEntry !== undefined) {
      const { address, prefixLength } = cidr;
      const network = `${networkAddress(address, prefixLength)}/${prefixLength}`;
      const sameVip = vips.find((v) => v.address === address);
      const sameNode = nodes.find((n) => n.address === address);
      if (prefixLength === 0) {
        r.report(addressEntry, 'a prefix length from 1 to 32, the one of the VIP\'s subnet');
      } else if (prefixLength <= 30 && address === networkAddress(address, prefixLength)) {
        // /31 and /32 have no network or broadcast address (RFC 3021).
        r.report(addressEntry, `a host address inside ${network}`, 'this is the network address of its subnet');
      } else if (prefixLength <= 30 && address === broadcastAddress(address, prefixLength)) {
        r.report(addressEntry, `a host address inside ${network}`, 'this is the broadcast address of its subnet');
      } else if (sameVip !== undefined) {
        r.report(addressEntry, 'a different address for each VIP', `same address as [vip.${sameVip.name}]`);
      } else if (sameNode !== undefined) {
        r.report(addressEntry, 'an address of its own: a VIP moves between the nodes, a node address does not', `same address as [node.${sameNode.name}]`);
      }
      if (prefixLength > 0) subnet = network;
      vip.address = address;
      vip.prefixLength = prefixLength;
    }
    vip.interface = r.word('interface', 'a Linux interface name such as eth0 (1-15 characters, no "/", ":" or blanks)', isInterfaceName) ?? '';
    const routeEntry = r.entry('route');
    if (routeEntry !== undefined) {
      for (const item of splitList(routeEntry.value)) {
        const route = parseRoute(item);
        if (typeof route === 'string') {
          r.report(routeEntry, route, undefined, item);
          continue;
        }
        if (subnet !== null && route.via !== null && (!inSubnet(route.via, vip.address, vip.prefixLength) || route.via === vip.address)) {
          // The kernel only accepts a gateway it can reach on-link from the route's source.
          r.report(routeEntry, `a gateway inside the VIP's subnet ${subnet}, other than the VIP itself`, 'gateway not reachable from the VIP', item);
          continue;
        }
        if (route.destination === subnet) {
          r.report(routeEntry, 'a route to another network: the kernel adds the route to the VIP\'s own subnet with the address', 'route to the VIP\'s own subnet', item);
          continue;
        }
        const owner = routeOwners.get(route.destination);
        if (owner !== undefined) {
          r.report(routeEntry, 'each destination routed once across all VIPs (the kernel refuses a second identical route)', `destination already routed by [${owner}]`, item);
          continue;
        }
        routeOwners.set(route.destination, section.name);
        vip.routes.push(route);
      }
    }
    vips.push(vip);
  }
  if (vipSections.length === 0) {
    missingSection('vip.NAME', 'at least one [vip.NAME] section, such as [vip.voip] with address and interface');
  }

  // [health]
  const health = reader('health');
  const intervalMs = health.duration('interval', { defaultMs: D.health.intervalMs, minMs: L.healthIntervalMs.min, maxMs: L.healthIntervalMs.max });
  const fall = health.integer('fall', { default: D.health.fall, min: L.fallRise.min, max: L.fallRise.max });
  const rise = health.integer('rise', { default: D.health.rise, min: L.fallRise.min, max: L.fallRise.max });
  const timeoutMs = health.duration('timeout', { defaultMs: intervalMs ?? D.health.intervalMs, minMs: 1, maxMs: L.healthIntervalMs.max * L.fallRise.max });
  if (timeoutMs !== null && intervalMs !== null && fall !== null && timeoutMs > fall * intervalMs) {
    // A probe still waiting when the peer is already declared down would be meaningless.
    health.report(health.entry('timeout')!, `at most fall × interval = ${fall} × ${formatDurationMs(intervalMs)} = ${formatDurationMs(fall * intervalMs)}`, 'timeout longer than the detection time');
  }
  // `track` here is ICMP only; a command belongs in a [track.NAME] section, a common confusion.
  const track = health.ipv4List('track', (item) =>
    item.startsWith('/') || /\s/.test(item) ? 'a command, not an address: tracked commands go in a [track.NAME] section' : undefined);
  const trackEntry = health.entry('track');
  for (const address of track) {
    // Tracking the peer would put the slave in fault exactly when the master dies, and a slave in
    // fault never takes over; tracking a VIP tests nothing, since a node may be the one holding it.
    const node = nodes.find((n) => n.address === address);
    const vip = vips.find((v) => v.address === address);
    if (trackEntry !== undefined && (node !== undefined || vip !== undefined)) {
      const what = node !== undefined ? `[node.${node.name}]` : `[vip.${vip!.name}]`;
      health.report(trackEntry, 'addresses outside the pair, usually the gateway', `this is the address of ${what}`, address);
    }
  }

  // [track.NAME]
  const checks: TrackCheckConfig[] = [];
  for (const section of trackSections) {
    const r = new SectionReader(file, section, problems);
    r.checkKeys(KNOWN_KEYS.track);
    const check = readTrackCheck(r);
    if (check !== null) checks.push(check);
  }

  // [failover]
  const failover = readFailover(reader('failover'));

  // [garp]
  const garp = reader('garp');
  const garpCount = garp.integer('count', { default: D.garp.count, min: L.garpCount.min, max: L.garpCount.max });
  const garpIntervalMs = garp.duration('interval', { defaultMs: D.garp.intervalMs, minMs: L.garpIntervalMs.min, maxMs: L.garpIntervalMs.max, zeroAllowed: true });
  const repeatAfterMs = garp.duration('repeat_after', { defaultMs: D.garp.repeatAfterMs, minMs: L.garpRepeatAfterMs.min, maxMs: L.garpRepeatAfterMs.max, zeroAllowed: true });
  const refreshMs = garp.duration('refresh', { defaultMs: D.garp.refreshMs, minMs: L.garpRefreshMs.min, maxMs: L.garpRefreshMs.max, zeroAllowed: true });

  // [services]
  const services = reader('services');
  const serviceTimeoutMs = services.duration('timeout', { defaultMs: D.services.timeoutMs, minMs: L.commandTimeoutMs.min, maxMs: L.commandTimeoutMs.max });
  const startArgv = services.command('start', '/usr/bin/xivo-service start');
  const stopArgv = services.command('stop', '/usr/bin/xivo-service stop');

  // [notify]
  const notify = reader('notify');
  const notifyTimeoutMs = notify.duration('timeout', { defaultMs: D.notify.timeoutMs, minMs: L.commandTimeoutMs.min, maxMs: L.commandTimeoutMs.max });
  const scriptArgv = notify.command('script', '/etc/pbx-ha/notify');

  // [agent]
  const agent = reader('agent');
  const reconcileIntervalMs = agent.duration('reconcile_interval', { defaultMs: D.agent.reconcileIntervalMs, minMs: L.reconcileIntervalMs.min, maxMs: L.reconcileIntervalMs.max });
  const socketPath = agent.absolutePath('socket', D.agent.socketPath, L.socketPathBytes);
  const stateDir = agent.absolutePath('state_dir', D.agent.stateDir);
  const releaseOnStop = agent.boolean('release_on_stop', D.agent.releaseOnStop);

  // [replication], [sync.files], [sync.db], [sync.astdb]
  const replication = readReplication(reader, { reader: agent, stateDir });

  // [metrics]
  const metrics = readMetrics(reader('metrics'));

  if (problems.length > 0) {
    // Stable sort: by line, and problems tied to no line (missing sections) at the end.
    const order = (p: ConfigProblem): number => p.line ?? Number.MAX_SAFE_INTEGER;
    return { ok: false, problems: problems.sort((a, b) => order(a) - order(b)) };
  }

  // No problem was recorded, so every reader above returned a value and master/slave resolved.
  const command = (argv: string[] | null, timeoutMs: number | null): CommandConfig | null =>
    argv === null ? null : { argv, timeoutMs: timeoutMs! };
  return {
    ok: true,
    config: {
      file,
      master: master!,
      slave: slave!,
      nodes,
      vips,
      health: { intervalMs: intervalMs!, fall: fall!, rise: rise!, timeoutMs: timeoutMs!, track },
      checks,
      failover: failover!,
      garp: { count: garpCount!, intervalMs: garpIntervalMs!, repeatAfterMs: repeatAfterMs!, refreshMs: refreshMs! },
      services: { start: command(startArgv, serviceTimeoutMs), stop: command(stopArgv, serviceTimeoutMs) },
      notify: { script: command(scriptArgv, notifyTimeoutMs) },
      agent: { reconcileIntervalMs: reconcileIntervalMs!, socketPath: socketPath!, stateDir: stateDir!, releaseOnStop: releaseOnStop! },
      replication: replication!,
      metrics: metrics!,
    },
  };
}

/** `default|CIDR [via IPv4]` -> RouteConfig, or what was expected instead. */
function parseRoute(text: string): RouteConfig | string {
  const expected = 'routes such as "default via 192.0.2.1" or "203.0.113.0/24 via 192.0.2.1", separated by commas';
  const words = text.split(/\s+/);
  if (words.length !== 1 && !(words.length === 3 && words[1] === 'via')) return expected;
  let destination: string;
  if (words[0] === 'default') {
    destination = 'default';
  } else {
    const cidr = parseCidr(words[0]);
    if (cidr === null) return isIpv4(words[0]) ? `a destination with its prefix length (${words[0]}/32 for one host); ${expected}` : expected;
    // `ip route` refuses host bits in a destination; we store the network it obviously means.
    destination = `${networkAddress(cidr.address, cidr.prefixLength)}/${cidr.prefixLength}`;
    if (cidr.prefixLength === 0) destination = 'default';
  }
  const via = words.length === 3 ? words[2] : null;
  if (via !== null && !isIpv4(via)) return `an IPv4 gateway after "via"; ${expected}`;
  return { destination, via, text };
}
