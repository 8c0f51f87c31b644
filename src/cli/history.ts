// `pbx-ha history [--limit N] [--json]`: transitions, copies and alerts, oldest first, read
// from state.db (works whether the agent runs or not).

import { existsSync } from 'node:fs';
import path from 'node:path';
import { StateStore } from '../adapters/state-store';
import { CONFIG_DEFAULTS, DEFAULT_CONFIG_FILE, loadConfigFile } from '../config';
import { CONFIG_OPTION, configFile, parseOptions } from './options';
import { ConfigError, UsageError } from './usage';

export async function historyCommand(args: string[]): Promise<number> {
  const values = parseOptions('history', args, {
    ...CONFIG_OPTION,
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  // Digits only: Number() would also take "1e3", "0x10" and " 7 ".
  const limit = values.limit === undefined ? 50 : /^\d{1,6}$/.test(values.limit) ? Number(values.limit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw new UsageError(
      `pbx-ha history: --limit expects a whole number from 1 to 100000, got "${values.limit}"`,
    );
  }
  const config = configFile(values);
  const loaded = loadConfigFile(config);
  // As socketPathFor: the default file may be missing or being edited, a named one must be usable.
  if (!loaded.ok && config !== DEFAULT_CONFIG_FILE) throw new ConfigError(config, loaded.problems);
  const stateDir = loaded.ok ? loaded.config.agent.stateDir : CONFIG_DEFAULTS.agent.stateDir;
  const file = path.join(stateDir, 'state.db');
  if (!existsSync(file)) {
    process.stderr.write(
      `pbx-ha history: no history yet (${file} does not exist: the agent has not run here)\n`,
    );
    return 1;
  }
  let store: StateStore | null = null;
  let events: ReturnType<StateStore['recent']>;
  try {
    store = new StateStore(file, true);
    events = store.recent(limit);
  } catch (e) {
    // A damaged or foreign file: SQLite's message alone ("file is not a database") names no file.
    process.stderr.write(`pbx-ha history: cannot read the history in ${file}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    store?.close();
  }
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        events.map((e) => ({ ...e, at: new Date(e.atWallMs).toISOString() })),
        null,
        2,
      ) + '\n',
    );
  } else {
    for (const e of events) {
      process.stdout.write(
        `${new Date(e.atWallMs).toISOString()}  ${e.kind.padEnd(10)} ${e.ok ? '  ' : '! '}${e.summary}\n`,
      );
    }
  }
  return 0;
}
