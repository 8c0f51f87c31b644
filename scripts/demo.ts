/**
 * The demo of pbx-ha's main job, in the network lab: two PBX nodes, a phone and a gateway in
 * network namespaces; the real agent on both nodes. It cuts the master's cables, shows the
 * slave taking over with the outage the phone saw, plugs them back, shows the failback, and
 * removes everything it made.
 *
 *   node dist/scripts/demo.js [--runs N]      (scripts/demo does the set-up first)
 */
import { parseArgs } from 'node:util';
import { Lab } from '../lab/lab';
import { DATA_VIP, GATEWAY, PBX_HA, PHONE_ADDRESS, type PbxNode, VOIP_VIP, voipAddress } from '../lab/layout';
import { agentStatus, waitSoleHolder, waitState } from '../lab/pair';
import type { PingerResult } from '../lab/pinger';
import { sleep } from '../lab/run';

const HEALTH = {
  interval: process.env.PBX_LAB_INTERVAL ?? '1s',
  fall: process.env.PBX_LAB_FALL ?? '3',
  rise: process.env.PBX_LAB_RISE ?? '3',
};

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}

async function showStatus(lab: Lab, node: PbxNode): Promise<void> {
  const r = await lab.exec(node, [PBX_HA, 'status']);
  say(`    ${node}$ pbx-ha status`);
  say(indent(r.stdout));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The outage around the event: the longest time the phone went without an answer. */
function outageMs(p: PingerResult): number {
  return Math.max(p.longestGapMs, p.trailingGapMs);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '1' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50)
    throw new Error(`--runs: expected a whole number from 1 to 50, got "${values.runs}"`);

  const lab = new Lab({ prefix: 'pbxdemo', dir: '/tmp/pbx-ha-demo' });
  const failovers: number[] = [];
  const failbacks: number[] = [];
  const stopping = () => void lab.down().finally(() => process.exit(130));
  process.on('SIGINT', stopping);
  process.on('SIGTERM', stopping);
  try {
    say('pbx-ha demo: a pair of PBX nodes in a network lab (Linux network namespaces)');
    say(
      `  pbx1 = master ${voipAddress('pbx1')}, pbx2 = slave ${voipAddress('pbx2')}; VIPs ${VOIP_VIP} (VOIP) and ${DATA_VIP} (DATA)`,
    );
    say(`  a phone (${PHONE_ADDRESS}) and a gateway (${GATEWAY.voip}, routing ${GATEWAY.extNet})`);
    say(`  health: interval ${HEALTH.interval}, fall ${HEALTH.fall}, rise ${HEALTH.rise}`);
    say();
    say('1. Building the lab and starting pbx-ha on both nodes');
    await lab.up({ PBX_LAB_INTERVAL: HEALTH.interval, PBX_LAB_FALL: HEALTH.fall, PBX_LAB_RISE: HEALTH.rise });
    await lab.start('pbx1');
    await lab.start('pbx2');
    await waitSoleHolder(lab, 'pbx1', 30_000);
    await waitState(lab, 'pbx2', 'standby', 30_000);
    say('    the master holds the VIPs, the slave stands by:');
    await showStatus(lab, 'pbx1');
    await showStatus(lab, 'pbx2');

    for (let run = 1; run <= runs; run++) {
      if (runs > 1) say(`\n=== run ${run} of ${runs} ===`);
      say();
      say("2. The phone pings the VOIP VIP every 10 ms; now the master's cables are pulled");
      let pinger = await lab.startPhonePinger(VOIP_VIP, 10);
      await sleep(1000);
      await lab.cut('pbx1');
      await waitSoleHolder(lab, 'pbx2', 30_000);
      await waitState(lab, 'pbx2', 'active', 30_000);
      await sleep(1000);
      let ping = await pinger.stop();
      failovers.push(outageMs(ping));
      say(
        `    pbx2 took over. The phone went ${outageMs(ping).toFixed(0)} ms without an answer from the VIP`,
      );
      say(
        `    (detection: ${HEALTH.fall} × ${HEALTH.interval} after the master's last answer, which came up to one interval before the cut)`,
      );
      say(
        `    the phone now reaches the VIP at MAC ${await lab.phoneArpMac(VOIP_VIP)} = pbx2's eth0 ${await lab.nodeMac('pbx2', 'eth0')}`,
      );
      if (run === 1) {
        await showStatus(lab, 'pbx2');
        say(
          `    pbx1 sees its own links down and stays out: state ${(await agentStatus(lab, 'pbx1')).state}`,
        );
      }

      say();
      say("3. The master's cables are plugged back in");
      pinger = await lab.startPhonePinger(VOIP_VIP, 10);
      await sleep(500);
      await lab.restore('pbx1');
      await waitSoleHolder(lab, 'pbx1', 60_000);
      await waitState(lab, 'pbx2', 'standby', 30_000);
      await sleep(1000);
      ping = await pinger.stop();
      failbacks.push(outageMs(ping));
      say(
        `    pbx2 yielded when pbx1 answered ${HEALTH.rise} times in a row; pbx1 claimed the VIPs once nobody answered on them`,
      );
      say(`    the phone went ${outageMs(ping).toFixed(0)} ms without an answer during the failback`);
      if (run === 1) await showStatus(lab, 'pbx1');
    }

    say();
    say("Summary (outage = longest gap between two answers to the phone's 10 ms pings)");
    say(
      `  failover after the master's cables were pulled: ${failovers.map((v) => v.toFixed(0)).join(', ')} ms` +
        (runs > 1 ? `; median ${median(failovers).toFixed(0)} ms` : ''),
    );
    say(
      `  failback when they came back:                  ${failbacks.map((v) => v.toFixed(0)).join(', ')} ms` +
        (runs > 1 ? `; median ${median(failbacks).toFixed(0)} ms` : ''),
    );
  } finally {
    say();
    say('4. Removing the lab (namespaces, processes, directories)');
    await lab.down();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`demo failed: ${e.message}\n`);
  process.exit(1);
});
