// One configuration problem as one line an administrator can act on:
//
//   formatProblem(p: ConfigProblem): string
//
//   /etc/pbx-ha/pbx-ha.conf:12: [health] interval = "1 sec": expected a duration such as 200ms, 1s or 2m
//   /etc/pbx-ha/pbx-ha.conf:14: [health] intreval = "1s": unknown key (did you mean "interval"?); expected one of: ...
//   /etc/pbx-ha/pbx-ha.conf: [vip.voip]: missing section ...
//
// `file:line:` is the form editors and grep understand, so an administrator can jump to the line.
// The whole line goes through printable(): names, values and the problem text all come from the
// file (a problem may quote a value), and none may reach the terminal with its control codes.

import { printable } from './printable';
import type { ConfigProblem } from './types';

/** Values are quoted in messages, but a huge one would drown the message: its start is enough. */
const SHOWN_VALUE_CHARS = 200;

function quoted(value: string): string {
  if (value.length <= SHOWN_VALUE_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, SHOWN_VALUE_CHARS))}… (${value.length} characters)`;
}

export function formatProblem(p: ConfigProblem): string {
  let text = p.line === undefined ? `${p.file}: ` : `${p.file}:${p.line}: `;
  const where: string[] = [];
  if (p.section !== null) where.push(`[${p.section}]`);
  if (p.key !== null) where.push(p.value === null ? p.key : `${p.key} = ${quoted(p.value)}`);
  else if (p.value !== null) where.push(quoted(p.value));
  if (where.length > 0) text += `${where.join(' ')}: `;
  if (p.problem !== undefined) text += `${p.problem}; `;
  return printable(`${text}expected ${p.expected}`);
}
