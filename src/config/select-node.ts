// Which [node.NAME] section is this machine? Both nodes share one file, so each finds itself.
//
//   selectNode(config, hostnameOrOverride, file, source = 'hostname'): NodeSelection | ConfigProblem
//   isConfigProblem(x): x is ConfigProblem
//
// Matching ignores case (host names are case-insensitive, RFC 4343). When the system host name is a
// FQDN (`pbx1.example.com`) and no section has that full name, its first label (`pbx1`) is tried,
// because administrators name sections after the short name that `hostname` prints on Debian.
// `source` only changes the message: `--node` when the name came from the command line.

import type { ConfigProblem, NodeConfig, PbxHaConfig, Role } from './types';

export interface NodeSelection {
  node: NodeConfig;
  role: Role;
  peer: NodeConfig;
}

export function isConfigProblem(x: NodeSelection | ConfigProblem): x is ConfigProblem {
  return 'expected' in x;
}

export function selectNode(
  config: PbxHaConfig,
  hostnameOrOverride: string,
  file: string,
  source: 'hostname' | '--node' = 'hostname',
): NodeSelection | ConfigProblem {
  const wanted = hostnameOrOverride.trim().toLowerCase();
  const byName = (name: string): NodeConfig | undefined =>
    config.nodes.find((n) => n.name.toLowerCase() === name);
  const shortName = wanted.split('.')[0];
  const node =
    wanted === '' ? undefined : (byName(wanted) ?? (shortName !== wanted ? byName(shortName) : undefined));
  const peerName =
    node === undefined ? undefined : node.name === config.master ? config.slave : config.master;
  const peer = peerName === undefined ? undefined : config.nodes.find((n) => n.name === peerName);

  if (
    node !== undefined &&
    peer !== undefined &&
    (node.name === config.master || node.name === config.slave)
  ) {
    return { node, role: node.name === config.master ? 'master' : 'slave', peer };
  }
  const names = config.nodes.map((n) => n.name).join(', ');
  const shown = hostnameOrOverride.trim() === '' ? '(empty)' : hostnameOrOverride.trim();
  return {
    file,
    section: null,
    key: null,
    value: null,
    problem:
      source === 'hostname'
        ? `hostname ${shown} matches no [node.NAME] section`
        : `--node ${shown} matches no [node.NAME] section`,
    expected:
      source === 'hostname' ? `one of ${names}; use --node NAME or rename the section` : `one of ${names}`,
  };
}
