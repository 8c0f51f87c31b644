import { machineSettingsFor } from '../../src/agent/machine-settings';
// Test configurations, written as INI text and read by the real configuration layer, so
// that tests use exactly what an administrator's file would give.
//
// The pair: master pbx1 (192.0.2.11 on eth0, 198.51.100.11 on eth1), slave pbx2 (.12),
// VIP voip 192.0.2.10/24 on eth0 with a route, VIP data 198.51.100.10/24 on eth1 with the
// default route; probes every 1s, fall 3, rise 3.

import { formatProblem, parseConfigText } from '../../src/config';
import type { NodeConfig, PbxHaConfig, VipConfig } from '../../src/config';
import type { ActualAddress } from '../../src/domain/reconcile';
import type { MachineSettings } from '../../src/domain/node-machine';
import { identityFor } from '../../src/agent/agent';

export type IniSections = Record<string, Record<string, string | null>>;

export const PAIR_INI: IniSections = {
  cluster: { master: 'pbx1', slave: 'pbx2' },
  'node.pbx1': { address: '192.0.2.11' },
  'node.pbx2': { address: '192.0.2.12' },
  'vip.voip': { address: '192.0.2.10/24', interface: 'eth0', route: '203.0.113.0/24 via 192.0.2.1' },
  'vip.data': { address: '198.51.100.10/24', interface: 'eth1', route: 'default via 198.51.100.1' },
  health: { interval: '1s', fall: '3', rise: '3' },
  services: { start: '/usr/local/sbin/pbx-services start', stop: '/usr/local/sbin/pbx-services stop' },
  notify: { script: '/usr/local/sbin/pbx-notify --to admin' },
};

/** PAIR_INI with `overrides` merged in (a null value removes the key; an empty section removes it). */
export function pairIni(overrides: IniSections = {}): string {
  const sections: IniSections = {};
  for (const [name, keys] of Object.entries(PAIR_INI)) sections[name] = { ...keys };
  for (const [name, keys] of Object.entries(overrides)) {
    if (Object.keys(keys).length === 0) delete sections[name];
    else sections[name] = { ...(sections[name] ?? {}), ...keys };
  }
  const lines: string[] = [];
  for (const [name, keys] of Object.entries(sections)) {
    lines.push(`[${name}]`);
    for (const [k, v] of Object.entries(keys)) if (v !== null) lines.push(`${k} = ${v}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** A validated configuration from INI text; throws with every problem if it is refused. */
export function configFrom(text: string, file = '/etc/pbx-ha/pbx-ha.conf'): PbxHaConfig {
  const result = parseConfigText(text, file);
  if (!result.ok)
    throw new Error(`test configuration refused:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.config;
}

/** The test pair's configuration, with `overrides`. */
export function pairConfig(overrides: IniSections = {}): PbxHaConfig {
  return configFrom(pairIni(overrides));
}

export function nodeOf(config: PbxHaConfig, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return node;
}

export function vipOf(config: PbxHaConfig, name: string): VipConfig {
  const vip = config.vips.find((v) => v.name === name);
  if (!vip) throw new Error(`no VIP ${name}`);
  return vip;
}

/**
 * The fixed addresses of a node of the test pair: its own address on eth0 and the same
 * host number on eth1 (the data subnet), so that both VIP subnets are configured.
 */
export function baseAddresses(config: PbxHaConfig, name: string): ActualAddress[] {
  const own = nodeOf(config, name).address;
  const host = own.split('.')[3];
  return [
    { ifname: 'eth0', address: own, prefixLength: 24 },
    { ifname: 'eth1', address: `198.51.100.${host}`, prefixLength: 24 },
  ];
}

/** Machine settings as the agent builds them (VIP interfaces plus the own address's). */
export function machineSettings(config: PbxHaConfig, name: string): MachineSettings {
  const id = identityFor(config, nodeOf(config, name));
  const own = baseAddresses(config, name)
    .filter((a) => a.address === id.ownAddress)
    .map((a) => a.ifname);
  return machineSettingsFor(config, id, own);
}
