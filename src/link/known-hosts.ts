// pbx-ha's own known_hosts: the peer's host key recorded at pairing, checked at every
// connection. Same format as OpenSSH's (so `ssh -o UserKnownHostsFile=` reads it too), plain
// host names only (no hashing: the file holds one peer and is root-only anyway).

import { createHash } from 'node:crypto';

export interface HostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, … */
  type: string;
  /** The key blob, base64 as in the file. */
  base64: string;
}

/** The host field OpenSSH writes: `host`, or `[host]:port` for a port other than 22. */
export function hostField(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function knownHostsLine(host: string, port: number, key: HostKey): string {
  return `${hostField(host, port)} ${key.type} ${key.base64}`;
}

/** The keys recorded for `host:port` (comments, markers and hashed entries are skipped). */
export function keysFor(text: string, host: string, port: number): HostKey[] {
  const wanted = hostField(host, port);
  const keys: HostKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@') || line.startsWith('|')) continue;
    const [hosts, type, base64] = line.split(/\s+/);
    if (!hosts || !type || !base64) continue;
    if (hosts.split(',').includes(wanted)) keys.push({ type, base64 });
  }
  return keys;
}

export type HostKeyVerdict =
  { kind: 'match' } | { kind: 'unknown' } | { kind: 'changed'; recorded: string[]; offered: string };

/** Compares the key a server offers with the recorded ones. */
export function verifyHostKey(text: string, host: string, port: number, offered: Buffer): HostKeyVerdict {
  const recorded = keysFor(text, host, port);
  if (recorded.length === 0) return { kind: 'unknown' };
  if (recorded.some((k) => Buffer.from(k.base64, 'base64').equals(offered))) return { kind: 'match' };
  return {
    kind: 'changed',
    recorded: recorded.map((k) => fingerprint(Buffer.from(k.base64, 'base64'))),
    offered: fingerprint(offered),
  };
}

/** Parses one line of `ssh-keyscan` output (`host type base64`), or null. */
export function parseKeyscanLine(line: string): HostKey | null {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 3 || parts[0].startsWith('#')) return null;
  const [, type, base64] = parts;
  if (!/^[a-z0-9-]+(@[a-z0-9.-]+)?$/.test(type) || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
  return { type, base64 };
}
