// Schedules of the replication jobs: node-cron expressions, checked by node-cron itself so that what
// the configuration accepts is exactly what the scheduler will run.
//
//   cronProblem(expression: string): string | null      null when node-cron accepts it, else why not
//
// node-cron reads 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds in front,
// names (`mon-fri`, `jan`), steps (`*/2`), lists and ranges; times are the node's local time.

import cron from 'node-cron';

const FIELDS_5 = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const FIELDS_6 = ['second', ...FIELDS_5];

// A step of 0 (`*/0`): node-cron 4.2 loops filling memory until the process dies instead of
// refusing it, so it is refused before node-cron sees it.
const ZERO_STEP = /\/0*(,|$)/;

export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  const names = fields.length === 5 ? FIELDS_5 : fields.length === 6 ? FIELDS_6 : null;
  const zeroStep = names === null ? -1 : fields.findIndex((f) => ZERO_STEP.test(f));
  if (names !== null && zeroStep >= 0) {
    return `not a valid cron expression (bad ${names[zeroStep]} field "${fields[zeroStep]}": a step of 0)`;
  }
  if (cron.validate(expression)) return null;
  // Which field is wrong: each field alone, the others '*', judged by node-cron's validate(), so
  // the detail never disagrees with the scheduler. (node-cron's own validateDetailed() exists only
  // in the versions that need Node.js 20; the package also runs on Debian 12's Node.js 18.)
  if (names === null) return `not a valid cron expression (expected 5 or 6 fields but got ${fields.length})`;
  for (let i = 0; i < fields.length; i++) {
    const alone = fields.map((f, j) => (j === i ? f : '*')).join(' ');
    if (!cron.validate(alone)) return `not a valid cron expression (bad ${names[i]} field "${fields[i]}")`;
  }
  return 'not a valid cron expression';
}
