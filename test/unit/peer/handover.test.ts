// Two real agents built as the daemon builds them (agent/daemon.ts), joined by the in-memory
// trusted link: the planned handover and the failback asked with `pbx-ha failover|failback`
// (the control handler), the automatic failback after a crash with the slave's astdb fetched
// back, and the refusals. Replication runs on real astdb files in a temporary directory.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { ControlAnswer, ControlRequest } from '../../../src/adapters/control-socket';
import { contentDigest } from '../../../src/jobs/astdb/digest';
import { PairWorld, type WorldNode } from '../../fakes/world';
import { pairConfig } from '../../fakes/config';
import { makeAstdb, rowsTagged } from '../jobs/astdb/helpers';

async function linkedPair(t: TestContext, overrides = {}): Promise<PairWorld> {
  const w = new PairWorld(pairConfig(overrides), { peerLinks: true });
  // Also when an assertion failed before the test's own shutdown.
  t.after(() => rmSync(w.dir!, { recursive: true, force: true }));
  await w.boot('pbx1');
  await w.boot('pbx2');
  makeAstdb(w.node('pbx1').config.replication.astdb.path, rowsTagged(30, 'master'));
  await w.run(10_000);
  // The first claim waits for the failback data step (real file I/O on both ends): real time too.
  await until(w, () => w.soleHolder() === 'pbx1', 10_000);
  assert.equal(w.soleHolder(), 'pbx1');
  assert.equal(w.state('pbx2'), 'standby');
  return w;
}

/**
 * Runs the world until `done`, in 10 ms steps of its clock, letting real time pass too: the
 * copies do real file I/O (snapshots, fsync), which fake time cannot hurry. Checks the
 * one-holder rule at every step.
 */
async function until(w: PairWorld, done: () => boolean, limitMs: number): Promise<void> {
  const end = w.clock.nowMs() + limitMs;
  while (!done()) {
    if (w.clock.nowMs() >= end) throw new Error(`not done within ${limitMs} ms (now ${w.clock.nowMs()} ms)`);
    await w.run(10, 10);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Sends a control request to `node` as `pbx-ha` would, and runs the world until it is answered. */
async function ask(
  w: PairWorld,
  node: WorldNode,
  req: ControlRequest,
  limitMs = 90_000,
): Promise<ControlAnswer> {
  let answer: ControlAnswer | null = null;
  void node.parts!.handle(req).then((a) => (answer = a));
  await until(w, () => answer !== null, limitMs);
  return answer!;
}

/** Asterisk on `node` changes its astdb (a new file with other rows). */
function asteriskWrites(node: WorldNode, tag: string): string {
  const file = node.config.replication.astdb.path;
  rmSync(file, { force: true });
  makeAstdb(file, rowsTagged(40, tag));
  return contentDigest(file);
}

test('pbx-ha failover: the final astdb copy, then the takeover request over the kept channel; the slave serves, one holder throughout', async (t) => {
  const w = await linkedPair(t);
  const [master, slave] = [w.node('pbx1'), w.node('pbx2')];
  const copied = await ask(w, master, { request: 'sync', kind: 'astdb' });
  assert.equal(copied.ok, true, JSON.stringify(copied));
  master.link!.sent.length = 0;

  const answer = await ask(w, master, { request: 'failover' });
  assert.equal(answer.ok, true, JSON.stringify(answer));
  assert.match(
    String((answer as unknown as { detail: string }).detail),
    /^pbx2 is active; pbx1 is in maintenance until "pbx-ha failback" \(\d+ ms\)$/,
  );
  assert.equal(w.soleHolder(), 'pbx2');
  assert.deepEqual(w.violations, []);
  // hello (readiness), hello + install (final copy), hello (the channel kept for the takeover), takeover, hello (settled?).
  assert.deepEqual(master.link!.sent.slice(0, 5), [
    'peer-hello',
    'peer-hello',
    'peer-install',
    'peer-hello',
    'peer-takeover',
  ]);
  assert.equal(master.log.matching(/^final astdb copy: 30 keys/).length, 1);
  assert.equal(slave.log.matching(/^took over at pbx1's request$/).length, 1);
  assert.equal(
    contentDigest(slave.config.replication.astdb.path),
    contentDigest(master.config.replication.astdb.path),
  );
  await w.shutdown();
});

test('pbx-ha failback: the astdb the slave changed is fetched and merged while it serves, then it releases and the master claims', async (t) => {
  const w = await linkedPair(t);
  const [master, slave] = [w.node('pbx1'), w.node('pbx2')];
  assert.equal((await ask(w, master, { request: 'failover' })).ok, true);
  const slaveDigest = asteriskWrites(slave, 'served-by-slave');
  master.link!.sent.length = 0;

  const answer = await ask(w, master, { request: 'failback' });
  assert.equal(answer.ok, true, JSON.stringify(answer));
  assert.match(String((answer as unknown as { detail: string }).detail), /^pbx1 is active again \(\d+ ms\)$/);
  // `active` comes with the decision; the VIPs once the slave's astdb is in place.
  await until(w, () => w.soleHolder() === 'pbx1', 30_000);
  assert.equal(w.state('pbx2'), 'standby');
  assert.deepEqual(w.violations, []);
  // The slave's data first, while it still serves (the spool and the database first: the slave
  // has no spool file and was never sent a dump); then the slave stops its services (it wrote
  // nothing since: no final fetch), then the release.
  assert.deepEqual(master.link!.sent.slice(0, 7), [
    'peer-hello',
    'peer-spool-list',
    'peer-db-export',
    'peer-astdb-info',
    'peer-astdb-export',
    'peer-quiesce',
    'peer-release',
  ]);
  assert.equal(
    contentDigest(master.config.replication.astdb.path),
    slaveDigest,
    "the slave's changes are kept",
  );
  assert.equal(master.log.matching(/^failback data: astdb merged with the slave's: /).length, 1);
  await w.shutdown();
});

async function crashAndReturn(
  t: TestContext,
  overrides: Record<string, Record<string, string>>,
): Promise<PairWorld> {
  const w = await linkedPair(t, overrides);
  assert.equal((await ask(w, w.node('pbx1'), { request: 'sync', kind: 'astdb' })).ok, true);
  await w.crash('pbx1');
  await until(w, () => w.soleHolder() === 'pbx2', 10_000);
  const slaveDigest = asteriskWrites(w.node('pbx2'), 'after-crash');
  const master = await w.reboot('pbx1');
  await until(w, () => w.soleHolder() === 'pbx1' && w.state('pbx2') === 'standby', 60_000);
  await w.run(5000);
  assert.equal(w.soleHolder(), 'pbx1');
  assert.deepEqual(w.violations.slice(0, 2), []);
  assert.ok(master.link!.sent.includes('peer-release'));
  assert.equal(w.node('pbx2').log.matching(/^pbx2: active -> standby/).length, 1);
  assert.equal(contentDigest(master.config.replication.astdb.path), slaveDigest);
  await w.shutdown();
  return w;
}

test("automatic failback after a crash (failback_delay covers the slave's rise): the returning master asks for the release over the link and fetches the astdb the slave changed", async (t) => {
  await crashAndReturn(t, { failover: { failback: 'auto', failback_delay: '5s' } });
});

// With failback_delay shorter than the slave's rise × interval (the default is 0), the returning
// master asks for the release while the slave's detector still counts it silent. The request
// itself is the proof that the master is up: the slave releases and does not take the VIPs again
// on the old silence (found by this test: it used to, and both held them until the ARP conflict
// check, about 1.5 s here).
test('automatic failback after a crash with the default failback_delay (0): one holder throughout', async (t) => {
  await crashAndReturn(t, {});
});

test('pbx-ha failover refused: on the slave, to another node, a peer out of reach, replication failing; --force hands over anyway', async (t) => {
  const w = await linkedPair(t);
  const [master, slave] = [w.node('pbx1'), w.node('pbx2')];
  assert.deepEqual(await ask(w, slave, { request: 'failover' }), {
    ok: false,
    error: 'run it on the master (pbx1); this is the slave',
  });
  assert.deepEqual(await ask(w, master, { request: 'failover', to: 'pbx9' }), {
    ok: false,
    error: '--to pbx9: the peer of pbx1 is pbx2',
  });

  master.link!.failure = new Error('connect ETIMEDOUT 192.0.2.12:22');
  assert.deepEqual(await ask(w, master, { request: 'failover' }), {
    ok: false,
    error:
      'refused: pbx2 cannot be reached over the trusted link: connect ETIMEDOUT 192.0.2.12:22; --force hands over anyway',
  });
  const copy = await ask(w, master, { request: 'sync', kind: 'astdb' });
  assert.deepEqual(copy, { ok: false, error: 'connect ETIMEDOUT 192.0.2.12:22' });
  master.link!.failure = null;
  const refused = await ask(w, master, { request: 'failover' });
  assert.deepEqual(refused, {
    ok: false,
    error:
      'refused: replication is failing (astdb: connect ETIMEDOUT 192.0.2.12:22); --force hands over anyway',
  });
  assert.equal(w.soleHolder(), 'pbx1', 'nothing moved');

  const forced = await ask(w, master, { request: 'failover', force: true });
  assert.equal(forced.ok, true, JSON.stringify(forced));
  assert.match(
    String((forced as unknown as { detail: string }).detail),
    /; forced although replication is failing/,
  );
  assert.equal(w.soleHolder(), 'pbx2');
  assert.deepEqual(w.violations, []);
  await w.shutdown();
});

test('pbx-ha failback refused on an active master; the peer in fault refuses a failover', async (t) => {
  const w = await linkedPair(t);
  const master = w.node('pbx1');
  assert.deepEqual(await ask(w, master, { request: 'failback' }), {
    ok: false,
    error: 'pbx1 is already active',
  });
  // eth1 (the data VIP's link) without carrier: pbx2 is in fault, still reachable on eth0.
  w.lan.setCarrier('pbx2', false, 'eth1');
  await until(w, () => w.state('pbx2') === 'fault', 10_000);
  assert.deepEqual(await ask(w, master, { request: 'failover' }), {
    ok: false,
    error: 'refused: pbx2 is fault; --force hands over anyway',
  });
  assert.equal(w.soleHolder(), 'pbx1');
  await w.shutdown();
});

test('the control socket: relayed peer requests are checked as objects; status is the one answer the metrics read too', async (t) => {
  const w = await linkedPair(t);
  const master = w.node('pbx1');
  assert.deepEqual(await ask(w, master, { request: 'peer-hello', from: 'pbx2; rm -rf /' }), {
    ok: false,
    error: '"from" must be a node name',
  });
  assert.deepEqual(await ask(w, master, { request: 'peer-install', from: 'pbx2', kind: 'etc' }), {
    ok: false,
    error: '"kind" must be one of files, db, astdb',
  });
  assert.deepEqual(await ask(w, master, { request: 'peer-hello', from: 'pbx2' }), {
    ok: true,
    node: 'pbx1',
    role: 'master',
    state: 'active',
  });
  assert.deepEqual(await ask(w, master, { request: 'sync', kind: 'all' }), {
    ok: false,
    error: '"kind" must be one of files, db, astdb',
  });
  const status = await ask(w, master, { request: 'status' });
  assert.equal(status.ok, true);
  assert.deepEqual((status as unknown as { status: unknown }).status, master.parts!.statusAnswer());
  const s = (
    status as unknown as {
      status: { state: string; jobs: { kind: string }[]; nextRuns: Record<string, unknown> };
    }
  ).status;
  assert.equal(s.state, 'active');
  assert.deepEqual(s.jobs.map((j) => j.kind).sort(), ['astdb', 'db', 'files']);
  assert.deepEqual(Object.keys(s.nextRuns).sort(), ['astdb', 'db', 'files']);
  await w.shutdown();
});
