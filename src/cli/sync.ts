// `pbx-ha sync [files|db|astdb|all] [--now]`: runs copies now through the running agent (which
// knows whether this node may send), and prints a one-line result per copy. A copy already
// running is waited for, then a new one starts; --now also sends an astdb unchanged since
// the last copy (to refresh a slave whose copy is in doubt).

import { controlRequest } from '../adapters/control-socket';
import { COPY_KINDS, type CopyKind } from '../peer/protocol';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { socketPathFor } from './status';
import { UsageError } from './usage';

export async function syncCommand(args: string[]): Promise<number> {
  const what = args[0] !== undefined && !args[0].startsWith('-') ? args.shift()! : 'all';
  const values = parseOptions('sync', args, { ...CONFIG_OPTION, now: { type: 'boolean' } });
  const kinds: CopyKind[] =
    what === 'all'
      ? ['astdb', 'db', 'files']
      : (COPY_KINDS as readonly string[]).includes(what)
        ? [what as CopyKind]
        : [];
  if (kinds.length === 0)
    throw new UsageError(`pbx-ha sync: expected files, db, astdb or all, got "${what}"`);
  const socket = socketPathFor(configFile(values));
  let failed = 0;
  for (const kind of kinds) {
    const started = Date.now();
    // On a terminal, a live line says the copy is under way and for how long; the agent does
    // not report a percentage, so none is shown.
    const ticker = process.stdout.isTTY
      ? setInterval(
          () => process.stdout.write(`\r${kind}: copying… ${((Date.now() - started) / 1000).toFixed(1)} s`),
          200,
        )
      : null;
    const answer = await controlRequest(
      socket,
      { request: 'sync', kind, force: values.now === true },
      6 * 3600_000,
    ).finally(() => {
      if (ticker) {
        clearInterval(ticker);
        process.stdout.write('\r\x1b[K');
      }
    });
    const took = ((Date.now() - started) / 1000).toFixed(1);
    if (answer.ok) {
      process.stdout.write(`${kind}: ${String(answer.detail)} (${took} s)\n`);
    } else {
      failed++;
      process.stderr.write(`${kind}: ${answer.error} (${took} s)\n`);
    }
  }
  return failed ? 1 : 0;
}
