// Who may ask what over the trusted link (issue: "Move the VIPs"). A request is honoured only
// when `from` names the receiver's configured peer, and only when it fits the receiver's role
// and state (domain/request-authority.ts); a refused request gets the reason as its answer, a
// log line (an alert when no agent of the pair would send it), and changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Role } from '../../../src/config/types';
import type { MachineEvent } from '../../../src/domain/node-machine';
import { NodeMachine } from '../../../src/domain/node-machine';
import { judgePeerRequest, type PeerRequestKind } from '../../../src/domain/request-authority';
import { NODE_STATES, type NodeState } from '../../../src/domain/states';
import { baseAddresses, machineSettings, pairConfig } from '../../fakes/config';
import { PEER_REQUESTS, quotedPeerText, type PeerRequest } from '../../../src/peer/protocol';
import { TwoEnds, type End } from './two-ends';

// --- the rule ------------------------------------------------------------------------------

/** What the rule must say, for every request in every role and state: true = honoured. */
function expected(request: PeerRequestKind, role: Role, state: NodeState): boolean {
  if (request === 'peer-hello' || request === 'peer-astdb-info') return true;
  if (role === 'master') return false;
  switch (request) {
    case 'peer-install':
      return state === 'standby';
    case 'peer-astdb-export':
    case 'peer-spool-list':
    case 'peer-spool-export':
    case 'peer-db-export':
      return true; // also while serving: the master fetches it before it asks for the VIPs back
    case 'peer-takeover':
      return state !== 'fault' && state !== 'maintenance';
    case 'peer-release':
    case 'peer-quiesce':
    case 'peer-resume':
      return true;
    case 'peer-pg-state':
    case 'peer-pg-start':
      return true;
    case 'peer-pg-stop':
    case 'peer-pg-follow':
      return state !== 'active'; // a serving slave's PostgreSQL stays the primary
  }
}

test('rule: every request in every role and state; only questions reach a master', () => {
  let refused = 0;
  for (const request of PEER_REQUESTS)
    for (const role of ['master', 'slave'] as const)
      for (const state of NODE_STATES) {
        const verdict = judgePeerRequest(request, { node: 'pbx9', role, state, reason: 'why' });
        const label = `${request} to a ${role} in ${state}`;
        assert.equal(verdict.honoured, expected(request, role, state), label);
        if (!verdict.honoured) {
          refused++;
          assert.match(verdict.why, /^pbx9 /, `${label}: the answer names the node`);
        }
      }
  // 13 requests × 5 states on the master, and 4 + 2 + 1 + 1 refusals on the slave.
  assert.equal(refused, 73);
});

test('rule: a serving slave quiesced by the two-phase failback lets the streaming switchover stop its PostgreSQL', () => {
  const facts = { node: 'pbx9', role: 'slave' as const, state: 'active' as const, reason: 'serving' };
  for (const request of ['peer-pg-stop', 'peer-pg-follow'] as const) {
    assert.equal(judgePeerRequest(request, facts).honoured, false, `${request}: serving`);
    assert.equal(
      judgePeerRequest(request, { ...facts, quiesced: true }).honoured,
      true,
      `${request}: quiesced`,
    );
    assert.equal(
      judgePeerRequest(request, { ...facts, role: 'master', quiesced: true }).honoured,
      false,
      `${request}: never of a master`,
    );
  }
});

test('rule: the refusals say why', () => {
  const master = { node: 'pbx1', role: 'master' as const, state: 'active' as const, reason: '' };
  assert.deepEqual(judgePeerRequest('peer-release', master), {
    honoured: false,
    why: 'pbx1 is the master: only the master asks for the VIPs back, of its slave',
  });
  assert.deepEqual(judgePeerRequest('peer-takeover', master), {
    honoured: false,
    why: 'pbx1 is the master: only the master hands over, to its slave',
  });
  assert.deepEqual(
    judgePeerRequest('peer-takeover', {
      node: 'pbx2',
      role: 'slave',
      state: 'fault',
      reason: 'no carrier on eth0',
    }),
    { honoured: false, why: 'pbx2 did not take over: it is fault (no carrier on eth0)' },
  );
  assert.deepEqual(
    judgePeerRequest('peer-install', { node: 'pbx2', role: 'slave', state: 'active', reason: '' }),
    { honoured: false, why: 'pbx2 is active: it accepts copies only in standby' },
  );
});

// --- the receiver (where requests arrive from the forced command and the control socket) ----

/** Sends `req` straight to `end`'s receiver, as the control socket hands it over. */
function ask(end: End, req: PeerRequest) {
  return end.receiver.handle(req);
}

test('receiver: a takeover naming anyone but the configured master is refused, and the slave stays in standby', async () => {
  const pair = new TwoEnds();
  try {
    const slave = pair.slave;
    assert.equal(slave.state, 'standby');
    for (const from of ['anything', 'pbx2', 'pbx1.example']) {
      assert.deepEqual(await ask(slave, { request: 'peer-takeover', from }), {
        ok: false,
        error: 'pbx2 takes requests only from its peer pbx1',
      });
      assert.deepEqual(await ask(slave, { request: 'peer-release', from }), {
        ok: false,
        error: 'pbx2 takes requests only from its peer pbx1',
      });
      assert.equal(
        (await ask(slave, { request: 'peer-hello', from })).ok,
        false,
        `hello from ${from} is not answered`,
      );
    }
    assert.equal(slave.state, 'standby');
    assert.deepEqual(slave.asked, [], 'nothing reached the node machine');
    assert.equal(
      slave.log.matching(
        /^refused peer-takeover from "anything": pbx2 takes requests only from its peer pbx1$/,
        'warn',
      ).length,
      1,
    );
    // The configured master is still heard.
    assert.deepEqual(await ask(slave, { request: 'peer-takeover', from: 'pbx1' }), {
      ok: true,
      node: 'pbx2',
      state: 'active',
    });
    assert.deepEqual(slave.asked, ['takeover']);
  } finally {
    pair.close();
  }
});

test('receiver: the active master is not made to stand by, nor to serve, by its own slave', async () => {
  const pair = new TwoEnds();
  try {
    const master = pair.master;
    assert.equal(master.state, 'active');
    assert.deepEqual(await ask(master, { request: 'peer-release', from: 'pbx2' }), {
      ok: false,
      error: 'pbx1 is the master: only the master asks for the VIPs back, of its slave',
    });
    master.state = 'standby';
    assert.deepEqual(await ask(master, { request: 'peer-takeover', from: 'pbx2' }), {
      ok: false,
      error: 'pbx1 is the master: only the master hands over, to its slave',
    });
    // A master in standby takes no copy either: copies go to the slave only.
    assert.deepEqual(await ask(master, { request: 'peer-install', from: 'pbx2', kind: 'astdb' }), {
      ok: false,
      error: 'pbx1 is the master: copies go from the master to the slave, never to the master',
    });
    assert.equal(master.state, 'standby');
    assert.deepEqual(master.asked, [], 'nothing reached the node machine');
    assert.deepEqual(master.jobs, [], 'nothing was installed');
    assert.equal(
      master.log.matching(/^refused peer-release from "pbx2": pbx1 is the master/, 'warn').length,
      1,
    );
    // Questions are still answered.
    assert.deepEqual(await ask(master, { request: 'peer-hello', from: 'pbx2' }), {
      ok: true,
      node: 'pbx1',
      role: 'master',
      state: 'standby',
    });
  } finally {
    pair.close();
  }
});

test('receiver: a slave in fault refuses a takeover without handing it to its node machine', async () => {
  const pair = new TwoEnds();
  try {
    const slave = pair.slave;
    slave.state = 'fault';
    assert.deepEqual(await ask(slave, { request: 'peer-takeover', from: 'pbx1' }), {
      ok: false,
      error: 'pbx2 did not take over: it is fault (the test set it fault)',
    });
    assert.deepEqual(slave.asked, []);
    assert.equal(slave.state, 'fault');
    assert.equal(
      slave.log.matching(/^refused peer-takeover from "pbx1": pbx2 did not take over/, 'warn').length,
      1,
    );
  } finally {
    pair.close();
  }
});

test('receiver: refusals no agent of the pair would cause are alerted once in a row, the rest logged', async () => {
  const pair = new TwoEnds();
  try {
    const alerts: string[] = [];
    const slave = pair.slave;
    (slave.receiver as unknown as { deps: { alert: (m: string) => void } }).deps.alert = (m) =>
      alerts.push(m);
    for (let i = 0; i < 3; i++) await ask(slave, { request: 'peer-takeover', from: 'intruder' });
    await ask(slave, { request: 'peer-release', from: 'intruder' });
    assert.deepEqual(alerts, [
      'refused peer-takeover from "intruder": pbx2 takes requests only from its peer pbx1',
      'refused peer-release from "intruder": pbx2 takes requests only from its peer pbx1',
    ]);
    assert.equal(slave.log.matching(/^refused peer-takeover from "intruder"/, 'warn').length, 2);
    assert.equal(slave.state, 'standby');
  } finally {
    pair.close();
  }
});

test('peer text in messages: control characters, DEL, C1 and line separators are escaped', () => {
  assert.equal(quotedPeerText('a\u001b[2Jb'), '"a\\u001b[2Jb"');
  assert.equal(quotedPeerText('a\nALERT: forged'), '"a\\nALERT: forged"');
  assert.equal(quotedPeerText('\u007f\u009b\u2028\u2029'), '"\\u007f\\u009b\\u2028\\u2029"');
  assert.equal(quotedPeerText('pbx1'), '"pbx1"');
  assert.doesNotMatch(quotedPeerText('x\u0085\u009by'), /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
});

// --- the node machine (the same rule, where the agent's queue applies it) ---------------------

function event(m: NodeMachine, e: MachineEvent) {
  return m.handle(e);
}

/** The master, active: it read its links and nobody answered on the VIPs. */
function activeMaster(): NodeMachine {
  const config = pairConfig();
  const m = new NodeMachine(machineSettings(config, 'pbx1'), 0);
  event(m, {
    kind: 'net-read',
    nowMs: 0,
    actual: { addresses: baseAddresses(config, 'pbx1'), routes: [] },
    carrier: { eth0: true, eth1: true },
  });
  let fetch = -1;
  for (const name of config.vips.map((v) => v.name))
    for (const a of event(m, {
      kind: 'probe-result',
      target: { kind: 'vip', name },
      sentAtMs: 0,
      nowMs: 100,
      answered: false,
    }).actions)
      if (a.kind === 'failback-fetch') fetch = a.id;
  // The master brings the slave's astdb across before it claims (docs/replication.md).
  event(m, { kind: 'failback-data', nowMs: 150, id: fetch, ok: true, detail: 'merged' });
  assert.equal(m.view().state, 'active');
  return m;
}

test('node machine: an active master asked to release or to take over changes nothing and does nothing', () => {
  const m = activeMaster();
  for (const request of ['release', 'takeover'] as const) {
    const { actions, transition } = event(m, { kind: 'peer-asks', nowMs: 200, request });
    assert.equal(transition, null, request);
    assert.deepEqual(actions, [], request);
    assert.equal(m.view().state, 'active', request);
    assert.equal(m.view().handedOver, false, request);
  }
});
