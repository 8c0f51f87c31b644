/**
 * FAULT 17: the routes of the VIPs are deleted or changed by hand on the active master. They must
 * come back as a deleted address does, at once, not at the next periodic reconcile (set to 60 s
 * here, so that only the watch on route events can repair them in time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../lab/harness';
import { DATA_VIP, VOIP_VIP, faultCase } from './lib';

type Route = { dst: string; gateway?: string; dev?: string; prefsrc?: string };

const AGENT_CONFIG = '\n[agent]\nreconcile_interval = 60s\n';

test('FAULT 17: VIP routes deleted or changed by hand', { timeout: 300_000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 17,
      name: 'vip-route-changed',
      fault:
        "on the active master, the VOIP VIP's route is deleted, then replaced by one with the node's own source address, then the DATA VIP's default route is deleted (reconcile_interval 60 s)",
      holds: 'each route is back, with the VIP as source, within 1 s',
    },
    { config: { pbx1: AGENT_CONFIG, pbx2: AGENT_CONFIG } },
    async (f) => {
      const ns = f.lab.namespace('pbx1');
      const routes = async () =>
        JSON.parse((await run(['ip', '-n', ns, '-json', 'route', 'show'])).stdout) as Route[];
      const repaired = async (what: string, dst: string, src: string, damage: string[]) => {
        const before = await routes();
        assert.ok(
          before.some((r) => r.dst === dst && r.prefsrc === src),
          `${dst} src ${src} is there first: ${JSON.stringify(before)}`,
        );
        const at = Date.now();
        await run(['ip', '-n', ns, ...damage]);
        await f.lab.waitFor(
          `${what}: ${dst} back with src ${src}`,
          async () => (await routes()).some((r) => r.dst === dst && r.prefsrc === src),
          1000,
          10,
        );
        f.detail(`${what}: repaired in ${Date.now() - at} ms`);
      };
      await repaired('VOIP route deleted', '203.0.113.0/24', VOIP_VIP, ['route', 'del', '203.0.113.0/24']);
      await repaired("VOIP route given the node's own source", '203.0.113.0/24', VOIP_VIP, [
        'route',
        'replace',
        '203.0.113.0/24',
        'via',
        '192.0.2.1',
        'dev',
        'eth0',
        'src',
        '192.0.2.11',
      ]);
      await repaired('DATA default route deleted', 'default', DATA_VIP, ['route', 'del', 'default']);
      await f.checkInvariants();
    },
  );
});
