// `pbx-ha agent`: runs the agent in the foreground (systemd's Type=simple). This parses the
// command line; the daemon (agent/daemon.ts) builds the node, and handles reload and signals.

import { consoleLogger } from '../adapters/console-logger';
import { runDaemon } from '../agent/daemon';
import { CONFIG_OPTION, configFile, NODE_OPTION, parseOptions } from './options';
import { EXIT_CONFIG } from './usage';

export async function agentCommand(args: string[]): Promise<number> {
  const values = parseOptions('agent', args, {
    ...CONFIG_OPTION,
    ...NODE_OPTION,
    debug: { type: 'boolean' },
  });
  const log = consoleLogger(values.debug ? 'debug' : 'info');
  return runDaemon(configFile(values), values.node, log, EXIT_CONFIG);
}
