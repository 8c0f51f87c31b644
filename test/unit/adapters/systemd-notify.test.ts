// The agent's messages to systemd: nothing without NOTIFY_SOCKET, READY=1 with a status, watchdog
// pings at half of WATCHDOG_USEC while the event loop runs, and the real systemd-notify(1)
// delivering READY=1 to a datagram socket (python3 stands in for systemd: Node.js has no unix
// datagram sockets).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SystemdNotifier, type Run } from '../../../src/adapters/systemd-notify';
import { RecordingLogger } from '../../fakes';

const recordingLogger = () => new RecordingLogger();

function recorder(): { run: Run; sent: string[][] } {
  const sent: string[][] = [];
  return {
    sent,
    run: async (argv) => {
      sent.push([...argv]);
      return { stdout: '', stderr: '', durationMs: 1 };
    },
  };
}

test('without NOTIFY_SOCKET nothing is sent and no watchdog runs', async () => {
  const r = recorder();
  const n = new SystemdNotifier({ WATCHDOG_USEC: '1000000' }, recordingLogger(), r.run);
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogMs, null);
  await n.ready('active');
  n.startWatchdog();
  await n.stopping();
  assert.deepEqual(r.sent, []);
});

test('READY=1 with the state, then watchdog pings every half period, STOPPING=1 ends them', async () => {
  const r = recorder();
  const n = new SystemdNotifier(
    { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '4242' },
    recordingLogger(),
    r.run,
    4242,
  );
  await n.ready('standby');
  assert.deepEqual(r.sent, [['systemd-notify', 'READY=1', 'STATUS=standby']]);
  assert.equal(n.watchdogMs, 1000);
  n.startWatchdog();
  await new Promise((resolve) => setTimeout(resolve, 1300));
  const pings = r.sent.filter((a) => a[1] === 'WATCHDOG=1').length;
  assert.ok(pings >= 3 && pings <= 4, `${pings} pings in 1.3 s at 500 ms`);
  await n.stopping();
  const before = r.sent.length;
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(r.sent.length, before, 'no ping after STOPPING=1');
  assert.deepEqual(r.sent.at(-1), ['systemd-notify', 'STOPPING=1']);
});

test('a watchdog meant for another process (WATCHDOG_PID) is not answered', () => {
  const n = new SystemdNotifier(
    { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' },
    recordingLogger(),
    recorder().run,
    4242,
  );
  assert.equal(n.watchdogMs, null);
});

test('a failing systemd-notify is logged once, not at every ping, and never throws', async () => {
  const log = recordingLogger();
  const n = new SystemdNotifier({ NOTIFY_SOCKET: '/x' }, log, async () => {
    throw new Error('boom');
  });
  await n.ready('active');
  await n.ready('active');
  assert.equal(
    log.entries.filter((e) => /systemd-notify READY=1 STATUS=active failed: boom/.test(e.message)).length,
    1,
  );
});

test('the real systemd-notify delivers READY=1 and the status to NOTIFY_SOCKET', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-notify-'));
  const socket = path.join(dir, 'notify');
  try {
    const listener = spawn(
      'python3',
      [
        '-c',
        [
          'import socket, sys',
          's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
          's.bind(sys.argv[1])',
          's.settimeout(10)',
          'print("bound", flush=True)',
          // Every datagram, until killed: after READY=1 systemd-notify sends a BARRIER=1 with a
          // descriptor and waits until the receiver drops it (recv() does), so the listener must
          // still be there for it, as systemd is.
          'while True: print(s.recv(4096).decode(), flush=True)',
        ].join('\n'),
        socket,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    listener.stdout.setEncoding('utf8');
    const bound = new Promise<void>((resolve) =>
      listener.stdout.on('data', (d: string) => {
        out += d;
        if (out.startsWith('bound\n')) resolve();
      }),
    );
    const ended = new Promise<void>((resolve) => listener.on('close', () => resolve()));
    await bound;
    const log = recordingLogger();
    await new SystemdNotifier({ ...process.env, NOTIFY_SOCKET: socket }, log).ready('active');
    listener.kill();
    await ended;
    assert.deepEqual(
      log.entries.filter((e) => e.level !== 'debug'),
      [],
    );
    // The message, then systemd-notify's own BARRIER=1 (one datagram each).
    const lines = out
      .slice('bound\n'.length)
      .split('\n')
      .filter((l) => l !== '' && l !== 'BARRIER=1');
    assert.deepEqual(lines.sort(), ['READY=1', 'STATUS=active']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
