/**
 * The failover core in the network lab: the real agent on both nodes, real namespaces,
 * real ICMP, ARP and iproute2. Time bounds are generous; speed is the benchmark's job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Lab, withLab } from './harness';
import {
  DATA_VIP,
  FAST_HEALTH,
  PBX_HA,
  SOON_MS,
  VOIP_VIP,
  agentStatus,
  assertNobodyHolds,
  routesWithSource,
  startHolderSampler,
  startPair,
  waitSoleHolder,
  waitState,
} from './pair';

/** Sends SIGHUP to pbx1's agent (lab nodes share the machine's pid namespace). */
async function hangUp(lab: Lab): Promise<void> {
  const pid = await lab.agentPid('pbx1');
  assert.ok(pid, 'pbx1 agent runs');
  process.kill(pid, 'SIGHUP');
}

const LAB = { prefix: 'pbxfo', dir: '/tmp/pbx-ha-lab-failover', env: FAST_HEALTH };
const TIMEOUT = { timeout: 180_000 };

test(
  'master link cut: the slave takes over; link restored: the master fails back, one holder at a time',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await startPair(lab);
        // Routes use the VIP as source while it is held.
        const voipRoutes = await routesWithSource(lab, 'pbx1', VOIP_VIP);
        assert.ok(
          voipRoutes.some((r) => r.dst === '203.0.113.0/24' && r.gateway === '192.0.2.1' && r.dev === 'eth0'),
          JSON.stringify(voipRoutes),
        );
        const dataRoutes = await routesWithSource(lab, 'pbx1', DATA_VIP);
        assert.ok(
          dataRoutes.some((r) => r.dst === 'default' && r.gateway === '198.51.100.1' && r.dev === 'eth1'),
          JSON.stringify(dataRoutes),
        );
        assert.equal(
          await lab.fakeServiceState('pbx2'),
          'stopped',
          'the slave stops its PBX services in standby',
        );

        const pinger = await lab.startPhonePinger(VOIP_VIP, 10);
        const sampler = startHolderSampler(lab);
        await new Promise((r) => setTimeout(r, 500));

        await lab.cut('pbx1');
        await waitSoleHolder(lab, 'pbx2');
        await waitState(lab, 'pbx2', 'active');
        await waitState(lab, 'pbx1', 'fault');
        assert.deepEqual(
          await routesWithSource(lab, 'pbx1', VOIP_VIP),
          [],
          'the master in fault keeps no route with the VIP as source',
        );
        assert.ok((await routesWithSource(lab, 'pbx2', VOIP_VIP)).some((r) => r.dst === '203.0.113.0/24'));
        assert.equal(
          await lab.fakeServiceState('pbx2'),
          'running',
          'the slave starts its PBX services when active',
        );
        // The phone reaches the VIP, and through the slave's MAC.
        assert.ok(await lab.phonePingOnce(VOIP_VIP, 2000), 'the phone reaches the VIP after the takeover');
        assert.equal(await lab.phoneArpMac(VOIP_VIP), await lab.nodeMac('pbx2', 'eth0'));
        const notified = (await lab.notifyLog('pbx2')).join('\n');
        assert.match(notified, /transition pbx2 active slave/, 'the notify script hears of the takeover');

        await lab.restore('pbx1');
        await waitSoleHolder(lab, 'pbx1', 30_000);
        await waitState(lab, 'pbx1', 'active');
        await waitState(lab, 'pbx2', 'standby');
        assert.deepEqual(
          await routesWithSource(lab, 'pbx2', VOIP_VIP),
          [],
          'the slave removed its routes on release',
        );
        assert.ok(await lab.phonePingOnce(VOIP_VIP, 2000), 'the phone reaches the VIP after the failback');
        assert.equal(await lab.phoneArpMac(VOIP_VIP), await lab.nodeMac('pbx1', 'eth0'));

        const holders = await sampler.stop();
        const ping = await pinger.stop();
        t.diagnostic(
          `outage seen by the phone (longest gap): ${ping.longestGapMs.toFixed(0)} ms; ${ping.replies}/${ping.sent} replies`,
        );
        t.diagnostic(
          `holder samples: ${holders.samples}, longest double holding: ${holders.longestDoubleMs} ms`,
        );
        assert.ok(holders.samples > 20, 'the sampler ran');
        // One holder: never both for longer than one detection interval (3 × 200 ms here).
        assert.ok(
          holders.longestDoubleMs <= 600,
          `both nodes held the VIP for ${holders.longestDoubleMs} ms`,
        );
        assert.ok(ping.trailingGapMs < 2000, 'the VIP answers at the end');
      },
      LAB,
    );
  },
);

test(
  'slave isolated: the slave goes to fault and never takes over; the master keeps the VIPs',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await startPair(lab);
        await lab.cut('pbx2');
        await waitState(lab, 'pbx2', 'fault');
        const status = await agentStatus(lab, 'pbx2');
        assert.match(status.reason, /no carrier on eth0/);
        // Well past the detection time: still the master alone.
        await new Promise((r) => setTimeout(r, 3000));
        for (const vip of [VOIP_VIP, DATA_VIP]) assert.deepEqual(await lab.holders(vip), ['pbx1']);
        assert.equal((await agentStatus(lab, 'pbx2')).state, 'fault');
        assert.ok(await lab.phonePingOnce(VOIP_VIP, 2000));
        await lab.restore('pbx2');
        await waitState(lab, 'pbx2', 'standby');
        await waitSoleHolder(lab, 'pbx1');
      },
      LAB,
    );
  },
);

test('both nodes start together: exactly one holder, the master', TIMEOUT, async (t) => {
  await withLab(
    t,
    async (lab) => {
      for (let round = 1; round <= 3; round++) {
        await Promise.all([lab.start('pbx1'), lab.start('pbx2')]);
        await waitSoleHolder(lab, 'pbx1');
        await waitState(lab, 'pbx2', 'standby');
        // Stable: still one holder a while later.
        await new Promise((r) => setTimeout(r, 1500));
        for (const vip of [VOIP_VIP, DATA_VIP])
          assert.deepEqual(await lab.holders(vip), ['pbx1'], `round ${round}`);
        await Promise.all([lab.stop('pbx1'), lab.stop('pbx2')]);
        // The slave, stopping too, could not take the VIPs over: the master keeps them. Removed by
        // hand, so that every round starts from nothing held.
        for (const vip of [VOIP_VIP, DATA_VIP])
          assert.deepEqual(
            await lab.holders(vip),
            ['pbx1'],
            `round ${round}: the stopped master kept ${vip}`,
          );
        await lab.exec('pbx1', ['ip', 'address', 'del', `${VOIP_VIP}/24`, 'dev', 'eth0']);
        await lab.exec('pbx1', ['ip', 'address', 'del', `${DATA_VIP}/24`, 'dev', 'eth1']);
        await assertNobodyHolds(lab);
      }
    },
    LAB,
  );
});

test(
  'reconcile: a VIP or route deleted by hand comes back; a stale VIP on the standby node is removed',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await startPair(lab);
        await lab.exec('pbx1', ['ip', 'address', 'del', `${VOIP_VIP}/24`, 'dev', 'eth0']);
        await waitSoleHolder(lab, 'pbx1');
        await lab.waitFor(
          'the VOIP route is back',
          async () => (await routesWithSource(lab, 'pbx1', VOIP_VIP)).length === 1,
          SOON_MS,
        );

        await lab.exec('pbx1', ['ip', 'route', 'del', 'default']);
        await lab.waitFor(
          'the default route is back with src = DATA VIP',
          async () => (await routesWithSource(lab, 'pbx1', DATA_VIP)).some((r) => r.dst === 'default'),
          SOON_MS,
        );

        await lab.exec('pbx2', ['ip', 'address', 'add', `${DATA_VIP}/24`, 'dev', 'eth1']);
        await lab.waitFor(
          'the stale VIP is gone from pbx2',
          async () => !(await lab.holders(DATA_VIP)).includes('pbx2'),
          SOON_MS,
        );
        assert.deepEqual(await lab.holders(DATA_VIP), ['pbx1']);
      },
      LAB,
    );
  },
);

test(
  'SIGKILL of the master agent: no outage; the restarted agent keeps the VIPs without a flap',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await startPair(lab);
        const pinger = await lab.startPhonePinger(VOIP_VIP, 10);
        await new Promise((r) => setTimeout(r, 500));
        await lab.stop('pbx1', 'KILL');
        // The host still answers: the slave stays in standby and the VIPs stay where they are.
        await new Promise((r) => setTimeout(r, 2000));
        await waitSoleHolder(lab, 'pbx1', 1000);
        assert.equal((await agentStatus(lab, 'pbx2')).state, 'standby');

        const logBefore = (await lab.agentLog('pbx1')).length;
        await lab.start('pbx1');
        await waitState(lab, 'pbx1', 'active');
        await new Promise((r) => setTimeout(r, 1000));
        const ping = await pinger.stop();
        const restartLog = (await lab.agentLog('pbx1')).slice(logBefore);
        assert.match(restartLog, /init -> active \(already holds voip, data\)/);
        assert.doesNotMatch(restartLog, /-192\.0\.2\.10/, 'the restarted agent never removed the VIP');
        t.diagnostic(
          `longest gap seen by the phone: ${ping.longestGapMs.toFixed(0)} ms over ${ping.replies} replies`,
        );
        assert.ok(ping.replies > 100, 'the pinger ran');
        assert.ok(ping.longestGapMs < 500, `the phone lost the VIP for ${ping.longestGapMs} ms`);
        await waitSoleHolder(lab, 'pbx1', 1000);
      },
      LAB,
    );
  },
);

test(
  'SIGTERM with the peer silent releases the VIPs and their routes; release_on_stop = no keeps them',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        // A silent peer (its cables pulled): nobody to hand over to, nobody left without a PBX.
        // With its host answering, the master would keep them (docs/behavior.md, "Stop").
        await lab.cut('pbx2');
        await lab.start('pbx1');
        await waitSoleHolder(lab, 'pbx1');
        await lab.stop('pbx1', 'TERM');
        await assertNobodyHolds(lab);
        assert.deepEqual(await routesWithSource(lab, 'pbx1', VOIP_VIP), []);
        assert.deepEqual(await routesWithSource(lab, 'pbx1', DATA_VIP), []);

        const config = await lab.readConfig('pbx1');
        await lab.writeConfig('pbx1', `${config}\n[agent]\nrelease_on_stop = no\n`);
        await lab.start('pbx1');
        await waitSoleHolder(lab, 'pbx1');
        await lab.stop('pbx1', 'TERM');
        await waitSoleHolder(lab, 'pbx1', 1000);
      },
      LAB,
    );
  },
);

test(
  'gratuitous ARP: requests for the VIP to the broadcast address, a burst at takeover',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        const capture = await lab.startCapture('phone', 'arp');
        await lab.start('pbx1');
        await waitSoleHolder(lab, 'pbx1');
        const mac = await lab.nodeMac('pbx1', 'eth0');
        // The lab configuration asks for bursts of 5, 200 ms apart.
        await new Promise((r) => setTimeout(r, 2000));
        const text = await capture.stop();
        // Sender and target protocol address are both the VIP (RFC 5227 "ARP announcement");
        // tcpdump prints a non-zero target MAC in parentheses.
        const announcement = new RegExp(
          `Request who-has ${VOIP_VIP.replace(/\./g, '\\.')} (\\([0-9a-f:]{17}\\) )?tell ${VOIP_VIP.replace(/\./g, '\\.')},`,
        );
        const garps = text
          .split('\n')
          .filter((l) => l.includes(`${mac} > ff:ff:ff:ff:ff:ff`) && announcement.test(l));
        t.diagnostic(`gratuitous ARP frames seen: ${garps.length}`);
        assert.ok(garps.length >= 5, `expected a burst of 5 gratuitous ARP requests, saw:\n${text}`);
      },
      LAB,
    );
  },
);

test(
  'SIGHUP: an invalid file is refused and the old configuration kept; a valid one is applied',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        await startPair(lab);
        const good = await lab.readConfig('pbx1');
        await lab.writeConfig('pbx1', good.replace('interval = 200ms', 'interval = soon'));
        await hangUp(lab);
        await lab.waitFor(
          'reload refused',
          async () => /reload refused/.test(await lab.agentLog('pbx1')),
          SOON_MS,
        );
        assert.match(await lab.agentLog('pbx1'), /\[health\] interval = "soon"/);
        assert.equal((await agentStatus(lab, 'pbx1')).state, 'active');
        await waitSoleHolder(lab, 'pbx1', 1000);

        // A valid file without the DATA VIP: that VIP is released, the VOIP VIP kept.
        const withoutData = good.replace(/\[vip\.data\][^[]*/, '');
        await lab.writeConfig('pbx1', withoutData);
        await hangUp(lab);
        await lab.waitFor(
          'configuration reloaded',
          async () => /configuration reloaded/.test(await lab.agentLog('pbx1')),
          SOON_MS,
        );
        await lab.waitFor(
          'DATA VIP released',
          async () => (await lab.holders(DATA_VIP)).length === 0,
          SOON_MS,
        );
        assert.deepEqual(await lab.holders(VOIP_VIP), ['pbx1']);
        assert.equal((await agentStatus(lab, 'pbx1')).state, 'active');
      },
      LAB,
    );
  },
);

test('pbx-ha ifup: tells a running agent at once, and returns quietly when none runs', TIMEOUT, async (t) => {
  await withLab(
    t,
    async (lab) => {
      let started = Date.now();
      const without = await lab.exec('pbx1', [PBX_HA, 'ifup', 'eth0']);
      assert.equal(without.code, 0);
      assert.match(without.stderr, /not running/);
      assert.ok(Date.now() - started < 5000, 'returns at once without an agent');
      await lab.start('pbx1');
      await waitSoleHolder(lab, 'pbx1');
      started = Date.now();
      const withAgent = await lab.exec('pbx1', [PBX_HA, 'ifup', 'eth0']);
      assert.equal(withAgent.code, 0);
      assert.equal(withAgent.stderr, '');
      assert.ok(Date.now() - started < 5000);
      const bad = await lab.exec('pbx1', [PBX_HA, 'ifup'], { allowFail: true });
      assert.equal(bad.code, 64, 'a missing interface name is a usage error');
    },
    LAB,
  );
});

test(
  'metrics: with [metrics] enabled, the agent serves Prometheus metrics on loopback',
  TIMEOUT,
  async (t) => {
    await withLab(
      t,
      async (lab) => {
        const config = await lab.readConfig('pbx1');
        await lab.writeConfig('pbx1', `${config}\n[metrics]\nenabled = yes\n`);
        await lab.start('pbx1');
        await waitSoleHolder(lab, 'pbx1');
        const scrape = await lab.exec('pbx1', [
          process.execPath,
          '-e',
          "fetch('http://127.0.0.1:9549/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
        ]);
        assert.match(scrape.stdout, /^pbx_ha_state\{node="pbx1",role="master",state="active"\} 1$/m);
        assert.match(
          scrape.stdout,
          /^pbx_ha_vip_held\{vip="voip",address="192\.0\.2\.10\/24",interface="eth0"\} 1$/m,
        );
        // Not on the node's lab address: loopback only by default.
        const outside = await lab.exec(
          'phone',
          [
            process.execPath,
            '-e',
            "fetch('http://192.0.2.11:9549/metrics').then(() => process.exit(0), () => process.exit(3))",
          ],
          { allowFail: true },
        );
        assert.equal(outside.code, 3, 'the phone cannot reach the metrics');
      },
      LAB,
    );
  },
);
