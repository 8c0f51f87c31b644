// `pbx-ha failover [--to NAME] [--force]` and `pbx-ha failback [--force]`: planned handovers,
// run on the master. The agent checks that the other node is ready and refuses, saying why,
// unless --force.

import { controlRequest } from '../adapters/control-socket';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { socketPathFor } from './status';

async function ask(command: 'failover' | 'failback', args: string[]): Promise<number> {
  const values = parseOptions(command, args, {
    ...CONFIG_OPTION,
    force: { type: 'boolean' },
    ...(command === 'failover' ? { to: { type: 'string' as const } } : {}),
  });
  if (values.force) {
    process.stderr.write(
      command === 'failover'
        ? 'pbx-ha failover --force: this node releases the VIPs even if the peer is not ready; the phones may lose the PBX until it is.\n'
        : 'pbx-ha failback --force: the slave is not asked first when it cannot be reached; this node takes the VIPs when nobody answers on them.\n',
    );
  }
  const answer = await controlRequest(
    socketPathFor(configFile(values)),
    { request: command, force: values.force === true, to: values.to },
    120_000,
  );
  if (!answer.ok) {
    process.stderr.write(`pbx-ha ${command}: ${answer.error}\n`);
    return 1;
  }
  process.stdout.write(`${String(answer.detail)}\n`);
  return 0;
}

export const failoverCommand = (args: string[]) => ask('failover', args);
export const failbackCommand = (args: string[]) => ask('failback', args);
