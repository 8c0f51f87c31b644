/**
 * The demo of pbx-ha's whole job, in the network lab: two PBX nodes (each with its own sshd and
 * PostgreSQL), a phone and a gateway in network namespaces; the real agent on both nodes, paired
 * with `pbx-ha pair`. It shows the master's data reaching the slave, cuts the master's cables while
 * "Asterisk" writes (and measures what the slave lacks: the loss window), records a key, a
 * voicemail and a database row on the slave while it serves, plugs the master back in, measures
 * the failback, and checks that each of them is now on the master. It exits 1, naming them, when
 * one is not; it removes everything it made, also after a failure.
 *
 *   node dist/scripts/demo.js [--runs N]      (scripts/demo does the set-up first)
 */
import { parseArgs } from 'node:util';
import { Lab } from '../lab/lab';
import { DATA_VIP, PBX_HA, type PbxNode, VOIP_VIP, WRITER, voipAddress } from '../lab/layout';
import { agentStatus, pairNodes, prepareSsh, waitSoleHolder, waitState } from '../lab/pair';
import { outageAround, startLivePinger } from '../lab/pinger';
import { pollUntil, sleep } from '../lab/run';
import {
  DEMO_REPLICATION,
  INBOX,
  SETTINGS_TABLE,
  astdbGet,
  astdbPut,
  createSettingsTable,
  insertSetting,
  leaveVoicemail,
  newestVoicemail,
  settingsRows,
  voicemail,
} from './demo-lib/data';

const HEALTH = {
  interval: process.env.PBX_LAB_INTERVAL ?? '1s',
  fall: process.env.PBX_LAB_FALL ?? '3',
  rise: process.env.PBX_LAB_RISE ?? '3',
};
/** How long after the failback the demo waits for the slave's data to be on the master. */
const GRACE_MS = 20_000;
/** The writer's astdb keys (test/fixtures/bin/astdb-writer.js): its last number. */
const WRITER_LAST = '/pbx-ha-test/last';

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function writerLast(lab: Lab, node: PbxNode): number {
  return Number(astdbGet(lab, node, WRITER_LAST) ?? 0);
}

/** Times (ms since the epoch) of the lines of a node's agent log that match, written after `since`. */
async function logTimes(lab: Lab, node: PbxNode, re: RegExp, since: number): Promise<number[]> {
  const out: number[] = [];
  for (const line of (await lab.agentLog(node)).split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s/.exec(line);
    if (m && re.test(line) && Date.parse(m[1]) >= since) out.push(Date.parse(m[1]));
  }
  return out;
}

/** The lines of a node's agent log that match, written after `since`, without time and level. */
async function logLines(lab: Lab, node: PbxNode, re: RegExp, since: number): Promise<string[]> {
  return (await lab.agentLog(node))
    .split('\n')
    .filter((l) => re.test(l) && Date.parse(l.split(/\s/)[0]) >= since)
    .map((l) => l.replace(/^\S+\s+\w+\s+/, ''));
}

interface Check {
  what: string;
  present: () => Promise<boolean>;
}

interface RunFigures {
  failoverMs: number;
  astdbLossS: number | null;
  voicemailLossS: number | null;
  returnToClaimMs: number | null;
  failbackOutageMs: number;
  missing: string[];
}

/** Builds the lab, its services and the pair: pbx1 active, pbx2 standby, the trusted link made. */
async function setUp(lab: Lab): Promise<void> {
  say('1. Building the lab: sshd and PostgreSQL in both nodes, `pbx-ha pair`, the agents started');
  await lab.up({ PBX_LAB_INTERVAL: HEALTH.interval, PBX_LAB_FALL: HEALTH.fall, PBX_LAB_RISE: HEALTH.rise });
  await prepareSsh(lab, DEMO_REPLICATION);
  for (const node of ['pbx1', 'pbx2'] as const) {
    await lab.startPostgres(node);
    await createSettingsTable(lab, node);
  }
  await lab.psql(
    'pbx1',
    `INSERT INTO ${SETTINGS_TABLE} (firstname, description) SELECT 'user' || g, 'seed' FROM generate_series(1, 50) g`,
  );
  // A PBX has its astdb and its voicemail tree before pbx-ha starts.
  await lab.exec('pbx1', [process.execPath, WRITER, '--fill', '1000']);
  leaveVoicemail(lab, 'pbx1', 'msg0000.txt', 'callerid=1002 (left before the demo)\n');
  const paired = (await pairNodes(lab)).split('\n').find((l) => l.startsWith('paired:'));
  say(`    pbx1$ pbx-ha pair  ->  ${paired ?? '(no "paired:" line)'}`);
  await lab.start('pbx1');
  await lab.start('pbx2');
  await waitSoleHolder(lab, 'pbx1', 30_000);
  await waitState(lab, 'pbx2', 'standby', 30_000);
  const [s1, s2] = await Promise.all([agentStatus(lab, 'pbx1'), agentStatus(lab, 'pbx2')]);
  say(`    pbx1 ${s1.state} (holds ${VOIP_VIP} and ${DATA_VIP}), pbx2 ${s2.state}`);
}

/** The master's astdb, a voicemail and the database reach the slave. */
async function masterDataToSlave(lab: Lab): Promise<void> {
  say();
  say("2. The master's data reaches the slave");
  let started = Date.now();
  await lab.exec('pbx1', [process.execPath, WRITER, '--count', '1', '--every', '1ms']);
  const want = writerLast(lab, 'pbx1');
  await pollUntil('the astdb on pbx2', () => writerLast(lab, 'pbx2') >= want, 60_000, 200);
  say(`    astdb: ${want} keys on pbx1, on pbx2 ${seconds(Date.now() - started)} after the last change`);
  started = Date.now();
  leaveVoicemail(lab, 'pbx1', 'msg0001.txt', 'callerid=1003\n');
  await pollUntil('the voicemail on pbx2', () => voicemail(lab, 'pbx2', 'msg0001.txt') !== null, 60_000, 200);
  say(`    voicemail ${INBOX}/msg0001.txt: on pbx2 ${seconds(Date.now() - started)} after it was left`);
  const db = await lab.exec('pbx1', [PBX_HA, 'sync', 'db'], { timeoutMs: 120_000 });
  const rows = Number((await lab.psql('pbx2', `SELECT count(*) FROM ${SETTINGS_TABLE}`)).trim());
  say(`    database (dump mode, hourly by default): pbx1$ pbx-ha sync db  ->  ${db.stdout.trim()}`);
  say(`      pbx2's ${SETTINGS_TABLE} now has ${rows} rows`);
}

/** One failover and failback, with the data written on each side; returns what it measured. */
async function failoverAndBack(lab: Lab, run: number): Promise<RunFigures> {
  say();
  say(
    "3. The master's cables are pulled while its Asterisk writes (an astdb key every 10 ms, a voicemail every 100 ms)",
  );
  const writer = lab.spawnIn('pbx1', [process.execPath, WRITER, '--every', '10ms']);
  const writerDone = new Promise((resolve) => writer.once('close', resolve));
  const prefix = `cut${run}`;
  const writtenAt: number[] = [];
  let n = 0;
  const timer = setInterval(() => {
    n++;
    leaveVoicemail(lab, 'pbx1', `${prefix}-${n}.txt`, `message ${n}\n`);
    writtenAt[n] = Date.now();
  }, 100);
  let pinger = await startLivePinger(lab, VOIP_VIP, 10);
  let masterKey: number;
  let periodMs: number;
  let lastVoicemail: number;
  let cutAt: number;
  try {
    await sleep(2000);
    const k0 = writerLast(lab, 'pbx1');
    const t0 = Date.now();
    await sleep(4000 + Math.random() * 2000);
    cutAt = Date.now();
    await lab.cut('pbx1');
    const t1 = Date.now();
    masterKey = writerLast(lab, 'pbx1');
    clearInterval(timer);
    lastVoicemail = n;
    if (masterKey <= k0) throw new Error(`the astdb writer made no progress on pbx1 (${k0} -> ${masterKey})`);
    periodMs = (t1 - t0) / (masterKey - k0);
  } finally {
    clearInterval(timer);
    writer.kill('SIGTERM');
  }
  await writerDone;
  await waitSoleHolder(lab, 'pbx2', 30_000);
  await waitState(lab, 'pbx2', 'active', 30_000);
  await pinger.waitReplyAfter(Date.now(), 10_000);
  await sleep(500);
  const failoverMs = outageAround(await pinger.stop(), cutAt);
  const slaveKey = writerLast(lab, 'pbx2');
  const onSlave = newestVoicemail(lab, 'pbx2', prefix);
  const astdbLossS = slaveKey > 0 ? ((masterKey - slaveKey) * periodMs) / 1000 : null;
  const voicemailLossS = onSlave > 0 ? (writtenAt[lastVoicemail] - writtenAt[onSlave]) / 1000 : null;
  const masterFinal = writerLast(lab, 'pbx1');
  say(`    pbx2 took over; the phone went ${failoverMs.toFixed(0)} ms without an answer from the VIP`);
  say(`      (detection: ${HEALTH.fall} × ${HEALTH.interval} without an answer from the master)`);
  say('    loss window (what the master wrote before the cut that pbx2 does not have):');
  say(
    astdbLossS === null
      ? '      astdb: no copy of the writer had reached pbx2'
      : `      astdb: ${astdbLossS.toFixed(2)} s (pbx2 has keys up to ${slaveKey}, pbx1 wrote ${masterKey})`,
  );
  say(
    voicemailLossS === null
      ? '      voicemail: none of the writer had reached pbx2'
      : `      voicemail: ${voicemailLossS.toFixed(2)} s (pbx2 has ${onSlave} of the ${lastVoicemail} left on pbx1)`,
  );
  say('      database (dump mode): every row since the last dump (here the `pbx-ha sync db` above)');
  say('    what pbx2 lacks is still on pbx1 (step 6 checks that the failback keeps these astdb keys)');

  say();
  say(
    '4. pbx2 serves: a caller leaves a voicemail, a phone sets do-not-disturb, an administrator adds a user',
  );
  const key = `/DND/${1000 + run}`;
  const vm = `msg-on-pbx2-${run}.txt`;
  const marker = `added-on-pbx2-${run}`;
  astdbPut(lab, 'pbx2', key, 'YES');
  leaveVoicemail(lab, 'pbx2', vm, `callerid=1004 (left while pbx2 served, run ${run})\n`);
  await insertSetting(lab, 'pbx2', `user added on pbx2 ${run}`, marker);
  say(`    astdb ${key} = YES; voicemail ${INBOX}/${vm}; a row in ${SETTINGS_TABLE}`);

  say();
  say("5. The master's cables are plugged back in: the failback");
  pinger = await startLivePinger(lab, VOIP_VIP, 10);
  await sleep(500);
  const restoredAt = Date.now();
  await lab.restore('pbx1');
  await waitSoleHolder(lab, 'pbx1', 60_000);
  await waitState(lab, 'pbx2', 'standby', 30_000);
  await pinger.waitReplyAfter(Date.now(), 10_000);
  await sleep(500);
  const failbackOutageMs = outageAround(await pinger.stop(), restoredAt);
  const claims = await logTimes(lab, 'pbx1', /\spbx1: \S+ -> active \(/, restoredAt - 1000);
  const returnToClaimMs = claims.length ? claims[0] - restoredAt : null;
  for (const line of await logLines(lab, 'pbx1', /failback data/, restoredAt - 1000))
    say(`    pbx1: ${line}`);
  say(
    `    pbx1 claimed the VIPs ${returnToClaimMs === null ? '(claim not found in its log)' : seconds(returnToClaimMs)} after its cables came back ` +
      `(it waits for ${HEALTH.rise} answers in a row, brings the slave's data across, then asks for the VIPs)`,
  );
  say(`    the phone went ${failbackOutageMs.toFixed(0)} ms without an answer during the failback`);

  say();
  say('6. On the master after the failback:');
  const checks: Check[] = [
    {
      what: `astdb key ${key} set on pbx2`,
      present: async () => astdbGet(lab, 'pbx1', key) === 'YES',
    },
    {
      what: `voicemail ${vm} left on pbx2`,
      present: async () => voicemail(lab, 'pbx1', vm) !== null,
    },
    {
      what: `database row added on pbx2 (${SETTINGS_TABLE})`,
      present: async () => (await settingsRows(lab, 'pbx1', marker)) === 1,
    },
    {
      what: `astdb keys pbx1 wrote up to its cut, never copied (to ${masterFinal})`,
      present: async () => writerLast(lab, 'pbx1') === masterFinal,
    },
  ];
  // What is there at the first look came with the failback; the rest is waited for a while, in
  // case it comes right after the claim.
  const found = new Map<string, number>();
  const claimedAt = claims[0] ?? Date.now();
  for (const c of checks) if (await c.present().catch(() => false)) found.set(c.what, 0);
  await pollUntil(
    'every item on pbx1',
    async () => {
      for (const c of checks) {
        if (!found.has(c.what) && (await c.present().catch(() => false))) found.set(c.what, Date.now());
      }
      return found.size === checks.length;
    },
    GRACE_MS,
    500,
  ).catch(() => undefined);
  const width = Math.max(...checks.map((c) => c.what.length));
  for (const c of checks) {
    const at = found.get(c.what);
    say(
      `    ${c.what.padEnd(width)}  ${
        at === undefined
          ? `MISSING (still not there ${seconds(GRACE_MS)} after the claim)`
          : at === 0
            ? 'there'
            : `there (${seconds(at - claimedAt)} after the claim)`
      }`,
    );
  }
  return {
    failoverMs,
    astdbLossS,
    voicemailLossS,
    returnToClaimMs,
    failbackOutageMs,
    missing: checks.filter((c) => !found.has(c.what)).map((c) => c.what),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '1' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50)
    throw new Error(`--runs: expected a whole number from 1 to 50, got "${values.runs}"`);

  const lab = new Lab({ prefix: 'pbxdemo', dir: '/tmp/pbx-ha-demo' });
  const figures: RunFigures[] = [];
  const stopping = () => void lab.down().finally(() => process.exit(130));
  process.on('SIGINT', stopping);
  process.on('SIGTERM', stopping);
  const started = Date.now();
  try {
    say('pbx-ha demo: a pair of PBX nodes in a network lab (Linux network namespaces)');
    say(
      `  pbx1 = master ${voipAddress('pbx1')}, pbx2 = slave ${voipAddress('pbx2')}; VIPs ${VOIP_VIP} (VOIP) and ${DATA_VIP} (DATA); a phone pings the VOIP VIP every 10 ms`,
    );
    say(`  health: interval ${HEALTH.interval}, fall ${HEALTH.fall}, rise ${HEALTH.rise}`);
    say();
    await setUp(lab);
    await masterDataToSlave(lab);
    for (let run = 1; run <= runs; run++) {
      if (runs > 1) say(`\n=== run ${run} of ${runs} ===`);
      figures.push(await failoverAndBack(lab, run));
    }
  } finally {
    say();
    say('7. Removing the lab (namespaces, processes, directories)');
    await lab.down();
  }

  const list = (v: (number | null)[], fmt: (x: number) => string) => {
    const ok = v.filter((x): x is number => x !== null);
    return (
      v.map((x) => (x === null ? '?' : fmt(x))).join(', ') +
      (ok.length > 1 ? `; median ${fmt(median(ok))}` : '')
    );
  };
  say();
  say(`Summary (${runs} run${runs > 1 ? 's' : ''}, ${seconds(Date.now() - started)})`);
  say(
    `  failover: the phone went ${list(
      figures.map((f) => f.failoverMs),
      (x) => `${x.toFixed(0)} ms`,
    )} without an answer`,
  );
  say(
    `  loss window at the failover: astdb ${list(
      figures.map((f) => f.astdbLossS),
      (x) => `${x.toFixed(2)} s`,
    )}; ` +
      `voicemail ${list(
        figures.map((f) => f.voicemailLossS),
        (x) => `${x.toFixed(2)} s`,
      )}`,
  );
  say(
    `  failback: pbx1 claimed ${list(
      figures.map((f) => f.returnToClaimMs),
      (x) => seconds(x),
    )} after its return; ` +
      `the phone went ${list(
        figures.map((f) => f.failbackOutageMs),
        (x) => `${x.toFixed(0)} ms`,
      )} without an answer`,
  );
  const missing = figures.flatMap((f, i) => f.missing.map((m) => (runs > 1 ? `run ${i + 1}: ${m}` : m)));
  if (missing.length) {
    say(`  NOT on the master after the failback: ${missing.join('; ')}`);
    process.exitCode = 1;
  } else {
    say('  everything written on either side is on the master after the failback');
  }
}

main().catch((e: Error) => {
  process.stderr.write(`demo failed: ${e.message}\n`);
  process.exit(1);
});
