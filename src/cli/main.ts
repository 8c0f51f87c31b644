// Entry point of the `pbx-ha` command: one file per command, this one only dispatches.

import { acceptPeerKeyCommand } from './accept-peer-key';
import { agentCommand } from './agent';
import { checkConfigCommand } from './check-config';
import { failbackCommand, failoverCommand } from './failover';
import { historyCommand } from './history';
import { ifupCommand } from './ifup';
import { keepVipsOnStopCommand } from './keep-vips';
import { pairCommand } from './pair';
import { peerCommandCommand } from './peer-command';
import { statusCommand } from './status';
import { syncCommand } from './sync';
import { formatProblem } from '../config';
import { ConfigError, EXIT_CONFIG, EXIT_USAGE, USAGE, UsageError } from './usage';
import { asksForHelp, COMMAND_HELP, PUBLIC_COMMANDS, versionText } from './help';

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  agent: agentCommand,
  status: statusCommand,
  'check-config': checkConfigCommand,
  history: historyCommand,
  sync: syncCommand,
  failover: failoverCommand,
  failback: failbackCommand,
  ifup: ifupCommand,
  'keep-vips-on-stop': keepVipsOnStopCommand,
  pair: pairCommand,
  // Run by sshd and by pairing on the peer, not by people; not listed in the usage text.
  'peer-command': peerCommandCommand,
  'accept-peer-key': acceptPeerKeyCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) {
    // A mistake (exit 64): the text goes where errors go, not into a script's pipe.
    process.stderr.write(`pbx-ha: no command given\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (command === '--version' || command === '-V') {
    process.stdout.write(versionText() + '\n');
    return 0;
  }
  const run = COMMANDS[command];
  // Internal commands (run by sshd and by pairing) work but are not offered.
  if (!run)
    throw new UsageError(`pbx-ha: unknown command "${command}"; commands: ${PUBLIC_COMMANDS.join(', ')}`);
  if (asksForHelp(args)) {
    process.stdout.write(COMMAND_HELP[command] + '\n');
    return 0;
  }
  return run(args);
}

/**
 * Exits once what was written to stdout and stderr has left the process. On a pipe Node.js
 * writes asynchronously and process.exit() drops what is still queued: the forced command's
 * last answers were lost that way under load (898 of 1001 lines read by the peer). A reader that
 * takes nothing for 10 s is not waited for longer.
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  setTimeout(() => process.exit(code), 10_000).unref();
  // A reader gone (EPIPE): what is queued will never leave; exit with the command's own code.
  for (const stream of [process.stdout, process.stderr]) stream.once('error', () => process.exit(code));
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (e: Error) => {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${USAGE}\n`);
      return exitAfterOutput(EXIT_USAGE);
    }
    if (e instanceof ConfigError) {
      for (const p of e.problems) process.stderr.write(`${formatProblem(p)}\n`);
      process.stderr.write(`${e.message}\n`);
      return exitAfterOutput(EXIT_CONFIG);
    }
    process.stderr.write(`pbx-ha: ${e.message}\n`);
    exitAfterOutput(1);
  },
);
