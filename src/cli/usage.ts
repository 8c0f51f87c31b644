// Command-line errors: a usage mistake exits with 64 (EX_USAGE, sysexits(3)), a bad
// configuration with 78 (EX_CONFIG), so scripts and systemd can tell them apart.

import { printable, type ConfigProblem } from '../config';

export const EXIT_USAGE = 64;
export const EXIT_CONFIG = 78;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The configuration file cannot be used: main prints each problem and exits with 78. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${printable(file)}: the configuration is not valid`);
    this.name = 'ConfigError';
  }
}

export const USAGE = `usage: pbx-ha COMMAND [OPTIONS]

Commands:
  agent [--config FILE] [--node NAME]   run the agent (systemd runs this)
  status [--json] [--config FILE]       show the running agent's state
  check-config [--config FILE] [--node NAME]
                                        validate the configuration; exit 0 when it is good
  sync [files|db|astdb|all] [--now]     copy to the slave now (on the active master)
  failover [--to NAME] [--force]        hand the service over to the slave (on the master)
  failback [--force]                    take it back (on the master)
  ifup IFACE                            tell the agent an interface came up (ifupdown hook)
  keep-vips-on-stop                     the running agent keeps its VIPs when it stops (upgrades)
  history [--limit N] [--json]          transitions, copies and alerts, oldest first
  pair [--fingerprint SHA256:…] [--yes] [--manual]
                                        set up the trusted link to the peer (on the master, once)
  help                                  show this text

Every command takes --help (-h); pbx-ha --version (-V) shows the version and the Node.js it
runs on. status exits with 3 when no agent runs.

The configuration is /etc/pbx-ha/pbx-ha.conf unless --config is given; the node is found by
hostname unless --node is given.`;
