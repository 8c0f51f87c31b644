// [vip.NAME]: an address that moves between the nodes, its interface and its routes.
//
//   VIP_KEYS, VIP_NAME
//   readVip(reader, name, nodes, vips, routeOwners): VipConfig   refused values recorded; the VIP
//                                                                 is returned so that later checks
//                                                                 can still run

import { broadcastAddress, inSubnet, isIpv4, networkAddress, parseCidr } from './ipv4';
import type { SectionReader } from './read-values';
import type { NodeConfig, RouteConfig, VipConfig } from './types';

export const VIP_KEYS: readonly string[] = ['address', 'interface', 'route'];

export const VIP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Linux accepts 1-15 bytes, not `.` or `..`, without `/`, `:` or blanks (dev_valid_name()). */
function isInterfaceName(text: string): boolean {
  return /^[^/:\s]{1,15}$/.test(text) && text !== '.' && text !== '..' && !/[\0-\x1f\x7f]/.test(text);
}

/**
 * `vips`: the VIPs read before this one; `routeOwners`: each routed destination's section,
 * shared by every VIP (a destination is routed once across all of them).
 */
export function readVip(
  r: SectionReader,
  name: string,
  nodes: readonly NodeConfig[],
  vips: readonly VipConfig[],
  routeOwners: Map<string, string>,
): VipConfig {
  const sectionName = `vip.${name}`;
  const vip: VipConfig = { name, address: '', prefixLength: 0, interface: '', routes: [] };
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
      r.report(addressEntry, "a prefix length from 1 to 32, the one of the VIP's subnet");
    } else if (prefixLength <= 30 && address === networkAddress(address, prefixLength)) {
      // /31 and /32 have no network or broadcast address (RFC 3021).
      r.report(addressEntry, `a host address inside ${network}`, 'this is the network address of its subnet');
    } else if (prefixLength <= 30 && address === broadcastAddress(address, prefixLength)) {
      r.report(
        addressEntry,
        `a host address inside ${network}`,
        'this is the broadcast address of its subnet',
      );
    } else if (sameVip !== undefined) {
      r.report(addressEntry, 'a different address for each VIP', `same address as [vip.${sameVip.name}]`);
    } else if (sameNode !== undefined) {
      r.report(
        addressEntry,
        'an address of its own: a VIP moves between the nodes, a node address does not',
        `same address as [node.${sameNode.name}]`,
      );
    }
    if (prefixLength > 0) subnet = network;
    vip.address = address;
    vip.prefixLength = prefixLength;
  }
  vip.interface =
    r.word(
      'interface',
      'a Linux interface name such as eth0 (1-15 characters, no "/", ":" or blanks)',
      isInterfaceName,
    ) ?? '';
  const routeEntry = r.entry('route');
  // Each route is unquoted like any value or list item (read-values.ts, unquote).
  const routeItems = routeEntry === undefined ? null : r.items(routeEntry);
  if (routeEntry !== undefined && routeItems !== null) {
    for (const item of routeItems) {
      const route = parseRoute(item);
      if (typeof route === 'string') {
        r.report(routeEntry, route, undefined, item);
        continue;
      }
      if (
        subnet !== null &&
        route.via !== null &&
        (!inSubnet(route.via, vip.address, vip.prefixLength) || route.via === vip.address)
      ) {
        // The kernel only accepts a gateway it can reach on-link from the route's source.
        r.report(
          routeEntry,
          `a gateway inside the VIP's subnet ${subnet}, other than the VIP itself`,
          'gateway not reachable from the VIP',
          item,
        );
        continue;
      }
      if (route.destination === subnet) {
        r.report(
          routeEntry,
          "a route to another network: the kernel adds the route to the VIP's own subnet with the address",
          "route to the VIP's own subnet",
          item,
        );
        continue;
      }
      const owner = routeOwners.get(route.destination);
      if (owner !== undefined) {
        r.report(
          routeEntry,
          'each destination routed once across all VIPs (the kernel refuses a second identical route)',
          `destination already routed by [${owner}]`,
          item,
        );
        continue;
      }
      routeOwners.set(route.destination, sectionName);
      vip.routes.push(route);
    }
  }
  return vip;
}

/** `default|CIDR [via IPv4]` -> RouteConfig, or what was expected instead. */
function parseRoute(text: string): RouteConfig | string {
  const expected =
    'routes such as "default via 192.0.2.1" or "203.0.113.0/24 via 192.0.2.1", separated by commas';
  const words = text.split(/\s+/);
  if (words.length !== 1 && !(words.length === 3 && words[1] === 'via')) return expected;
  let destination: string;
  if (words[0] === 'default') {
    destination = 'default';
  } else {
    const cidr = parseCidr(words[0]);
    if (cidr === null)
      return isIpv4(words[0])
        ? `a destination with its prefix length (${words[0]}/32 for one host); ${expected}`
        : expected;
    // `ip route` refuses host bits in a destination; we store the network it obviously means.
    destination = `${networkAddress(cidr.address, cidr.prefixLength)}/${cidr.prefixLength}`;
    if (cidr.prefixLength === 0) destination = 'default';
  }
  const via = words.length === 3 ? words[2] : null;
  if (via !== null && !isIpv4(via)) return `an IPv4 gateway after "via"; ${expected}`;
  return { destination, via, text };
}
