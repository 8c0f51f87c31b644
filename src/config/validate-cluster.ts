// [node.NAME] and [cluster]: the two nodes and which is the master.
//
//   NODE_KEYS, CLUSTER_KEYS
//   readNode(reader, nodes): NodeConfig                 its address '' when refused (recorded)
//   readCluster(reader, nodes): { master, slave }       each null when refused (recorded)
//   checkNodesNamed(...)                                 every [node.NAME] is the master or the slave

import { isHostName } from './host-name';
import type { IniSection } from './ini-scan';
import type { SectionReader } from './read-values';
import type { ConfigProblem, NodeConfig } from './types';

export const NODE_KEYS: readonly string[] = ['address'];
export const CLUSTER_KEYS: readonly string[] = ['master', 'slave'];

export function readNode(r: SectionReader, name: string, nodes: readonly NodeConfig[]): NodeConfig {
  const address = r.ipv4('address', 'the IPv4 address the peer probes, without prefix, such as 192.0.2.11');
  const other = address === null ? undefined : nodes.find((n) => n.address === address);
  if (other !== undefined) {
    r.report(
      r.entry('address')!,
      'a different address for each node',
      `same address as [node.${other.name}]`,
    );
  }
  return { name, address: address ?? '' };
}

export function readCluster(
  r: SectionReader,
  nodes: readonly NodeConfig[],
): { master: string | null; slave: string | null } {
  const resolve = (key: 'master' | 'slave'): string | null => {
    const name = r.word(
      key,
      `the host name of the ${key} node, such as ${key === 'master' ? 'pbx1' : 'pbx2'}`,
      isHostName,
    );
    if (name === null) return null;
    const node = nodes.find((n) => n.name.toLowerCase() === name.toLowerCase());
    if (node === undefined) {
      const names = nodes.map((n) => n.name).join(', ');
      r.report(
        r.entry(key)!,
        `a name with a [node.NAME] section (found: ${names === '' ? 'none' : names})`,
        `no [node.${name}] section`,
      );
      return null;
    }
    return node.name; // the section's spelling, so that code can compare names exactly
  };
  const master = resolve('master');
  let slave = resolve('slave');
  if (master !== null && master === slave) {
    r.report(
      r.entry('slave')!,
      'two different nodes: the master and the slave',
      'master and slave are the same node',
    );
    slave = null;
  }
  return { master, slave };
}

/** Cross-section: a [node.NAME] that [cluster] does not name is refused. */
export function checkNodesNamed(
  file: string,
  nodeSections: readonly IniSection[],
  master: string,
  slave: string,
  problems: ConfigProblem[],
): void {
  for (const section of nodeSections) {
    const name = section.name.slice('node.'.length);
    if (name !== master && name !== slave) {
      problems.push({
        file,
        line: section.line,
        section: section.name,
        key: null,
        value: null,
        problem: 'node is neither the master nor the slave',
        expected: `exactly two [node.NAME] sections, the ones [cluster] names (${master}, ${slave}); remove it or fix [cluster]`,
      });
    }
  }
}
