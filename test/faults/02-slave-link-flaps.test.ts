/** FAULT 2: the slave's link flaps (down 1 s, up 2 s) for PBX_FAULTS_FLAP_SECONDS (default 60). */
import { test } from 'node:test';
import { PARAMS } from './lib';
import { linkFlaps } from './flaps';

test("FAULT 2: the slave's link flaps", { timeout: (PARAMS.flapSeconds + 240) * 1000 }, async (t) => {
  await linkFlaps(
    t,
    {
      n: 2,
      name: 'slave-link-flaps',
      fault: `the slave's cables flap: down 1 s, up 2 s, for ${PARAMS.flapSeconds} s`,
      holds: 'the slave in fault while cut, never taking over; the master keeps the VIPs throughout',
    },
    'pbx2',
  );
});
