import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMetricsServer, type MetricsServer } from '../../../src/adapters/metrics';
import type { StatusAnswer } from '../../../src/cli/status';
import type { JobState } from '../../../src/jobs/runner';
import { RecordingLogger } from '../../fakes/logger';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');

function job(kind: JobState['kind'], patch: Partial<JobState> = {}): JobState {
  return {
    kind,
    running: false,
    lastSuccess: null,
    lastError: null,
    consecutiveFailures: 0,
    nextRetryWallMs: null,
    ...patch,
  };
}

function baseStatus(): StatusAnswer {
  return {
    node: 'pbx1',
    role: 'master',
    state: 'active',
    since: '2025-03-01T11:59:30.000Z',
    reason: 'peer down',
    pid: 1234,
    configFile: '/etc/pbx-ha.conf',
    peer: {
      name: 'pbx2',
      address: '192.0.2.2',
      reachability: 'up',
      lastAnswer: '2025-03-01T11:59:59.500Z',
      rttMs: 0.42,
    },
    vips: [
      { name: 'voip', address: '192.0.2.10/24', interface: 'eth0', held: true },
      { name: 'data', address: '198.51.100.10/24', interface: 'eth1', held: false },
    ],
    tracks: [
      { address: '192.0.2.1', reachability: 'up' },
      { address: '198.51.100.1', reachability: 'down' },
    ],
    checks: [
      { name: 'asterisk', status: 'up', lastProblem: null },
      { name: 'postgres', status: 'down', lastProblem: 'exit 1' },
    ],
    links: { eth0: true },
    transitions: [
      { at: '2025-03-01T11:59:30.000Z', from: 'standby', to: 'active', reason: 'peer down' },
      { at: '2025-03-01T11:00:00.000Z', from: 'init', to: 'standby', reason: 'peer is master' },
    ],
    jobs: [job('files'), job('db'), job('astdb')],
  };
}

let current = baseStatus();
const wall = NOW;
const source = { status: () => current, wallMs: () => wall };
const log = new RecordingLogger();
const servers: MetricsServer[] = [];
let server: MetricsServer;

before(async () => {
  server = await startMetricsServer({ enabled: true, host: '127.0.0.1', port: 0 }, source, log);
  servers.push(server);
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const url = (path: string) => `http://127.0.0.1:${server.address.port}${path}`;

async function scrape(): Promise<string[]> {
  const res = await fetch(url('/metrics'));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return (await res.text()).split('\n');
}

function value(lines: string[], series: string): number {
  const line = lines.find((l) => l.startsWith(series + ' '));
  assert.ok(line, `no ${series} in\n${lines.join('\n')}`);
  return Number(line.slice(series.length + 1));
}

function includesAll(lines: string[], expected: string[]): void {
  for (const e of expected)
    assert.ok(lines.includes(e), `missing line ${JSON.stringify(e)} in\n${lines.join('\n')}`);
}

test('listens on the port the system chose, on loopback', () => {
  assert.equal(server.address.host, '127.0.0.1');
  assert.ok(server.address.port > 0);
  assert.ok(
    log.matching(new RegExp(`serving http://127\\.0\\.0\\.1:${server.address.port}/metrics`), 'info')
      .length === 1,
  );
});

test('state, peer and VIPs', async () => {
  current = baseStatus();
  const lines = await scrape();
  includesAll(lines, [
    '# HELP pbx_ha_state Current state of this node: 1 for the state it is in, 0 for the others (init, active, standby, fault, maintenance).',
    '# TYPE pbx_ha_state gauge',
    'pbx_ha_state{node="pbx1",role="master",state="init"} 0',
    'pbx_ha_state{node="pbx1",role="master",state="active"} 1',
    'pbx_ha_state{node="pbx1",role="master",state="standby"} 0',
    'pbx_ha_state{node="pbx1",role="master",state="fault"} 0',
    'pbx_ha_state{node="pbx1",role="master",state="maintenance"} 0',
    '# TYPE pbx_ha_state_change_timestamp_seconds gauge',
    `pbx_ha_state_change_timestamp_seconds ${Date.parse('2025-03-01T11:59:30.000Z') / 1000}`,
    '# TYPE pbx_ha_peer_reachable gauge',
    'pbx_ha_peer_reachable{peer="pbx2"} 1',
    'pbx_ha_peer_last_rtt_seconds{peer="pbx2"} 0.00042',
    '# TYPE pbx_ha_peer_last_rtt_seconds gauge',
    'pbx_ha_vip_held{vip="voip",address="192.0.2.10/24",interface="eth0"} 1',
    'pbx_ha_vip_held{vip="data",address="198.51.100.10/24",interface="eth1"} 0',
    '# TYPE pbx_ha_track_up gauge',
    'pbx_ha_track_up{address="192.0.2.1"} 1',
    'pbx_ha_track_up{address="198.51.100.1"} 0',
    '# TYPE pbx_ha_check_up gauge',
    'pbx_ha_check_up{check="asterisk"} 1',
    'pbx_ha_check_up{check="postgres"} 0',
  ]);
  assert.ok(!lines.some((l) => /^# TYPE pbx_ha_\w+ histogram/.test(l)), 'no histogram fed once per scrape');
  assert.equal(lines.filter((l) => l.startsWith('pbx_ha_state{')).length, 5);

  current = {
    ...baseStatus(),
    state: 'fault',
    peer: { ...baseStatus().peer, reachability: 'unknown', lastAnswer: null, rttMs: null },
  };
  const later = await scrape();
  includesAll(later, [
    'pbx_ha_state{node="pbx1",role="master",state="active"} 0',
    'pbx_ha_state{node="pbx1",role="master",state="fault"} 1',
    'pbx_ha_peer_reachable{peer="pbx2"} 0',
  ]);
  assert.ok(!later.some((l) => l.startsWith('pbx_ha_peer_last_rtt_seconds{')), 'no RTT before an answer');
  current = baseStatus();
});

test("the peer's last round trip is a gauge that follows the last answer, not the scrapes", async () => {
  current = {
    ...baseStatus(),
    peer: { ...baseStatus().peer, lastAnswer: '2025-03-01T12:00:00.500Z', rttMs: 3 },
  };
  assert.equal(value(await scrape(), 'pbx_ha_peer_last_rtt_seconds{peer="pbx2"}'), 0.003);
  assert.equal(value(await scrape(), 'pbx_ha_peer_last_rtt_seconds{peer="pbx2"}'), 0.003);
  current = baseStatus();
  assert.equal(value(await scrape(), 'pbx_ha_peer_last_rtt_seconds{peer="pbx2"}'), 0.00042);
});

test('every tracked address and check is a series, and one that is gone from the status is gone', async () => {
  current = { ...baseStatus(), tracks: [{ address: '192.0.2.1', reachability: 'unknown' }], checks: [] };
  const lines = await scrape();
  includesAll(lines, ['pbx_ha_track_up{address="192.0.2.1"} 0']);
  assert.ok(!lines.some((l) => l.startsWith('pbx_ha_track_up{address="198.51.100.1"}')));
  assert.ok(!lines.some((l) => l.startsWith('pbx_ha_check_up{')));
  current = baseStatus();
});

test('transitions: counted once each, the counter only grows', async () => {
  current = baseStatus();
  const first = await scrape();
  includesAll(first, [
    '# TYPE pbx_ha_transitions_total counter',
    'pbx_ha_transitions_total{to="active"} 1',
    'pbx_ha_transitions_total{to="standby"} 1',
    'pbx_ha_transitions_total{to="fault"} 0',
  ]);

  // Two new ones; the oldest falls out of the kept list: nothing goes down.
  const newer = [
    { at: '2025-03-01T12:00:05.000Z', from: 'fault', to: 'active', reason: 'healthy again' },
    { at: '2025-03-01T12:00:01.000Z', from: 'active', to: 'fault', reason: 'gateway down' },
  ] as const;
  current = { ...baseStatus(), transitions: [...newer, baseStatus().transitions[0]] };
  includesAll(await scrape(), [
    'pbx_ha_transitions_total{to="active"} 2',
    'pbx_ha_transitions_total{to="standby"} 1',
    'pbx_ha_transitions_total{to="fault"} 1',
  ]);

  // The same list again, then a shorter one: no change.
  includesAll(await scrape(), [
    'pbx_ha_transitions_total{to="active"} 2',
    'pbx_ha_transitions_total{to="fault"} 1',
  ]);
  current = { ...baseStatus(), transitions: [newer[0]] };
  includesAll(await scrape(), [
    'pbx_ha_transitions_total{to="active"} 2',
    'pbx_ha_transitions_total{to="fault"} 1',
  ]);
  current = baseStatus();
});

test('jobs: runs by result, last success, duration and bytes', async () => {
  const success = {
    kind: 'db' as const,
    trigger: 'schedule' as const,
    startedAtWallMs: NOW - 10_000,
    durationMs: 2500,
    ok: true,
    bytes: 123456,
    detail: 'ok',
    error: null,
  };
  current = { ...baseStatus(), jobs: [job('files'), job('db', { lastSuccess: success }), job('astdb')] };
  includesAll(await scrape(), [
    '# TYPE pbx_ha_job_runs_total counter',
    'pbx_ha_job_runs_total{kind="db",result="ok"} 1',
    'pbx_ha_job_runs_total{kind="db",result="failed"} 0',
    'pbx_ha_job_runs_total{kind="files",result="ok"} 0',
    'pbx_ha_job_last_success_timestamp_seconds{kind="db"} ' + (NOW - 7500) / 1000,
    'pbx_ha_job_last_success_timestamp_seconds{kind="files"} 0',
    'pbx_ha_job_last_duration_seconds{kind="db"} 2.5',
    'pbx_ha_job_last_bytes{kind="db"} 123456',
    'pbx_ha_job_consecutive_failures{kind="db"} 0',
  ]);

  // Unchanged: no new run counted.
  includesAll(await scrape(), ['pbx_ha_job_runs_total{kind="db",result="ok"} 1']);

  // Three failures in a row happen between two scrapes.
  current = {
    ...baseStatus(),
    jobs: [
      job('files'),
      job('db', {
        lastSuccess: success,
        lastError: { atWallMs: NOW, message: 'timed out' },
        consecutiveFailures: 3,
      }),
      job('astdb'),
    ],
  };
  includesAll(await scrape(), [
    'pbx_ha_job_runs_total{kind="db",result="ok"} 1',
    'pbx_ha_job_runs_total{kind="db",result="failed"} 3',
    'pbx_ha_job_consecutive_failures{kind="db"} 3',
    'pbx_ha_job_last_bytes{kind="db"} 123456',
  ]);

  // One more failure, then a success.
  current = {
    ...baseStatus(),
    jobs: [
      job('files'),
      job('db', {
        lastSuccess: success,
        lastError: { atWallMs: NOW + 60_000, message: 'timed out' },
        consecutiveFailures: 4,
      }),
      job('astdb'),
    ],
  };
  includesAll(await scrape(), ['pbx_ha_job_runs_total{kind="db",result="failed"} 4']);
  const again = { ...success, startedAtWallMs: NOW + 120_000, durationMs: 1000, bytes: 99 };
  current = {
    ...baseStatus(),
    jobs: [
      job('files'),
      job('db', { lastSuccess: again, lastError: { atWallMs: NOW + 60_000, message: 'timed out' } }),
      job('astdb'),
    ],
  };
  includesAll(await scrape(), [
    'pbx_ha_job_runs_total{kind="db",result="ok"} 2',
    'pbx_ha_job_runs_total{kind="db",result="failed"} 4',
    'pbx_ha_job_last_success_timestamp_seconds{kind="db"} ' + (NOW + 121_000) / 1000,
    'pbx_ha_job_last_duration_seconds{kind="db"} 1',
    'pbx_ha_job_last_bytes{kind="db"} 99',
    'pbx_ha_job_consecutive_failures{kind="db"} 0',
  ]);
  current = baseStatus();
});

test('no jobs in the status (replication off): no job series', async () => {
  current = { ...baseStatus(), jobs: undefined };
  const lines = await scrape();
  assert.ok(!lines.some((l) => l.startsWith('pbx_ha_job_last_bytes{')));
  current = baseStatus();
});

test('anything but /metrics is 404; other methods are refused', async () => {
  for (const path of ['/', '/metrics/', '/favicon.ico', '/status']) {
    const res = await fetch(url(path));
    assert.equal(res.status, 404, path);
    await res.text();
  }
  const post = await fetch(url('/metrics'), { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  await post.text();
  const withQuery = await fetch(url('/metrics?x=1'));
  assert.equal(withQuery.status, 200);
  await withQuery.text();
});

test('a failing source gives a 500 and a warning, and the next scrape works', async () => {
  const broken = {
    status: (): StatusAnswer => {
      throw new Error('boom');
    },
  };
  const s = await startMetricsServer({ enabled: true, host: '127.0.0.1', port: 0 }, broken, log);
  servers.push(s);
  const res = await fetch(`http://127.0.0.1:${s.address.port}/metrics`);
  assert.equal(res.status, 500);
  assert.match(await res.text(), /boom/);
  assert.equal(log.matching(/metrics: cannot collect: boom/, 'warn').length, 1);
  await scrape();
});

test('a second server on the same port fails and says which address', async () => {
  await assert.rejects(
    startMetricsServer({ enabled: true, host: '127.0.0.1', port: server.address.port }, source, log),
    (e: Error) => {
      assert.equal(
        e.message,
        `metrics: cannot listen on 127.0.0.1:${server.address.port}: the port is already in use (another pbx-ha, or another exporter?); change listen in [metrics]`,
      );
      return true;
    },
  );
  await scrape(); // the first one still serves
});

test('close is idempotent and frees the port', async () => {
  const s = await startMetricsServer({ enabled: true, host: '127.0.0.1', port: 0 }, source, log);
  const port = s.address.port;
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  await res.text();
  await Promise.all([s.close(), s.close()]);
  await s.close();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  const again = await startMetricsServer({ enabled: true, host: '127.0.0.1', port }, source, log);
  servers.push(again);
  assert.equal(again.address.port, port);
});
