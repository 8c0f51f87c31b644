// IPv4 addresses and subnets, as pure functions on dotted-quad strings.
//
//   parseIpv4(text): number | null           strict dotted quad -> unsigned 32-bit value
//   formatIpv4(value): string                unsigned 32-bit value -> dotted quad
//   isIpv4(text): boolean
//   parseCidr(text): Cidr | null             `a.b.c.d/n` (n 0..32) -> { address, prefixLength }
//   networkAddress(address, prefix): string  `192.0.2.10`, 24 -> `192.0.2.0`
//   broadcastAddress(address, prefix): string
//   inSubnet(address, network, prefix): boolean
//
// Strict on purpose: `192.0.2.010` is refused because inet_aton (and so some tools) reads a leading
// zero as octal, so the same text would mean two different hosts; `192.0.2` and `0x7f.1` likewise.

export interface Cidr {
  /** The address as written (host bits kept): `192.0.2.10`. */
  address: string;
  prefixLength: number;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== null;
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  if (parseIpv4(address) === null || !/^(0|[1-9]\d?)$/.test(prefix)) return null;
  const prefixLength = Number(prefix);
  if (prefixLength > 32) return null;
  return { address, prefixLength };
}

/** Netmask of a prefix length as an unsigned 32-bit value (`24` -> 0xffffff00). */
function mask(prefixLength: number): number {
  // `<< 32` is a no-op in JavaScript, hence the special case for /0.
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

function toValue(address: string): number {
  const value = parseIpv4(address);
  if (value === null) throw new RangeError(`not an IPv4 address: ${JSON.stringify(address)}`);
  return value;
}

export function networkAddress(address: string, prefixLength: number): string {
  return formatIpv4((toValue(address) & mask(prefixLength)) >>> 0);
}

export function broadcastAddress(address: string, prefixLength: number): string {
  return formatIpv4((toValue(address) | ~mask(prefixLength)) >>> 0);
}

/** True when `address` lies in `network/prefix`; host bits of `network` are ignored. */
export function inSubnet(address: string, network: string, prefixLength: number): boolean {
  const a = parseIpv4(address);
  const n = parseIpv4(network);
  if (a === null || n === null) return false;
  const m = mask(prefixLength);
  return (a & m) >>> 0 === (n & m) >>> 0;
}
