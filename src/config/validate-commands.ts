// [services] and [notify]: optional; the programs the agent runs, with their timeouts.
//
//   SERVICES_KEYS, NOTIFY_KEYS
//   readServices(reader): ServicesConfig | null      null when a value was refused (recorded)
//   readNotify(reader): NotifyConfig | null

import { CONFIG_DEFAULTS as D, CONFIG_LIMITS as L } from './defaults';
import type { SectionReader } from './read-values';
import type { CommandConfig, NotifyConfig, ServicesConfig } from './types';

export const SERVICES_KEYS: readonly string[] = ['start', 'stop', 'timeout'];
export const NOTIFY_KEYS: readonly string[] = ['script', 'timeout'];

const command = (argv: string[] | null, timeoutMs: number): CommandConfig | null =>
  argv === null ? null : { argv, timeoutMs };

export function readServices(services: SectionReader): ServicesConfig | null {
  const serviceTimeoutMs = services.duration('timeout', {
    defaultMs: D.services.timeoutMs,
    minMs: L.commandTimeoutMs.min,
    maxMs: L.commandTimeoutMs.max,
  });
  const startArgv = services.command('start', '/usr/bin/xivo-service start');
  const stopArgv = services.command('stop', '/usr/bin/xivo-service stop');
  if (serviceTimeoutMs === null) return null;
  return { start: command(startArgv, serviceTimeoutMs), stop: command(stopArgv, serviceTimeoutMs) };
}

export function readNotify(notify: SectionReader): NotifyConfig | null {
  const notifyTimeoutMs = notify.duration('timeout', {
    defaultMs: D.notify.timeoutMs,
    minMs: L.commandTimeoutMs.min,
    maxMs: L.commandTimeoutMs.max,
  });
  const scriptArgv = notify.command('script', '/etc/pbx-ha/notify');
  if (notifyTimeoutMs === null) return null;
  return { script: command(scriptArgv, notifyTimeoutMs) };
}
