// [metrics]: the Prometheus endpoint; optional, every key has a default.
//
//   METRICS_KEYS
//   readMetrics(reader): MetricsConfig | null        null when a value was refused (recorded)
//
// listen is checked even when enabled = no, so that turning the endpoint on never reveals an old
// mistake. Any IPv4 address is accepted (0.0.0.0 included): this layer has no warnings, and
// etc/pbx-ha.conf says that anything but loopback exposes the PBX's state.

import { CONFIG_DEFAULTS } from './defaults';
import { parseListenAddress } from './listen';
import type { SectionReader } from './read-values';
import type { MetricsConfig } from './types';

const D = CONFIG_DEFAULTS.metrics;

export const METRICS_KEYS: readonly string[] = ['enabled', 'listen'];

const LISTEN_EXPECTED = `an IPv4 address and a port such as ${D.host}:${D.port}, or an IPv6 address in brackets and a port such as [::1]:${D.port}`;

export function readMetrics(r: SectionReader): MetricsConfig | null {
  const enabled = r.boolean('enabled', D.enabled);
  const listen = r.text('listen', `${D.host}:${D.port}`, LISTEN_EXPECTED, (t) => {
    const parsed = parseListenAddress(t);
    return parsed.ok ? null : parsed.problem;
  });
  const parsed = listen === null ? null : parseListenAddress(listen);
  if (enabled === null || parsed === null || !parsed.ok) return null;
  return { enabled, host: parsed.host, port: parsed.port };
}
