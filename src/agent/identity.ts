// Who this node is in the pair, from the configuration and the node selected at start.

import type { NodeConfig, PbxHaConfig, Role } from '../config/types';

export interface Identity {
  node: string;
  role: Role;
  peer: string;
  peerAddress: string;
  ownAddress: string;
}

export function identityFor(config: PbxHaConfig, node: NodeConfig): Identity {
  const role: Role = node.name === config.master ? 'master' : 'slave';
  const peerName = role === 'master' ? config.slave : config.master;
  const peer = config.nodes.find((n) => n.name === peerName);
  if (!peer) throw new Error(`no [node.${peerName}] section`);
  return { node: node.name, role, peer: peer.name, peerAddress: peer.address, ownAddress: node.address };
}
