// Schedules of the replication jobs: node-cron expressions, checked by node-cron itself so that what
// the configuration accepts is exactly what the scheduler will run.
//
//   cronProblem(expression: string): string | null      null when node-cron accepts it, else why not
//
// node-cron reads 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds in front,
// names (`mon-fri`, `jan`), steps (`*/2`), lists and ranges; times are the node's local time.

import cron from 'node-cron';

export function cronProblem(expression: string): string | null {
  if (cron.validate(expression)) return null;
  // validateDetailed says which field is wrong; validate() alone decides, as the scheduler does.
  const first = cron.validateDetailed(expression).errors[0];
  if (first === undefined) return 'not a valid cron expression';
  if (first.field === 'expression') return `not a valid cron expression (${first.message})`;
  const field = first.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`); // dayOfWeek -> day-of-week
  return `not a valid cron expression (bad ${field} field${first.value === undefined ? '' : ` "${first.value}"`})`;
}
