// Loads the configuration and finds this node in it, with every problem collected: what
// `check-config`, `agent` and a SIGHUP reload all need.

import os from 'node:os';
import type { ConfigProblem, IpAddrInterface, NodeSelection, PbxHaConfig } from '../config';
import { checkHost, isConfigProblem, loadConfigFile, selectNode } from '../config';
import { runCommand } from '../adapters/exec';
import { checkScript, type ScriptVerdict } from '../adapters/script-security';

export type LoadedNode =
  { ok: true; config: PbxHaConfig; selection: NodeSelection } | { ok: false; problems: ConfigProblem[] };

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
  const problems = [
    ...checkHost(loaded.config, selection.node.name, await interfaces()),
    ...scriptProblems(loaded.config, checkScript),
  ];
  if (problems.length) return { ok: false, problems };
  return { ok: true, config: loaded.config, selection };
}

/**
 * The programs this node would run as root (services, notify, tracked checks) that fail the
 * script checks, each as a problem naming its section and key: the agent never runs them, so it
 * does not start (or reload) with them.
 */
export function scriptProblems(
  config: PbxHaConfig,
  check: (program: string) => ScriptVerdict,
): ConfigProblem[] {
  const programs: { section: string; key: string; argv: readonly string[] }[] = [];
  if (config.services.start)
    programs.push({ section: 'services', key: 'start', argv: config.services.start.argv });
  if (config.services.stop)
    programs.push({ section: 'services', key: 'stop', argv: config.services.stop.argv });
  if (config.notify.script)
    programs.push({ section: 'notify', key: 'script', argv: config.notify.script.argv });
  for (const c of config.checks)
    programs.push({ section: `track.${c.name}`, key: 'command', argv: c.command });
  const problems: ConfigProblem[] = [];
  for (const { section, key, argv } of programs) {
    const verdict = check(argv[0]);
    if (verdict.ok) continue;
    problems.push({
      file: config.file,
      section,
      key,
      value: argv[0],
      problem: `not run as root: ${verdict.reason}`,
      expected:
        'an executable file owned by root and writable by root alone, in directories owned by root and writable by root alone (or sticky, as /tmp)',
    });
  }
  return problems;
}
