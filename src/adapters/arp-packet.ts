// ARP frames as bytes: pure functions, no I/O. The native helper (native/pbx-ha-arp.c) sends
// whatever frame it is given; what an announcement looks like is decided here, where it can be
// tested byte for byte.
//
// Ethernet II frame carrying ARP for IPv4 over Ethernet (RFC 826; field names from RFC 5227):
//
//   offset size  field
//    0      6    destination MAC                       (Ethernet header)
//    6      6    source MAC
//   12      2    ethertype 0x0806 (ARP)
//   14      2    htype 1 (Ethernet)                    (ARP packet, RFC 826)
//   16      2    ptype 0x0800 (IPv4)
//   18      1    hlen 6
//   19      1    plen 4
//   20      2    oper 1 (request) or 2 (reply)
//   22      6    sender hardware address (sha)
//   28      4    sender protocol address (spa)
//   32      6    target hardware address (tha)
//   38      4    target protocol address (tpa)
//   42           end (the NIC pads to the 60-byte minimum; veth does not need it)
//
// All multi-byte fields are big-endian (network order).

import { isIPv4 } from 'node:net';

export const ARP_FRAME_LENGTH = 42;
export const ETHERTYPE_ARP = 0x0806;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
const ZERO_MAC = '00:00:00:00:00:00';

/** Six bytes from `aa:bb:cc:dd:ee:ff` (or with `-`, any case); throws on anything else. */
export function parseMac(mac: string): Buffer {
  const m =
    /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(
      mac,
    );
  if (!m) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return Buffer.from([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h, 16)));
}

/** `aa:bb:cc:dd:ee:ff`, lowercase, from six bytes. */
export function formatMac(bytes: Uint8Array): string {
  if (bytes.length !== 6) throw new Error(`a MAC address has 6 bytes, not ${bytes.length}`);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function parseIpv4(address: string): Buffer {
  if (!isIPv4(address)) throw new Error(`not an IPv4 address: ${JSON.stringify(address)}`);
  return Buffer.from(address.split('.').map(Number));
}

function formatIpv4(bytes: Uint8Array): string {
  return [...bytes].join('.');
}

export interface ArpFields {
  destination: string;
  source: string;
  operation: 1 | 2;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Builds an Ethernet/ARP frame for IPv4 (layout above). */
export function arpFrame(f: ArpFields): Buffer {
  const frame = Buffer.alloc(ARP_FRAME_LENGTH);
  parseMac(f.destination).copy(frame, 0);
  parseMac(f.source).copy(frame, 6);
  frame.writeUInt16BE(ETHERTYPE_ARP, 12);
  frame.writeUInt16BE(1, 14); // htype: Ethernet
  frame.writeUInt16BE(0x0800, 16); // ptype: IPv4
  frame.writeUInt8(6, 18); // hlen
  frame.writeUInt8(4, 19); // plen
  frame.writeUInt16BE(f.operation, 20);
  parseMac(f.senderMac).copy(frame, 22);
  parseIpv4(f.senderIp).copy(frame, 28);
  parseMac(f.targetMac).copy(frame, 32);
  parseIpv4(f.targetIp).copy(frame, 38);
  return frame;
}

/**
 * The 42-byte gratuitous ARP *request* announcing that `ipv4` is at `senderMac`: broadcast,
 * sender and target IP both `ipv4`, target MAC zero — the "ARP Announcement" of RFC 5227 §3
 * (the request form, which switches and phones accept to update their tables; some ignore
 * gratuitous replies).
 */
export function gratuitousArpRequest(senderMac: string, ipv4: string): Buffer {
  return arpFrame({
    destination: BROADCAST_MAC,
    source: senderMac,
    operation: 1,
    senderMac,
    senderIp: ipv4,
    targetMac: ZERO_MAC,
    targetIp: ipv4,
  });
}

/** Decodes an Ethernet/ARP-for-IPv4 frame; throws if `frame` is not one. */
export function decodeArp(frame: Buffer): ArpFields {
  if (frame.length < ARP_FRAME_LENGTH)
    throw new Error(`an ARP frame has at least ${ARP_FRAME_LENGTH} bytes, not ${frame.length}`);
  const ethertype = frame.readUInt16BE(12);
  if (ethertype !== ETHERTYPE_ARP)
    throw new Error(`ethertype 0x${ethertype.toString(16).padStart(4, '0')} is not ARP`);
  if (
    frame.readUInt16BE(14) !== 1 ||
    frame.readUInt16BE(16) !== 0x0800 ||
    frame[18] !== 6 ||
    frame[19] !== 4
  ) {
    throw new Error('not ARP for IPv4 over Ethernet');
  }
  const operation = frame.readUInt16BE(20);
  if (operation !== 1 && operation !== 2) throw new Error(`unknown ARP operation ${operation}`);
  return {
    destination: formatMac(frame.subarray(0, 6)),
    source: formatMac(frame.subarray(6, 12)),
    operation,
    senderMac: formatMac(frame.subarray(22, 28)),
    senderIp: formatIpv4(frame.subarray(28, 32)),
    targetMac: formatMac(frame.subarray(32, 38)),
    targetIp: formatIpv4(frame.subarray(38, 42)),
  };
}
