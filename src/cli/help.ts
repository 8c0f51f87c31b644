// The text of `pbx-ha COMMAND --help` for each command, and of `pbx-ha --version`.
//
//   PUBLIC_COMMANDS                 the commands offered to people (usage text, "unknown command")
//   COMMAND_HELP[command]: string   usage line and description, printed on stdout with exit 0
//   asksForHelp(args): boolean      --help or -h among the options (before a "--")
//   versionText(): string           "pbx-ha VERSION (Node.js vX.Y.Z, ABI N)"
// pbx-ha(8) documents the same commands: a unit test compares the two.

import { readFileSync } from 'node:fs';
import path from 'node:path';

const CONFIG_NOTE = '\n\n  --config FILE, -c FILE   the configuration (default /etc/pbx-ha/pbx-ha.conf)';
const NODE_NOTE = "\n  --node NAME              this node's [node.NAME] section (default: found by hostname)";

/** Commands offered to people, in the order of the usage text. */
export const PUBLIC_COMMANDS = [
  'agent',
  'status',
  'check-config',
  'sync',
  'failover',
  'failback',
  'ifup',
  'keep-vips-on-stop',
  'history',
  'pair',
  'help',
] as const;

/** Run by sshd (the forced command of pbx-ha's key) and by pairing on the peer, not by people. */
export const INTERNAL_COMMANDS = ['peer-command', 'accept-peer-key'] as const;

export const COMMAND_HELP: Record<string, string> = {
  agent:
    'usage: pbx-ha agent [--config FILE] [--node NAME] [--debug]\n\nRuns the agent in the foreground (systemd runs this): probes the peer, holds or releases the\nVIPs, copies the data. SIGTERM releases the VIPs and exits; SIGHUP reloads the configuration.' +
    CONFIG_NOTE +
    NODE_NOTE +
    '\n  --debug                  log at debug level',
  status:
    "usage: pbx-ha status [--json] [--config FILE]\n\nShows the running agent's state, peer, VIPs, checks and copies. Exit 0; 3 when no agent runs.\n\n  --json                   the same as one JSON object" +
    CONFIG_NOTE.slice(1),
  'check-config':
    'usage: pbx-ha check-config [--config FILE] [--node NAME]\n\nValidates the configuration for this node (its interfaces, addresses, scripts). Exit 0 when it\nis good, 78 with one line per problem when not.' +
    CONFIG_NOTE +
    NODE_NOTE,
  sync:
    'usage: pbx-ha sync [files|db|astdb|all] [--now] [--config FILE]\n\nOn the active master: makes the copies to the slave now (all when no kind is given), one line\nper copy; exit 1 when a copy failed.\n\n  --now                    also send an astdb unchanged since the last copy' +
    CONFIG_NOTE.slice(1),
  failover:
    'usage: pbx-ha failover [--to NAME] [--force] [--config FILE]\n\nOn the active master: stops its services, sends a last astdb copy, releases the VIPs and hands\nover to the slave; refused, with the reason, when the slave is not ready.\n\n  --to NAME                the node expected to take over (must be the peer)\n  --force                  release the VIPs even if the slave is not ready' +
    CONFIG_NOTE.slice(1),
  failback:
    'usage: pbx-ha failback [--force] [--config FILE]\n\nOn the master: asks the slave to release the VIPs, fetches its astdb if it changed, then\nclaims the VIPs.\n\n  --force                  even when the slave is not ready or cannot be reached' +
    CONFIG_NOTE.slice(1),
  ifup:
    'usage: pbx-ha ifup IFACE [--config FILE]\n\nTells the agent that interface IFACE came up (the ifupdown hook runs this). Never fails.' +
    CONFIG_NOTE,
  'keep-vips-on-stop':
    'usage: pbx-ha keep-vips-on-stop [--config FILE]\n\nThe running agent keeps its VIPs when it stops (the package runs this before an upgrade).\nSucceeds without a running agent.' +
    CONFIG_NOTE,
  history:
    'usage: pbx-ha history [--limit N] [--json] [--config FILE]\n\nTransitions, copies and alerts, oldest first.\n\n  --limit N                the last N entries (1 to 100000)\n  --json                   one JSON object per line' +
    CONFIG_NOTE.slice(1),
  pair:
    "usage: pbx-ha pair [--fingerprint SHA256:…] [--yes] [--manual] [--config FILE] [--node NAME]\n\nSets up the trusted link to the peer, once, on the master: pbx-ha's own SSH key, pinned host keys.\n\n  --fingerprint SHA256:…   the peer's host key fingerprint, checked before it is trusted\n  --yes                    do not ask for confirmation\n  --manual                 print what to install on the peer instead of installing it" +
    CONFIG_NOTE.slice(1) +
    NODE_NOTE,
  help: 'usage: pbx-ha help\n\nShows the commands.',
  'peer-command':
    "usage: pbx-ha peer-command [--config FILE]\n\nInternal: the forced command of pbx-ha's key on the peer, run by sshd with SSH_ORIGINAL_COMMAND." +
    CONFIG_NOTE,
  'accept-peer-key':
    'usage: pbx-ha accept-peer-key\n\nInternal: run by `pbx-ha pair` on the peer; installs the key read on standard input.',
};

/** True when the options ask for help: --help or -h before a "--". */
export function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** The version of package.json (the program's own, beside dist/) and the Node.js running it. */
export function versionText(packageJson = path.join(__dirname, '../../../package.json')): string {
  let version = 'unknown';
  try {
    const parsed = JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown };
    if (typeof parsed.version === 'string') version = parsed.version;
  } catch {
    // A broken installation still says which Node.js it runs on.
  }
  return `pbx-ha ${version} (Node.js ${process.version}, ABI ${process.versions.modules})`;
}
