/**
 * FAULT 18: `[replication] enabled = no` (and never paired): failovers and failbacks go on by
 * the detectors alone, and the agent never tries the trusted link it was told not to use, nor
 * alerts about it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultCase, sleep } from './lib';

const OFF = (node: string, text: string) =>
  text.replace(/^\[replication\]\n/m, '[replication]\nenabled = no\n');

test('FAULT 18: replication turned off', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 18,
      name: 'replication-off',
      fault:
        "with `[replication] enabled = no` and no pairing, the master's cables are pulled for 3 s, then plugged back",
      holds:
        'the slave takes over and gives the VIPs back by the detectors alone; neither agent tries the trusted link (no SSH, no peer request) nor alerts about it',
    },
    { pair: false, editConfig: OFF },
    async (f) => {
      await f.lab.cut('pbx1');
      await f.waitSoleHolder('pbx2');
      await sleep(3000);
      await f.lab.restore('pbx1');
      await f.checkInvariants();
      await sleep(6000); // a retried request would show by now (release requests are retried after 1 s, then 5 s)
      for (const node of ['pbx1', 'pbx2'] as const) {
        const log = await f.lab.agentLog(node);
        const peerTalk = log
          .split('\n')
          .filter((l) => /peer-(takeover|release|hello)|known_hosts|ssh|trusted link/i.test(l));
        assert.deepEqual(peerTalk, [], `${node}'s agent never used the trusted link`);
        const alerts = (await f.history(node))
          .split('\n')
          .filter((l) => /alert/i.test(l) && !/no carrier|not answering/.test(l));
        assert.deepEqual(alerts, [], `${node} raised no alert but the fault's own`);
      }
      f.detail('no SSH connection tried, no alert about the trusted link');
    },
  );
});
