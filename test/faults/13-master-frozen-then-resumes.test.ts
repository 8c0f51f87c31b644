/**
 * FAULT 13: the active master freezes without a carrier change (a VM snapshot, a live
 * migration): the slave takes over; when the master resumes, the network must follow the node
 * that keeps the VIPs at once, not when an ARP cache happens to expire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOIP_VIP, faultCase, sleep } from './lib';
import { freezeNode, primeNeighbours, waitNetworkPointsAt } from './field';

test('FAULT 13: the active master freezes for 1.5 s, then resumes', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 13,
      name: 'master-frozen-then-resumes',
      fault:
        'the active master freezes for 1.5 s without a carrier change (every process in it stopped with SIGSTOP, its switch ports blocked, as a VM pause does), then resumes; twice',
      holds:
        "the slave takes over meanwhile; within 2 s of the resume the slave has yielded and the phone and the gateway point at the master, which re-announced the VIPs; the phone's longest outage under 3 s",
    },
    {},
    async (f) => {
      for (let round = 1; round <= 2; round++) {
        await primeNeighbours(f);
        const pinger = await f.lab.startPhonePinger(VOIP_VIP, 10);
        f.onCleanup(async () => void (await pinger.stop())); // also when the case fails half-way
        const sampler = f.holderSampler();
        f.onCleanup(async () => void (await sampler.stop()));
        await sleep(500);
        const resumedAt = await freezeNode(f, 'pbx1', 1500);
        const pointedAfterMs = await waitNetworkPointsAt(f, 'pbx1', resumedAt, 2000);
        await f.lab.waitFor(
          'the slave released the VIPs',
          async () => (await f.holders(VOIP_VIP)).join() === 'pbx1',
          Math.max(100, resumedAt + 2000 - Date.now()),
          20,
        );
        const yieldedAfterMs = Date.now() - resumedAt;
        await sleep(1000);
        const ping = await pinger.stop();
        const holders = await sampler.stop();
        f.detail(
          `round ${round}: network back at the master ${pointedAfterMs} ms after the resume, slave yielded within ${yieldedAfterMs} ms; ` +
            `the phone's longest gap ${Math.round(ping.longestGapMs)} ms; both held a VIP for at most ${holders.longestDoubleMs} ms`,
        );
        assert.deepEqual(
          holders.everHeld,
          ['pbx1', 'pbx2'],
          'the slave took over while the master was frozen',
        );
        assert.ok(ping.longestGapMs < 3000, `the phone lost the VIP for ${ping.longestGapMs} ms`);
        await f.checkInvariants({ settleMs: 5000, report: round === 2 });
      }
      assert.match(await f.lab.agentLog('pbx1'), /did not run for \d+ ms/, 'the master logged its stall');
    },
  );
});
