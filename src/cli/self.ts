// The path of this program as the peer must run it (the forced command of pairing). Both
// nodes run the same installation, so the local path is the remote one too.

export function selfPath(): string {
  const self = process.env.PBX_HA_SELF ?? '/usr/bin/pbx-ha';
  // It goes into a remote command line and into authorized_keys: keep it to plain characters.
  if (!/^\/[A-Za-z0-9_./-]+$/.test(self))
    throw new Error(`pbx-ha is installed at a path with unusual characters: ${self}`);
  return self;
}
