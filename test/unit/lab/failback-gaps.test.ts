// The failback's time without a VIP holder, read from the two agents' logs (lab/failback-gaps.ts):
// the lab test and fault case 1 report and check it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeGaps, failbackGaps } from '../../../lab/failback-gaps';

const NET = '-route 203.0.113.0/24 via 192.0.2.1 src 192.0.2.10, -192.0.2.10/24 on eth0';
const CLAIM = '+192.0.2.10/24 on eth0, +route 203.0.113.0/24 via 192.0.2.1 src 192.0.2.10';

test('failbackGaps: each release of the slave paired with the master claim after it; a fetch in between is seen', () => {
  const slave = [
    '2026-11-30T10:00:00.000Z info  pbx2: standby -> active (master pbx1 silent for 600 ms)',
    "2026-11-30T10:00:05.100Z info  pbx2: active -> standby (released on pbx1's request)",
    `2026-11-30T10:00:05.110Z info  active -> standby (released on pbx1's request): ${NET}`,
    `2026-11-30T10:01:00.000Z info  active -> standby (master pbx1 answers): ${NET}`,
    `2026-11-30T10:02:00.000Z info  active -> standby (released on pbx1's request): ${NET}`,
  ].join('\n');
  const master = [
    `2026-11-30T09:59:00.000Z info  init -> active: ${CLAIM}`,
    "2026-11-30T10:00:05.200Z info  failback data (the slave's services stopped): astdb merged (90 ms)",
    `2026-11-30T10:00:05.420Z info  standby -> active: ${CLAIM}`,
    `2026-11-30T10:02:00.012Z info  standby -> active: ${CLAIM}`,
  ].join('\n');
  const gaps = failbackGaps(master, slave);
  assert.deepEqual(
    gaps.map((g) => [g.gapMs, g.fetchedInGap, g.reason]),
    [
      [310, true, "released on pbx1's request"],
      [12, false, "released on pbx1's request"],
    ],
    'the release at 10:01 has no claim within 10 s after it: not a failback',
  );
  assert.equal(
    describeGaps(gaps),
    '2 failbacks, VIPs without a holder: 310 ms, 12 ms (worst 310 ms; a fetch in the gap: 1)',
  );
  assert.equal(describeGaps([]), 'no failback in the logs');
});
