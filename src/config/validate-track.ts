// [track.NAME] sections: tracked checks, zero or more.
//
//   TRACK_KEYS, TRACK_NAME, TRACK_NAME_EXPECTED
//   readTrackCheck(reader): TrackCheckConfig | null
//       `reader` is the section's SectionReader (unknown keys already checked); null when a value
//       was refused (every refusal is recorded in the reader's problems).
//
// A check is a command run without a shell (the same splitter and rules as [services]), whose exit
// status says whether this node can serve; rise/fall count its results as keepalived's
// track_script does. Beyond each value: the timeout is shorter than the interval, so that one run
// ends before the next one is due and runs never pile up on a hung Asterisk console.
//
// No check is implied: without a [track.*] section, pbx-ha tracks no command (it must also work on
// machines without Asterisk). etc/pbx-ha.conf shows the Asterisk one, commented out.

import { CONFIG_DEFAULTS, CONFIG_LIMITS as L } from './defaults';
import { formatDurationMs } from './duration';
import type { SectionReader } from './read-values';
import type { TrackCheckConfig } from './types';

const D = CONFIG_DEFAULTS.track;

export const TRACK_KEYS: readonly string[] = ['command', 'interval', 'timeout', 'rise', 'fall'];

/** 1-32 letters, digits, "_" or "-", not starting with "_" or "-" (as a VIP's name). */
export const TRACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
export const TRACK_NAME_EXPECTED =
  '[track.NAME] where NAME is 1-32 letters, digits, "_" or "-", starting with a letter or digit, such as [track.asterisk]';

const EXAMPLE = '/usr/sbin/asterisk -rx "core show uptime"';

export function readTrackCheck(r: SectionReader): TrackCheckConfig | null {
  const name = r.section.name.slice('track.'.length);
  const command = r.requiredCommand('command', EXAMPLE);
  const intervalMs = r.duration('interval', {
    defaultMs: D.intervalMs,
    minMs: L.trackIntervalMs.min,
    maxMs: L.trackIntervalMs.max,
  });
  const timeoutMs = r.duration('timeout', {
    defaultMs: D.timeoutMs,
    minMs: L.trackTimeoutMs.min,
    maxMs: L.trackTimeoutMs.max,
  });
  if (intervalMs !== null && timeoutMs !== null && timeoutMs >= intervalMs) {
    const timeoutEntry = r.entry('timeout');
    const intervalEntry = r.entry('interval');
    if (timeoutEntry !== undefined) {
      const interval = `interval (${formatDurationMs(intervalMs)}${intervalEntry === undefined ? ', its default' : ''})`;
      r.report(
        timeoutEntry,
        `a duration shorter than ${interval}${intervalEntry === undefined ? ', or a longer interval' : ''}`,
        'timeout not shorter than interval',
      );
    } else {
      // Only interval was written, at or below timeout's default: that is the line to fix.
      r.report(
        intervalEntry!,
        `a duration longer than timeout (${formatDurationMs(timeoutMs)}, its default), or a shorter timeout`,
        'interval not longer than timeout',
      );
    }
  }
  const rise = r.integer('rise', { default: D.rise, min: L.fallRise.min, max: L.fallRise.max });
  const fall = r.integer('fall', { default: D.fall, min: L.fallRise.min, max: L.fallRise.max });

  if (command === null || intervalMs === null || timeoutMs === null || rise === null || fall === null)
    return null;
  return { name, command, intervalMs, timeoutMs, rise, fall };
}
