// The line that lets the peer's pbx-ha in, and nothing else: `restrict` turns off port, agent
// and X11 forwarding and the pty (sshd(8), AUTHORIZED_KEYS FILE FORMAT); `command=` forces
// pbx-ha's dispatcher whatever the client asks to run.

export interface PublicKey {
  type: string;
  base64: string;
  comment: string;
}

export function parsePublicKey(text: string): PublicKey | null {
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521))\s+([A-Za-z0-9+/]+=*)(?:\s+(\S.*))?$/.exec(
    text.trim(),
  );
  return m ? { type: m[1], base64: m[2], comment: m[3] ?? '' } : null;
}

/** The authorized_keys line for pbx-ha's key, forced to run `forcedCommand`. */
export function restrictedLine(key: PublicKey, forcedCommand: string): string {
  if (/["\\\n]/.test(forcedCommand))
    throw new Error(`forced command may not contain quotes, backslashes or newlines: ${forcedCommand}`);
  return `restrict,command="${forcedCommand}" ${key.type} ${key.base64} ${key.comment}`.trimEnd();
}

/**
 * authorized_keys with `line` added, or replacing any line that carries the same key (so
 * pairing again changes nothing, and an old unrestricted copy of the key is not left behind).
 */
export function withKeyLine(existing: string, line: string, key: PublicKey): string {
  const kept = existing
    .split('\n')
    .filter(
      (l) => l.trim() !== '' && !l.includes(` ${key.base64}`) && !l.startsWith(`${key.type} ${key.base64}`),
    );
  return [...kept, line].join('\n') + '\n';
}
