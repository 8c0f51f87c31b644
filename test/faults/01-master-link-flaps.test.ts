/** FAULT 1: the master's link flaps (down 1 s, up 2 s) for PBX_FAULTS_FLAP_SECONDS (default 60). */
import { test } from 'node:test';
import { PARAMS } from './lib';
import { linkFlaps } from './flaps';

test("FAULT 1: the master's link flaps", { timeout: (PARAMS.flapSeconds + 240) * 1000 }, async (t) => {
  await linkFlaps(
    t,
    {
      n: 1,
      name: 'master-link-flaps',
      fault: `the master's cables flap: down 1 s, up 2 s, for ${PARAMS.flapSeconds} s`,
      holds:
        'the master in fault while cut ("no carrier on eth0, eth1"), the slave serving meanwhile; afterwards the master alone holds the VIPs',
    },
    'pbx1',
  );
});
