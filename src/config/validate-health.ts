// [health]: optional; how the nodes probe each other and the tracked addresses (ICMP).
//
//   HEALTH_KEYS
//   readHealth(reader, nodes, vips): HealthConfig | null     null when a value was refused (recorded)

import { CONFIG_DEFAULTS as D, CONFIG_LIMITS as L } from './defaults';
import { formatDurationMs } from './duration';
import type { SectionReader } from './read-values';
import type { HealthConfig, NodeConfig, VipConfig } from './types';

export const HEALTH_KEYS: readonly string[] = ['interval', 'fall', 'rise', 'timeout', 'track'];

/** `nodes`, `vips`: for the cross-section check that nothing of the pair itself is tracked. */
export function readHealth(
  health: SectionReader,
  nodes: readonly NodeConfig[],
  vips: readonly VipConfig[],
): HealthConfig | null {
  const intervalMs = health.duration('interval', {
    defaultMs: D.health.intervalMs,
    minMs: L.healthIntervalMs.min,
    maxMs: L.healthIntervalMs.max,
  });
  const fall = health.integer('fall', { default: D.health.fall, min: L.fallRise.min, max: L.fallRise.max });
  const rise = health.integer('rise', { default: D.health.rise, min: L.fallRise.min, max: L.fallRise.max });
  const timeoutMs = health.duration('timeout', {
    defaultMs: intervalMs ?? D.health.intervalMs,
    minMs: 1,
    maxMs: L.healthIntervalMs.max * L.fallRise.max,
  });
  if (timeoutMs !== null && intervalMs !== null && fall !== null && timeoutMs > fall * intervalMs) {
    // A probe still waiting when the peer is already declared down would be meaningless.
    health.report(
      health.entry('timeout')!,
      `at most fall × interval = ${fall} × ${formatDurationMs(intervalMs)} = ${formatDurationMs(fall * intervalMs)}`,
      'timeout longer than the detection time',
    );
  }
  // `track` here is ICMP only; a command belongs in a [track.NAME] section, a common confusion.
  const track = health.ipv4List('track', (item) =>
    item.startsWith('/') || /\s/.test(item)
      ? 'a command, not an address: tracked commands go in a [track.NAME] section'
      : undefined,
  );
  const trackEntry = health.entry('track');
  for (const address of track) {
    // Tracking the peer would put the slave in fault exactly when the master dies, and a slave in
    // fault never takes over; tracking a VIP tests nothing, since a node may be the one holding it.
    const node = nodes.find((n) => n.address === address);
    const vip = vips.find((v) => v.address === address);
    if (trackEntry !== undefined && (node !== undefined || vip !== undefined)) {
      const what = node !== undefined ? `[node.${node.name}]` : `[vip.${vip!.name}]`;
      health.report(
        trackEntry,
        'addresses outside the pair, usually the gateway',
        `this is the address of ${what}`,
        address,
      );
    }
  }
  if (intervalMs === null || fall === null || rise === null || timeoutMs === null) return null;
  return { intervalMs, fall, rise, timeoutMs, track };
}
