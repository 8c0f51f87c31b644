/** Cases 1 and 2: a node's cables flap (down 1 s, up 2 s) for PARAMS.flapSeconds. */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { type CaseSpec, type PbxNode, PARAMS, VOIP_VIP, faultCase } from './lib';
import { describeGaps, failbackGaps } from '../../lab/failback-gaps';

/** Both nodes holding a VIP for longer than one detection interval (600 ms) plus sampling slack. */
const DOUBLE_HOLDING_BOUND_MS = 1500;

/**
 * The master's flaps run with the default failback_delay of 0: a failback begins in each 2 s
 * window between cuts. Its data step (the slave's astdb brought across) runs outside the
 * agent's event queue, so a cut during it is seen at once and abandons the failback.
 */

export async function linkFlaps(t: TestContext, spec: CaseSpec, node: PbxNode): Promise<void> {
  await faultCase(t, spec, {}, async (f) => {
    const pinger = await f.lab.startPhonePinger(VOIP_VIP, 20);
    const sampler = f.holderSampler();
    const { cycles, reasons } = await f.flap(node, PARAMS.flapSeconds * 1000);
    const holders = await sampler.stop();
    const ping = await pinger.stop();
    f.detail(
      `${cycles} flaps of ${node} in ${PARAMS.flapSeconds} s; the phone got ${ping.replies}/${ping.sent} replies, longest gap ${Math.round(ping.longestGapMs)} ms`,
    );
    f.detail(`holder samples: ${holders.samples}, longest double holding: ${holders.longestDoubleMs} ms`);

    // The fault is visible to the node: status says why, while its cables are out.
    const inFault = reasons.filter((r) => /^fault: no carrier on eth0, eth1$/.test(r));
    assert.ok(
      inFault.length >= Math.ceil(cycles / 2),
      `${node}'s status says "no carrier on eth0, eth1" during the cuts; saw: ${[...new Set(reasons)].join(' | ')}`,
    );
    assert.match(
      await f.lab.agentLog(node),
      new RegExp(`${node}: \\w+ -> fault \\(no carrier on eth0, eth1\\)`),
      `${node}'s log says why it went to fault`,
    );
    assert.match(
      await f.history(node),
      /-> fault \(no carrier on eth0, eth1\)/,
      `${node}'s history has the fault`,
    );
    assert.ok(
      holders.longestDoubleMs <= DOUBLE_HOLDING_BOUND_MS,
      `both nodes held a VIP for ${holders.longestDoubleMs} ms`,
    );
    if (node === 'pbx2') {
      // A slave in fault never takes over: the master keeps the VIPs, the phone sees no outage.
      assert.deepEqual(holders.everHeld, ['pbx1'], 'only the master ever held the VIPs');
      assert.ok(
        ping.longestGapMs < 1000,
        `the phone lost the VIP for ${ping.longestGapMs} ms while only the slave flapped`,
      );
    } else {
      assert.ok(holders.everHeld.includes('pbx2'), 'the slave served while the master was cut');
    }

    await f.checkInvariants();
    if (node === 'pbx1') {
      // Each failback (most are cut short by the next flap; the last one ends the case): how
      // long the VIPs had no holder, from both agents' logs. The slave's Asterisk writes its
      // astdb all the time it serves, so each brings changes back.
      f.detail(
        `failbacks: ${describeGaps(failbackGaps(await f.lab.agentLog('pbx1'), await f.lab.agentLog('pbx2')))}`,
      );
    }
  });
}
