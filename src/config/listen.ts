// A listening address as written in pbx-ha.conf: `IPv4:port` or `[IPv6]:port`.
//
//   parseListenAddress(text): { ok: true; host; port } | { ok: false; problem }
//       host as `server.listen` takes it: the IPv4 address, or the IPv6 address without brackets.
//
// Addresses only, no host names: what a name resolves to can change between two starts, and the
// agent must not open its port somewhere the administrator did not write. The IPv4 address is as
// strict as everywhere else (ipv4.ts: no leading zeros); the IPv6 one is what Node's net.isIPv6
// accepts (a zone such as `%eth0` included). The port is 1-65535, written without leading zeros
// (port 0 would be a random port nobody could scrape).

import { isIPv6 } from 'node:net';
import { isIpv4 } from './ipv4';

export type ListenResult = { ok: true; host: string; port: number } | { ok: false; problem: string };

const PORT = /^[1-9]\d{0,4}$/;

export function parseListenAddress(text: string): ListenResult {
  const fail = (problem: string): ListenResult => ({ ok: false, problem });
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) return fail('a URL: write only the address and the port');
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail('"[" without "]"');
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') return fail('the port is missing');
    if (!rest.startsWith(':')) return fail(`"${rest}" after "]" (expected ":" and the port)`);
    port = rest.slice(1);
    if (!isIPv6(host))
      return fail(isIpv4(host) ? 'an IPv4 address takes no brackets' : `"${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      if (isIpv4(text) || isIPv6(text)) return fail('the port is missing');
      if (PORT.test(text)) return fail('the address is missing');
      return fail('');
    }
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (host.includes(':')) {
      // `::1:9549` is itself a valid IPv6 address: only brackets tell the port apart.
      return fail(
        isIPv6(text) || isIPv6(host)
          ? 'an IPv6 address must be written in brackets, such as [::1]:9549'
          : 'more than one ":" (an IPv6 address goes in brackets, such as [::1]:9549)',
      );
    }
    if (host === '') return fail('the address is missing');
    if (!isIpv4(host)) {
      return fail(
        /^[A-Za-z0-9.-]+$/.test(host) && /[A-Za-z]/.test(host)
          ? `"${host}" is a host name, not an address`
          : `"${host}" is not an IPv4 address`,
      );
    }
  }
  if (port === '') return fail('the port is missing');
  if (!PORT.test(port) || Number(port) > 65_535)
    return fail(`port "${port}" is not a whole number from 1 to 65535`);
  return { ok: true, host, port: Number(port) };
}
