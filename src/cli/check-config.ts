// `pbx-ha check-config`: validates the file and this node's view of it, reports every
// problem at once, exits 0 only when all is well (systemd's ExecReload runs it first).

import { formatDurationMs, formatProblem, printable } from '../config';
import { loadNode } from '../agent/load-node';
import { CONFIG_OPTION, configFile, NODE_OPTION, parseOptions } from './options';
import { EXIT_CONFIG } from './usage';

export async function checkConfigCommand(args: string[]): Promise<number> {
  const values = parseOptions('check-config', args, { ...CONFIG_OPTION, ...NODE_OPTION });
  const file = configFile(values);
  // The file's name is the command line's: shown escaped like every name in a message.
  const shown = printable(file);
  const loaded = await loadNode(file, values.node);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(`${formatProblem(p)}\n`);
    const n = loaded.problems.length;
    process.stderr.write(`${shown}: ${n} problem${n === 1 ? '' : 's'}; the configuration is not valid\n`);
    return EXIT_CONFIG;
  }
  const { config, selection } = loaded;
  const h = config.health;
  process.stdout.write(
    `${shown}: OK — this is ${selection.node.name} (${selection.role}), peer ${selection.peer.name} ` +
      `(${selection.peer.address}); ${config.vips.length} VIP(s): ` +
      `${config.vips.map((v) => `${v.name} ${v.address}/${v.prefixLength} on ${v.interface}`).join(', ')}; ` +
      `failover after ${formatDurationMs(h.fall * h.intervalMs)} of silence\n`,
  );
  return 0;
}
