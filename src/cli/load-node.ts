// Loads the configuration and finds this node in it, with every problem collected: what
// `check-config`, `agent` and a SIGHUP reload all need.

import os from 'node:os';
import type { ConfigProblem, IpAddrInterface, NodeSelection, PbxHaConfig } from '../config';
import { checkHost, isConfigProblem, loadConfigFile, selectNode } from '../config';
import { runCommand } from '../adapters/exec';

export type LoadedNode = { ok: true; config: PbxHaConfig; selection: NodeSelection } | { ok: false; problems: ConfigProblem[] };

async function interfaces(): Promise<IpAddrInterface[]> {
  const { stdout } = await runCommand(['/usr/sbin/ip', '-json', 'address', 'show'], { timeoutMs: 5000 });
  return JSON.parse(stdout) as IpAddrInterface[];
}

export async function loadNode(file: string, nodeOverride: string | undefined): Promise<LoadedNode> {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) return loaded;
  const selection =
    nodeOverride !== undefined
      ? selectNode(loaded.config, nodeOverride, file, '--node')
      : selectNode(loaded.config, os.hostname(), file, 'hostname');
  if (isConfigProblem(selection)) return { ok: false, problems: [selection] };
  const problems = checkHost(loaded.config, selection.node.name, await interfaces());
  if (problems.length) return { ok: false, problems };
  return { ok: true, config: loaded.config, selection };
}
