/**
 * FAULT 12: a soak. For PBX_FAULTS_SOAK_MINUTES (scripts/test-faults --soak), faults drawn from
 * the list above by a seeded PRNG (the seed is printed; PBX_FAULTS_SEED replays a run), with the
 * master's "Asterisk" writing the astdb all along. After each fault the invariants must hold;
 * at the end the agents' resident memory must not have grown without bound.
 *
 * The slave's agent is never restarted here, so that its memory is followed over the whole run;
 * the master's agent is (reboots, SIGKILL), and its memory is followed while one process lives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { PARAMS, type FaultLab, type PbxNode, faultCase, prng, residentKiB, sleep } from './lib';

interface Sample {
  atS: number;
  node: PbxNode;
  pid: number;
  rssKiB: number;
}

type Fault = { name: string; run: (f: FaultLab, rnd: () => number) => Promise<void> };

async function flaps(f: FaultLab, node: PbxNode, cycles: number): Promise<void> {
  await f.flap(node, cycles * 3000 - 500);
}

const FAULTS: Fault[] = [
  { name: 'master link flaps', run: (f, rnd) => flaps(f, 'pbx1', 2 + Math.floor(rnd() * 3)) },
  { name: 'slave link flaps', run: (f, rnd) => flaps(f, 'pbx2', 2 + Math.floor(rnd() * 3)) },
  {
    name: 'DATA link lost on the master',
    run: async (f, rnd) => {
      await f.lab.cut('pbx1', 'eth1');
      await f.waitSoleHolder('pbx2');
      await sleep(1000 + rnd() * 3000);
      await f.lab.restore('pbx1', 'eth1');
    },
  },
  {
    name: 'master reboot',
    run: async (f, rnd) => {
      await f.killAgent('pbx1');
      await f.killWriter('pbx1');
      await f.lab.cut('pbx1');
      await f.removeVips('pbx1');
      await f.waitSoleHolder('pbx2');
      await sleep(1000 + rnd() * 3000);
      rmSync(f.lab.hostPath('pbx1', '/run/fake-pbx/writer.pid'), { force: true });
      await f.lab.restore('pbx1');
      await f.start('pbx1');
    },
  },
  {
    name: 'SIGKILL of the active agent',
    run: async (f, rnd) => {
      await f.killAgent('pbx1');
      await sleep(rnd() * 2000);
      await f.start('pbx1');
    },
  },
  {
    name: 'astdb copy killed',
    run: async (f) => {
      try {
        await f.killHalfWay(
          'pbx1',
          "the master's rsync sending the astdb",
          (p) => p.argv[0].endsWith('rsync') && p.argv.some((a) => a.endsWith(':incoming/astdb/')),
          () => true,
          { timeoutMs: 20_000 },
        );
      } catch (e) {
        // A copy that ended before it could be caught is not a failure of pbx-ha.
        if (!/ended by itself/.test((e as Error).message)) throw e;
      }
    },
  },
  {
    name: 'slave cut off',
    run: async (f, rnd) => {
      await f.lab.cut('pbx2');
      await f.waitState('pbx2', 'fault');
      await sleep(rnd() * 3000);
      await f.lab.restore('pbx2');
    },
  },
];

test('FAULT 12: soak of random faults', { timeout: (PARAMS.soakMinutes * 60 + 420) * 1000 }, async (t) => {
  await faultCase(
    t,
    {
      n: 12,
      name: 'soak',
      fault: `${PARAMS.soakMinutes} minutes of faults drawn at random (seeded) from: ${FAULTS.map((x) => x.name).join(', ')}; the master's Asterisk writing the astdb all along`,
      holds:
        "the invariants after every fault; the agents' resident memory (VmRSS, each minute) at the end under 1.5 × its value after the first minute",
    },
    {},
    async (f) => {
      f.seed = PARAMS.seed;
      f.detail(
        `seed ${PARAMS.seed} (PBX_FAULTS_SEED=${PARAMS.seed} or scripts/test-faults --seed ${PARAMS.seed} 12 replays this run)`,
      );
      const rnd = prng(PARAMS.seed);
      const started = Date.now();
      const deadline = started + PARAMS.soakMinutes * 60_000;
      const samples: Sample[] = [];
      const sample = () => {
        for (const [node, pid] of f.pids) {
          const rss = residentKiB(pid);
          if (rss !== null)
            samples.push({ atS: Math.round((Date.now() - started) / 1000), node, pid, rssKiB: rss });
        }
      };
      sample();
      const timer = setInterval(sample, 60_000);
      const counts = new Map<string, number>();
      let n = 0;
      try {
        while (Date.now() < deadline) {
          const fault = FAULTS[Math.floor(rnd() * FAULTS.length)];
          n++;
          t.diagnostic(`soak ${Math.round((Date.now() - started) / 1000)} s: fault ${n}: ${fault.name}`);
          try {
            await fault.run(f, rnd);
            await f.checkInvariants({ report: false });
          } catch (e) {
            throw new Error(`fault ${n} (${fault.name}, seed ${PARAMS.seed}): ${(e as Error).message}`);
          }
          counts.set(fault.name, (counts.get(fault.name) ?? 0) + 1);
        }
      } finally {
        clearInterval(timer);
      }
      sample();
      f.detail(
        `${n} faults in ${Math.round((Date.now() - started) / 1000)} s: ${[...counts].map(([k, v]) => `${k} ×${v}`).join(', ')}`,
      );
      f.detail(f.ledger.assertHeldBy('pbx1'));

      // Memory: per agent process, the last sample against the first after a minute of warm-up.
      for (const node of ['pbx2', 'pbx1'] as const) {
        const byPid = new Map<number, Sample[]>();
        for (const s of samples.filter((x) => x.node === node))
          byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
        const longest = [...byPid.values()].sort((a, b) => b.length - a.length)[0] ?? [];
        const series = longest.map((s) => `${s.atS}s ${Math.round(s.rssKiB / 1024)} MB`).join(', ');
        const warm = longest.filter((s) => s.atS - longest[0].atS >= 55);
        if (warm.length < 2) {
          f.detail(
            `${node} agent memory: ${series || 'no samples'} (no process lived long enough to compare)`,
          );
          continue;
        }
        const [first, last] = [warm[0], warm[warm.length - 1]];
        f.detail(`${node} agent memory (pid ${first.pid}): ${series}`);
        assert.ok(
          last.rssKiB < 1.5 * first.rssKiB,
          `${node}'s agent grew from ${first.rssKiB} KiB to ${last.rssKiB} KiB (VmRSS) over the soak`,
        );
      }
      assert.ok(
        samples.some((s) => s.node === 'pbx2' && s.atS >= 60) || PARAMS.soakMinutes < 2,
        "the slave's memory was followed",
      );
    },
  );
});
