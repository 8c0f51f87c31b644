// What only the node itself can check: does the configuration fit this machine's interfaces?
//
//   checkHost(config, nodeName, interfaces: IpAddrInterface[]): ConfigProblem[]
//
// `interfaces` is the parsed output of `ip -json addr show` (the caller runs it; this stays pure so
// it can be tested with literal data). Checked:
// - each VIP's interface exists here (interface names must be the same on both nodes);
// - each VIP lies inside an IPv4 subnet already configured on its interface, otherwise the kernel
//   has no connected route for it and gratuitous ARP would announce an address nobody can reach;
//   an address equal to the VIP is ignored there, because this node may already hold the VIP;
// - this node's own address is configured on one of its interfaces (else the peer probes nothing);
// - the peer's address is not configured here (the two [node.X] addresses are probably swapped).
// Interface state (operstate) is not checked: a link that is down is a fault at run time, not a
// configuration error.

import { inSubnet, networkAddress, parseIpv4 } from './ipv4';
import type { ConfigProblem, PbxHaConfig } from './types';

export interface IpAddrInfo {
  /** `inet` or `inet6`; other values are ignored. */
  family: string;
  local: string;
  prefixlen: number;
}

export interface IpAddrInterface {
  ifname: string;
  operstate?: string;
  addr_info: IpAddrInfo[];
}

export function checkHost(
  config: PbxHaConfig,
  nodeName: string,
  interfaces: IpAddrInterface[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const file = config.file;
  const node = config.nodes.find((n) => n.name === nodeName);
  if (node === undefined) {
    return [
      {
        file,
        section: null,
        key: null,
        value: nodeName,
        problem: 'no such node',
        expected: `one of ${config.nodes.map((n) => n.name).join(', ')}`,
      },
    ];
  }
  const ipv4 = (i: IpAddrInterface): IpAddrInfo[] =>
    (i.addr_info ?? []).filter((a) => a.family === 'inet' && parseIpv4(a.local) !== null);
  const allLocal = interfaces.flatMap((i) => ipv4(i).map((a) => ({ ifname: i.ifname, address: a.local })));

  for (const vip of config.vips) {
    const section = `vip.${vip.name}`;
    const found = interfaces.find((i) => i.ifname === vip.interface);
    if (found === undefined) {
      problems.push({
        file,
        section,
        key: 'interface',
        value: vip.interface,
        problem: `no interface ${vip.interface} on this node (${node.name})`,
        expected: `one of this node's interfaces: ${interfaces.map((i) => i.ifname).join(', ') || '(none)'}; interface names must be the same on both nodes`,
      });
      continue;
    }
    const subnets = ipv4(found)
      .filter((a) => a.local !== vip.address)
      .map((a) => `${networkAddress(a.local, a.prefixlen)}/${a.prefixlen}`);
    const inside = ipv4(found).some(
      (a) => a.local !== vip.address && inSubnet(vip.address, a.local, a.prefixlen),
    );
    if (!inside) {
      problems.push({
        file,
        section,
        key: 'address',
        value: `${vip.address}/${vip.prefixLength}`,
        problem: `VIP outside its interface's subnet (${vip.interface} on ${node.name})`,
        expected:
          subnets.length === 0
            ? `an IPv4 address on ${vip.interface} besides the VIP, in the VIP's subnet (${vip.interface} has none)`
            : `an address inside one of the interface's subnets: ${unique(subnets).join(', ')}`,
      });
    }
  }

  if (!allLocal.some((a) => a.address === node.address)) {
    problems.push({
      file,
      section: `node.${node.name}`,
      key: 'address',
      value: node.address,
      problem: `address not configured on this node (${node.name})`,
      expected: `one of this node's addresses: ${allLocal.map((a) => `${a.address} (${a.ifname})`).join(', ') || '(none)'}`,
    });
  }
  const peer = config.nodes.find((n) => n !== node);
  if (peer !== undefined && allLocal.some((a) => a.address === peer.address)) {
    problems.push({
      file,
      section: `node.${peer.name}`,
      key: 'address',
      value: peer.address,
      problem: `the peer's address is configured on this node (${node.name})`,
      expected: `the address of ${peer.name}, not of ${node.name}; are the two [node.NAME] addresses swapped?`,
    });
  }
  return problems;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
