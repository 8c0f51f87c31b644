import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActualNet, ActualRoute } from '../../../src/domain/reconcile';
import { claimChanges, heldVips, releaseChanges, repairs } from '../../../src/domain/reconcile';
import { baseAddresses, pairConfig, vipOf } from '../../fakes/config';

const config = pairConfig({ 'vip.voip': { route: '203.0.113.0/24 via 192.0.2.1, 203.0.113.7/32' } });
const voip = vipOf(config, 'voip');
const data = vipOf(config, 'data');
const base = baseAddresses(config, 'pbx1');

// What `ip -json` shows on a node that holds both VIPs with their routes (host routes print
// without /32; the connected routes have the node's own address as source).
const connected: ActualRoute[] = [
  { destination: '192.0.2.0/24', via: null, ifname: 'eth0', source: '192.0.2.11' },
  { destination: '198.51.100.0/24', via: null, ifname: 'eth1', source: '198.51.100.11' },
];
const vipRoutes: ActualRoute[] = [
  { destination: '203.0.113.0/24', via: '192.0.2.1', ifname: 'eth0', source: '192.0.2.10' },
  { destination: '203.0.113.7', via: null, ifname: 'eth0', source: '192.0.2.10' },
  { destination: 'default', via: '198.51.100.1', ifname: 'eth1', source: '198.51.100.10' },
];
const holding: ActualNet = {
  addresses: [
    ...base,
    { ifname: 'eth0', address: '192.0.2.10', prefixLength: 24 },
    { ifname: 'eth1', address: '198.51.100.10', prefixLength: 24 },
  ],
  routes: [...connected, ...vipRoutes],
};
const bare: ActualNet = { addresses: [...base], routes: [...connected] };

test('claimChanges: the address first, then its routes with src = VIP', () => {
  assert.deepEqual(claimChanges(voip), [
    { kind: 'add-address', vip: 'voip', address: '192.0.2.10', prefixLength: 24, ifname: 'eth0' },
    {
      kind: 'add-route',
      vip: 'voip',
      destination: '203.0.113.0/24',
      via: '192.0.2.1',
      ifname: 'eth0',
      source: '192.0.2.10',
    },
    {
      kind: 'add-route',
      vip: 'voip',
      destination: '203.0.113.7/32',
      via: null,
      ifname: 'eth0',
      source: '192.0.2.10',
    },
  ]);
});

test('releaseChanges: the routes first, then the address (the claim reversed)', () => {
  assert.deepEqual(
    releaseChanges(voip).map((c) => `${c.kind} ${'destination' in c ? c.destination : c.address}`),
    ['delete-route 203.0.113.0/24', 'delete-route 203.0.113.7/32', 'delete-address 192.0.2.10'],
  );
  assert.deepEqual(releaseChanges(data)[0], {
    kind: 'delete-route',
    vip: 'data',
    destination: 'default',
    via: '198.51.100.1',
    ifname: 'eth1',
    source: '198.51.100.10',
  });
});

test('repairs touches nothing when everything is as it should be', () => {
  assert.deepEqual(repairs(config.vips, true, holding), { changes: [], readded: [] });
  assert.deepEqual(repairs(config.vips, false, bare), { changes: [], readded: [] });
});

test('repairs: a missing address comes back with its routes and is reported as re-added', () => {
  const actual: ActualNet = {
    addresses: holding.addresses.filter((a) => a.address !== '192.0.2.10'),
    routes: holding.routes.filter((r) => r.source !== '192.0.2.10'),
  };
  const r = repairs(config.vips, true, actual);
  assert.deepEqual(r.changes, claimChanges(voip));
  assert.deepEqual(r.readded, ['voip']);
});

test('repairs: a missing route alone is added, and nothing is re-added', () => {
  const actual: ActualNet = {
    ...holding,
    routes: holding.routes.filter((r) => r.destination !== '203.0.113.7'),
  };
  const r = repairs(config.vips, true, actual);
  assert.deepEqual(r.changes, [
    {
      kind: 'add-route',
      vip: 'voip',
      destination: '203.0.113.7/32',
      via: null,
      ifname: 'eth0',
      source: '192.0.2.10',
    },
  ]);
  assert.deepEqual(r.readded, []);
});

test('repairs: a route with the wrong source or gateway does not count as present', () => {
  const wrong: ActualNet = {
    ...holding,
    routes: [
      ...connected,
      { destination: '203.0.113.0/24', via: '192.0.2.1', ifname: 'eth0', source: '192.0.2.11' },
      { destination: '203.0.113.7', via: null, ifname: 'eth0', source: '192.0.2.10' },
      { destination: 'default', via: '198.51.100.254', ifname: 'eth1', source: '198.51.100.10' },
    ],
  };
  assert.deepEqual(
    repairs(config.vips, true, wrong).changes.map(
      (c) => `${c.kind} ${'destination' in c ? c.destination : ''}`,
    ),
    ['add-route 203.0.113.0/24', 'add-route default'],
  );
});

test('repairs when not holding: stale routes (src = VIP) then the stale address are removed', () => {
  const r = repairs(config.vips, false, holding);
  assert.deepEqual(r.changes, [...releaseChanges(voip), ...releaseChanges(data)]);
  assert.deepEqual(r.readded, []);
});

test('repairs when not holding: a stale route left without its address is removed; other routes are left alone', () => {
  const actual: ActualNet = {
    addresses: [...base],
    routes: [
      ...connected,
      { destination: 'default', via: '198.51.100.1', ifname: 'eth1', source: '198.51.100.10' },
      { destination: '203.0.113.0/24', via: '192.0.2.1', ifname: 'eth0', source: '192.0.2.11' },
    ],
  };
  assert.deepEqual(repairs(config.vips, false, actual).changes, [releaseChanges(data)[0]]);
});

test('repairs: an address on another interface is not the VIP', () => {
  const actual: ActualNet = {
    addresses: [...base, { ifname: 'eth1', address: '192.0.2.10', prefixLength: 24 }],
    routes: [...connected],
  };
  assert.deepEqual(heldVips(config.vips, actual), []);
  assert.deepEqual(repairs([voip], true, actual).readded, ['voip']);
});

test('heldVips lists the VIPs whose address is configured', () => {
  assert.deepEqual(heldVips(config.vips, holding), ['voip', 'data']);
  assert.deepEqual(heldVips(config.vips, bare), []);
});
