// `pbx-ha ifup IFACE`: what the ifupdown hook runs when an interface comes up. Tells the agent
// to look at its links now (a master back from a cut fetches the slave's astdb before it takes
// the VIPs back). Never fails and never waits long: it must not hold up the network start-up.

import { controlRequest } from '../adapters/control-socket';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { socketPathFor } from './status';
import { formatProblem } from '../config';
import { ConfigError, UsageError } from './usage';

const HOOK_TIMEOUT_MS = 2000;

export async function ifupCommand(args: string[]): Promise<number> {
  const iface = args[0] !== undefined && !args[0].startsWith('-') ? args.shift()! : undefined;
  const values = parseOptions('ifup', args, { ...CONFIG_OPTION });
  if (!iface || !/^[A-Za-z0-9_.:-]{1,15}$/.test(iface))
    throw new UsageError(`pbx-ha ifup: expected an interface name, got ${JSON.stringify(iface ?? '')}`);
  try {
    // Inside the try: even a bad --config must not fail the network start-up.
    await controlRequest(
      socketPathFor(configFile(values)),
      { request: 'link-up', interface: iface },
      HOOK_TIMEOUT_MS,
    );
  } catch (e) {
    // No agent (not configured, or stopped): nothing to tell, and nothing to fail.
    const why =
      e instanceof ConfigError
        ? `${e.message}: ${e.problems.map(formatProblem).join('; ')}`
        : (e as Error).message;
    process.stderr.write(`pbx-ha ifup ${iface}: ${why}\n`);
  }
  return 0;
}
