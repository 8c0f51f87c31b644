// The history row of a claim is written after the claim is made and announced: an SQLite
// commit (a sync of its log to disk, milliseconds) never sits between the decision and the
// first gratuitous ARP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, identityFor } from '../../../src/agent/agent';
import type { HistorySink } from '../../../src/ports/history';
import { FakeArp, FakeClock, FakeLan, FakeProber, RecordingLogger, RecordingRunner } from '../../fakes';
import { baseAddresses, nodeOf, pairConfig } from '../../fakes/config';

test('a takeover writes its history row after the VIPs are added and announced, stamped with the decision', async () => {
  const config = pairConfig();
  const clock = new FakeClock(0);
  const lan = new FakeLan(clock);
  // The slave alone: its master never answers, so it takes over after fall × interval.
  const net = lan.addNode('pbx2', baseAddresses(config, 'pbx2'));
  const arp = new FakeArp(lan, 'pbx2');
  const rows: { kind: string; summary: string; atWallMs: number; announced: number; held: boolean }[] = [];
  const history: HistorySink = {
    add: (e) =>
      void rows.push({
        kind: e.kind,
        summary: e.summary,
        atWallMs: e.atWallMs,
        announced: arp.announcements.length,
        held: net.holds('192.0.2.10') && net.holds('198.51.100.10'),
      }),
  };
  const agent = new Agent(config, identityFor(config, nodeOf(config, 'pbx2')), {
    clock,
    log: new RecordingLogger(),
    history,
    net,
    prober: new FakeProber(lan, 'pbx2'),
    arp,
    run: new RecordingRunner(clock).run,
  });
  await agent.start();
  await clock.advance(10_000);
  const takeover = rows.find((r) => r.kind === 'transition' && / -> active /.test(r.summary));
  assert.ok(takeover, `no takeover in the history: ${JSON.stringify(rows)}`);
  assert.equal(takeover.held, true, 'the row was written before the VIPs were added');
  assert.ok(
    takeover.announced >= 2,
    `the row was written before the announcement (${takeover.announced} frames)`,
  );
  const firstFrameAt = arp.announcements[0].atMs;
  assert.equal(takeover.atWallMs, clock.wallMs() - clock.nowMs() + firstFrameAt, 'stamped with the decision');
  await agent.stop(false);
});
