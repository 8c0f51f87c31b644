/**
 * FAULT 4: the master reboots while the slave is active: its agent and "Asterisk" die with
 * SIGKILL, its cables go dead, its addresses are gone; it boots again and its agent starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { faultCase, sleep } from './lib';

test('FAULT 4: the master reboots while the slave is active', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 4,
      name: 'master-reboots-while-slave-active',
      fault:
        'the master reboots (agent and Asterisk killed with SIGKILL, cables dead, VIPs gone) while the slave serves, then boots and starts its agent',
      holds:
        'the slave serves while the master is down; the rebooted master fetches the astdb the slave changed meanwhile, then takes the VIPs back',
    },
    {},
    async (f) => {
      // Power off: everything dies at once; a host that is off holds no address.
      await f.killAgent('pbx1');
      await f.killWriter('pbx1');
      await f.lab.cut('pbx1');
      await f.removeVips('pbx1');
      await f.checkInvariants({ holder: 'pbx2', otherState: null });
      assert.match((await f.status('pbx2')).reason, /master pbx1 silent for 600 ms/);
      // The slave serves for a while; its "Asterisk" writes the astdb.
      await sleep(3000);
      f.ledger.sample();

      // Boot: /run is empty, the cables work, the agent starts.
      rmSync(f.lab.hostPath('pbx1', '/run/fake-pbx'), { recursive: true, force: true });
      await f.lab.restore('pbx1');
      await f.start('pbx1');
      await f.checkInvariants();
      const log = await f.lab.agentLog('pbx1');
      assert.match(
        log,
        /failback data: astdb merged with the slave's: /,
        'the master fetched what the slave changed while it served',
      );
      assert.match(log, /pbx1: init -> standby \(somebody answers on voip/);
    },
  );
});
