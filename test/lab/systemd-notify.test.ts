/**
 * The real agent as systemd's Type=notify service would see it: NOTIFY_SOCKET and WATCHDOG_USEC
 * set as systemd sets them, a datagram socket standing in for systemd's (python3: Node.js has no
 * unix datagram sockets). READY=1 with the state once the first reconcile is done, WATCHDOG=1
 * at half the period while the agent runs, STOPPING=1 on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { withLab } from './harness';
import { FAST_HEALTH, waitSoleHolder } from './pair';

const LAB = { prefix: 'pbxsdn', dir: '/tmp/pbx-ha-lab-sdnotify', env: FAST_HEALTH };

/** Receives datagrams on `socket` and prints each with the time it came, as JSON lines. */
function listen(socket: string) {
  const child = spawn(
    'python3',
    [
      '-c',
      [
        'import json, socket, sys, time',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        's.bind(sys.argv[1])',
        'print("bound", flush=True)',
        'while True:',
        '    d = s.recv(4096)',
        '    print(json.dumps({"at": time.time(), "message": d.decode()}), flush=True)',
      ].join('\n'),
      socket,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const messages: { at: number; message: string }[] = [];
  let buffered = '';
  const bound = new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'bound') resolve();
        else messages.push(JSON.parse(line) as { at: number; message: string });
      }
    });
  });
  return { child, bound, messages };
}

test(
  'systemd: READY=1 after the first reconcile, watchdog pings while running, STOPPING=1 on SIGTERM',
  { timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync('/tmp/pbx-ha-notify-');
    const socket = path.join(dir, 'notify');
    const listener = listen(socket);
    try {
      await listener.bound;
      await withLab(
        t,
        async (lab) => {
          const started = Date.now() / 1000;
          await lab.start('pbx1', [], { env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '2000000' } });
          await lab.waitFor(
            'READY=1',
            async () => listener.messages.some((m) => m.message.includes('READY=1')),
            15_000,
          );
          const ready = listener.messages.find((m) => m.message.includes('READY=1'))!;
          assert.match(ready.message, /^STATUS=(init|active|standby|fault)$/m, ready.message);
          assert.ok(ready.at >= started);
          await waitSoleHolder(lab, 'pbx1');
          // 2 s watchdog: a ping every second.
          const pingsBefore = listener.messages.filter((m) => m.message === 'WATCHDOG=1').length;
          await new Promise((resolve) => setTimeout(resolve, 3500));
          const pings = listener.messages.filter((m) => m.message === 'WATCHDOG=1').length - pingsBefore;
          assert.ok(pings >= 2 && pings <= 5, `${pings} watchdog pings in 3.5 s at 1 s`);
          await lab.stop('pbx1');
          await lab.waitFor(
            'STOPPING=1',
            async () => listener.messages.some((m) => m.message === 'STOPPING=1'),
            5000,
          );
          const stopping = listener.messages.findIndex((m) => m.message === 'STOPPING=1');
          const lateRealPings = listener.messages
            .slice(stopping + 1)
            .filter((m) => m.message === 'WATCHDOG=1');
          assert.deepEqual(lateRealPings, [], 'no watchdog ping after STOPPING=1');
        },
        LAB,
      );
    } finally {
      listener.child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
