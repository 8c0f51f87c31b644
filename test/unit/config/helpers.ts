/**
 * What the configuration tests share: a minimal valid file and assertions on the result of
 * parsing a text.
 */
import assert from 'node:assert/strict';
import { formatProblem } from '../../../src/config/format';
import { parseConfigText } from '../../../src/config/load';
import type { ConfigProblem, PbxHaConfig } from '../../../src/config/types';

export const FILE = '/etc/pbx-ha/pbx-ha.conf';

/** A minimal valid file of ten lines: sections appended to it start on line 11. */
export const BASE = `[cluster]
master = pbx1
slave = pbx2
[node.pbx1]
address = 192.0.2.11
[node.pbx2]
address = 192.0.2.12
[vip.voip]
address = 192.0.2.10/24
interface = eth0
`;

/** The text must be accepted; returns the configuration. */
export function ok(text: string, file = FILE): PbxHaConfig {
  const result = parseConfigText(text, file);
  assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
  return result.config;
}

/** The text must be refused; returns its problems. */
export function problems(text: string): ConfigProblem[] {
  const result = parseConfigText(text, FILE);
  assert.equal(result.ok, false, 'the configuration should be refused');
  return result.ok ? [] : result.problems;
}

/** Exactly one problem; returns it with its formatted message. */
export function one(text: string): ConfigProblem & { message: string } {
  const found = problems(text);
  assert.equal(found.length, 1, found.map(formatProblem).join('\n'));
  return { ...found[0], message: formatProblem(found[0]) };
}
