// The fakes the agent tests stand on: if they lie, the pair tests prove nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeArp, FakeClock, FakeLan, FakeProber } from '../../fakes';
import { baseAddresses, pairConfig } from '../../fakes/config';

test('FakeClock runs due timers in time order (ties in scheduling order), every timers repeatedly, cancelled ones never', async () => {
  const clock = new FakeClock(100);
  const seen: string[] = [];
  clock.after(50, () => seen.push(`a@${clock.nowMs()}`));
  clock.after(20, () => seen.push(`b@${clock.nowMs()}`));
  const every = clock.every(30, () => seen.push(`e@${clock.nowMs()}`));
  clock.after(30, () => seen.push(`c@${clock.nowMs()}`));
  const cancelled = clock.after(10, () => seen.push('never'));
  cancelled.cancel();
  await clock.advance(100);
  assert.deepEqual(seen, ['b@120', 'e@130', 'c@130', 'a@150', 'e@160', 'e@190']);
  assert.equal(clock.nowMs(), 200);
  every.cancel();
  await clock.advance(100);
  assert.equal(seen.length, 6);
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(clock.wallMs() - Date.UTC(2024, 0, 1, 12, 0, 0), 200);
});

test('FakeClock drains promise chains between timers, so a chain started by one timer ends before the next', async () => {
  const clock = new FakeClock(0);
  const seen: string[] = [];
  clock.after(10, () => {
    void Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => seen.push(`chain@${clock.nowMs()}`));
  });
  clock.after(10, () => seen.push(`next@${clock.nowMs()}`));
  await clock.advance(10);
  assert.deepEqual(seen, ['chain@10', 'next@10']);
});

test('FakeNet: routes need their source address; deleting an address takes its routes; deleting what is absent is fine', async () => {
  const config = pairConfig();
  const lan = new FakeLan(new FakeClock(0));
  const net = lan.addNode('pbx1', baseAddresses(config, 'pbx1'));
  const route = {
    kind: 'add-route',
    vip: 'voip',
    destination: '203.0.113.0/24',
    via: '192.0.2.1',
    ifname: 'eth0',
    source: '192.0.2.10',
  } as const;
  await assert.rejects(net.apply([route]), /Invalid prefsrc/);
  await net.apply([
    { kind: 'add-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
    route,
  ]);
  assert.ok(net.routeList().some((r) => r.source === '192.0.2.10'));
  await net.apply([
    { kind: 'delete-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
  ]);
  assert.ok(!net.routeList().some((r) => r.source === '192.0.2.10'));
  await net.apply([
    { kind: 'delete-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
    { ...route, kind: 'delete-route' },
  ]);
  await assert.rejects(
    net.apply([{ kind: 'add-address', vip: 'x', address: '192.0.2.10', prefixLength: 24, ifname: 'eth7' }]),
    /Cannot find device/,
  );
});

test('FakeProber and FakeArp: answers after the delay from other alive holders with carrier; misses at the timeout', async () => {
  const config = pairConfig();
  const clock = new FakeClock(0);
  const lan = new FakeLan(clock);
  lan.addNode('pbx1', baseAddresses(config, 'pbx1'));
  const pbx2 = lan.addNode('pbx2', baseAddresses(config, 'pbx2'));
  const prober = new FakeProber(lan, 'pbx1');
  const arp = new FakeArp(lan, 'pbx1');
  const at = (p: Promise<unknown>) => p.then((v) => ({ v, t: clock.nowMs() }));

  let peer = at(prober.ping('192.0.2.12', 1000));
  let vip = at(prober.ping('192.0.2.10', 1000));
  await clock.advance(1000);
  assert.deepEqual(await peer, { v: { answered: true, rttMs: 1 }, t: 1 });
  assert.deepEqual(await vip, { v: { answered: false, rttMs: null }, t: 1000 }, 'nobody holds the VIP');

  await pbx2.apply([
    { kind: 'add-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
  ]);
  vip = at(prober.ping('192.0.2.10', 1000));
  const macs = at(arp.whoHas('192.0.2.10', 'eth0', 1000));
  await clock.advance(1000);
  assert.equal(((await vip).v as { answered: boolean }).answered, true);
  assert.deepEqual((await macs).v, [lan.macOf('pbx2')]);

  lan.setCarrier('pbx2', false);
  peer = at(prober.ping('192.0.2.12', 1000));
  await clock.advance(1000);
  assert.deepEqual(await peer, { v: { answered: false, rttMs: null }, t: 3000 }, 'no carrier, no answer');
  lan.setCarrier('pbx2', true);
  lan.setAlive('pbx2', false);
  assert.deepEqual(lan.holders('192.0.2.10'), [], 'a dead node holds nothing that answers');
  assert.equal(lan.icmpAnswers('pbx2', '192.0.2.11'), false);
});
