/**
 * The network lab's layout and the repository paths every lab user needs, read from
 * lab/layout.env (which scripts/lab sources too), so that addresses are written in one place.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Repository root: this module runs from dist/lab/. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The user-facing lab tool (bash) that builds namespaces and runs commands in nodes. */
export const LAB_SCRIPT = path.join(REPO_ROOT, 'scripts', 'lab');
export const LAYOUT_FILE = path.join(REPO_ROOT, 'lab', 'layout.env');
/** The pbx-ha launcher of this checkout. */
export const PBX_HA = path.join(REPO_ROOT, 'bin', 'pbx-ha');
/** A stand-in for Asterisk that writes numbered astdb keys (see its --help). */
export const WRITER = path.join(REPO_ROOT, 'test', 'fixtures', 'bin', 'astdb-writer.js');
/** Where a node's astdb is, as the node sees it. */
export const ASTDB = '/var/lib/asterisk/astdb.sqlite3';

export type PbxNode = 'pbx1' | 'pbx2';
export type LabNode = PbxNode | 'phone' | 'gw';
export const PBX_NODES: readonly PbxNode[] = ['pbx1', 'pbx2'];

const KEYS = [
  'LAB_PREFIX_LEN',
  'LAB_VOIP_IFACE',
  'LAB_DATA_IFACE',
  'LAB_PBX1_VOIP',
  'LAB_PBX1_DATA',
  'LAB_PBX2_VOIP',
  'LAB_PBX2_DATA',
  'LAB_GW_VOIP',
  'LAB_GW_DATA',
  'LAB_PHONE_VOIP',
  'LAB_EXT_NET',
  'LAB_GW_EXT',
  'LAB_VOIP_VIP',
  'LAB_DATA_VIP',
] as const;
type Key = (typeof KEYS)[number];

/**
 * Parses the NAME=VALUE lines of layout.env (comments and blank lines skipped). Throws naming the
 * file, the line and what was expected for anything else, a missing name or an unknown one.
 */
export function parseLayout(text: string, file = LAYOUT_FILE): Record<Key, string> {
  const out: Partial<Record<Key, string>> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([A-Z][A-Z0-9_]*)=([A-Za-z0-9./:]+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected NAME=VALUE (no quotes or spaces), got "${line}"`);
    if (!(KEYS as readonly string[]).includes(m[1]))
      throw new Error(`${file}:${i + 1}: unknown name ${m[1]}`);
    out[m[1] as Key] = m[2];
  });
  const missing = KEYS.filter((k) => out[k] === undefined);
  if (missing.length) throw new Error(`${file}: missing ${missing.join(', ')}`);
  return out as Record<Key, string>;
}

const L = parseLayout(readFileSync(LAYOUT_FILE, 'utf8'));

export const PREFIX_LEN = Number(L.LAB_PREFIX_LEN);
export const VOIP_IFACE = L.LAB_VOIP_IFACE;
export const DATA_IFACE = L.LAB_DATA_IFACE;
export const VOIP_VIP = L.LAB_VOIP_VIP;
export const DATA_VIP = L.LAB_DATA_VIP;
/** The gateway: on the VOIP network, on the DATA network, and the network it routes. */
export const GATEWAY = { voip: L.LAB_GW_VOIP, data: L.LAB_GW_DATA, extNet: L.LAB_EXT_NET, ext: L.LAB_GW_EXT };
export const PHONE_ADDRESS = L.LAB_PHONE_VOIP;

export interface Vip {
  /** Section name in pbx-ha.conf ([vip.voip]) and VRRP instance name in keepalived's. */
  name: 'voip' | 'data';
  address: string;
  prefix: number;
  iface: string;
  /** The route the built-in configuration gives the VIP (destination and gateway). */
  route: { dst: string; via: string };
}

/** The two VIPs of the lab's built-in configuration, as `scripts/lab up` writes it. */
export const VIPS: readonly Vip[] = [
  {
    name: 'voip',
    address: VOIP_VIP,
    prefix: PREFIX_LEN,
    iface: VOIP_IFACE,
    route: { dst: GATEWAY.extNet, via: GATEWAY.voip },
  },
  {
    name: 'data',
    address: DATA_VIP,
    prefix: PREFIX_LEN,
    iface: DATA_IFACE,
    route: { dst: 'default', via: GATEWAY.data },
  },
];

const NODE_ADDRESSES: Record<PbxNode, { voip: string; data: string }> = {
  pbx1: { voip: L.LAB_PBX1_VOIP, data: L.LAB_PBX1_DATA },
  pbx2: { voip: L.LAB_PBX2_VOIP, data: L.LAB_PBX2_DATA },
};

/** Address of a PBX node on the VOIP network, where its sshd and PostgreSQL listen. */
export function voipAddress(node: PbxNode): string {
  return NODE_ADDRESSES[node].voip;
}

/** Address of a PBX node on the DATA network. */
export function dataAddress(node: PbxNode): string {
  return NODE_ADDRESSES[node].data;
}

export function otherNode(node: PbxNode): PbxNode {
  return node === 'pbx1' ? 'pbx2' : 'pbx1';
}
