/**
 * FAULT 5: both nodes boot at the same moment, again and again: both agents killed with SIGKILL,
 * the VIPs deleted on both, both agents started at once.
 */
import { test } from 'node:test';
import { PARAMS, faultCase } from './lib';

test(
  'FAULT 5: both nodes boot at the same moment, many times',
  { timeout: (PARAMS.bootRounds * 30 + 240) * 1000 },
  async (t) => {
    await faultCase(
      t,
      {
        n: 5,
        name: 'both-boot-together',
        fault: `both nodes boot at the same moment, ${PARAMS.bootRounds} times (both agents killed with SIGKILL, the VIPs deleted on both, both agents started at once)`,
        holds: 'every round ends with the master alone holding the VIPs and the slave in standby',
      },
      {},
      async (f) => {
        for (let round = 1; round <= PARAMS.bootRounds; round++) {
          await Promise.all([f.killAgent('pbx1'), f.killAgent('pbx2')]);
          await Promise.all([f.removeVips('pbx1'), f.removeVips('pbx2')]);
          const started = Date.now();
          await f.startBoth();
          await f.checkInvariants({ report: round === PARAMS.bootRounds }).catch((e: Error) => {
            throw new Error(`round ${round}: ${e.message}`);
          });
          f.t.diagnostic(`round ${round}: settled and checked in ${Date.now() - started} ms`);
        }
        f.detail(`${PARAMS.bootRounds} rounds, each ending with pbx1 the sole holder and pbx2 in standby`);
      },
    );
  },
);
