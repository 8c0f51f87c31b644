// Argument parsing shared by the commands, on node:util's parseArgs: unknown options and
// missing values are refused with a message naming them.

import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE } from '../config';
import { UsageError } from './usage';

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export function parseOptions<T extends OptionSpec>(command: string, args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new UsageError(`pbx-ha ${command}: ${(e as Error).message}`);
  }
}

export const CONFIG_OPTION = { config: { type: 'string' as const, short: 'c' } };
export const NODE_OPTION = { node: { type: 'string' as const } };

export function configFile(values: { config?: string | boolean }): string {
  return typeof values.config === 'string' ? values.config : DEFAULT_CONFIG_FILE;
}
