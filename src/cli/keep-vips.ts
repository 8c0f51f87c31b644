// `pbx-ha keep-vips-on-stop`: run by the package's prerm before an upgrade, so that the agent,
// stopped by the upgrade, leaves an active node's VIPs in place; the new agent finds them
// held and keeps them (as after a crash). Exits 0 when no agent runs: nothing to keep then.

import { controlRequest } from '../adapters/control-socket';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { socketPathFor } from './status';

export async function keepVipsOnStopCommand(args: string[]): Promise<number> {
  const values = parseOptions('keep-vips-on-stop', args, { ...CONFIG_OPTION });
  const socket = socketPathFor(configFile(values));
  try {
    const answer = await controlRequest(socket, { request: 'release-on-stop', release: false }, 5000);
    if (!answer.ok) {
      process.stderr.write(`pbx-ha keep-vips-on-stop: the agent refused: ${answer.error}\n`);
      return 1;
    }
    process.stdout.write('the running agent will keep its VIPs when it stops\n');
  } catch (e) {
    process.stdout.write(`pbx-ha keep-vips-on-stop: ${(e as Error).message}; nothing to do\n`);
  }
  return 0;
}
