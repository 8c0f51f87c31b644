// What the agent answers on its control socket: the administrator's commands (status, sync),
// the ifupdown hook, and the peer's requests relayed by `pbx-ha peer-command`.

import type { ControlAnswer, ControlHandler, ControlRequest } from '../adapters/control-socket';
import { JobRunner } from '../jobs/runner';
import { checkPeerRequest, COPY_KINDS, type CopyKind } from '../peer/protocol';
import type { Clock } from '../ports/clock';
import type { StatusAnswer } from '../ports/status';
import type { Logger } from '../ports/log';
import type { Agent } from './agent';
import type { PeerReceiver } from '../peer/receiver';
import type { Replication } from '../peer/replication';

export interface ControlParts {
  agent: Agent;
  replication: Replication;
  receiver: PeerReceiver;
  runner: JobRunner;
  log: Logger;
  clock: Clock;
  /** The answer to `status` (built by the daemon, also read by the metrics). */
  status(): StatusAnswer;
  setReleaseOnStop(release: boolean): void;
}

export function controlHandler(parts: ControlParts): ControlHandler {
  const { agent, receiver, runner, log, replication, clock } = parts;
  const sleep = (ms: number) => new Promise<void>((r) => clock.after(ms, r));

  /** Why the peer cannot take the service now, or null when it can. */
  async function peerNotReady(): Promise<string | null> {
    let hello;
    try {
      hello = await replication.hello();
    } catch (e) {
      return `${agent.identityNow().peer} cannot be reached over the trusted link: ${(e as Error).message}`;
    }
    if (hello.state === 'fault' || hello.state === 'stopped') return `${hello.node} is ${hello.state}`;
    const failing = runner.state().filter((j) => j.consecutiveFailures > 0);
    if (failing.length)
      return `replication is failing (${failing.map((j) => `${j.kind}: ${j.lastError?.message ?? 'failed'}`).join('; ')})`;
    return null;
  }

  /** Waits (bounded) until `probe` says the pair got where it was asked to go. */
  async function settle(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
    for (let waited = 0; waited < ms; waited += 100) {
      if (await probe().catch(() => false)) return true;
      await sleep(100);
    }
    return false;
  }
  return async (req: ControlRequest): Promise<ControlAnswer> => {
    if (req.request.startsWith('peer-')) {
      const parsed = checkPeerRequest(req);
      return parsed.ok ? receiver.handle(parsed.request) : { ok: false, error: parsed.error };
    }
    switch (req.request) {
      case 'status':
        return { ok: true, status: parts.status() };
      case 'link-up':
        // The ifupdown hook: read links and addresses at once rather than at the next tick.
        agent.requestRead();
        return { ok: true };
      case 'sync': {
        const kind = req.kind;
        if (typeof kind !== 'string' || !(COPY_KINDS as readonly string[]).includes(kind)) {
          return { ok: false, error: `"kind" must be one of ${COPY_KINDS.join(', ')}` };
        }
        const result = await runner.run(kind as CopyKind, req.force === true ? 'forced' : 'manual');
        if (!result.ran) return { ok: false, error: `not copied: ${result.reason}` };
        return result.record.ok
          ? {
              ok: true,
              detail: result.record.detail,
              bytes: result.record.bytes,
              durationMs: result.record.durationMs,
            }
          : { ok: false, error: result.record.error ?? 'failed' };
      }
      case 'failover': {
        const me = agent.identityNow();
        if (me.role !== 'master')
          return { ok: false, error: `run it on the master (${me.peer}); this is the slave` };
        if (req.to !== undefined && req.to !== me.peer)
          return { ok: false, error: `--to ${String(req.to)}: the peer of ${me.node} is ${me.peer}` };
        const state = agent.status().state;
        if (state !== 'active')
          return { ok: false, error: `${me.node} is ${state}, not active: there is nothing to hand over` };
        const notReady = await peerNotReady();
        if (notReady && req.force !== true)
          return { ok: false, error: `refused: ${notReady}; --force hands over anyway` };
        const started = clock.nowMs();
        await agent.command({ kind: 'admin', command: 'failover' });
        const taken = await settle(async () => (await replication.hello()).state === 'active', 15_000);
        const took = Math.round(clock.nowMs() - started);
        return taken
          ? {
              ok: true,
              detail: `${me.peer} is active; ${me.node} is in maintenance until "pbx-ha failback" (${took} ms)${notReady ? `; forced although ${notReady}` : ''}`,
            }
          : {
              ok: false,
              error: `${me.node} is in maintenance but ${me.peer} did not become active within 15 s${notReady ? ` (${notReady})` : ''}`,
            };
      }
      case 'failback': {
        const me = agent.identityNow();
        if (me.role !== 'master')
          return { ok: false, error: `run it on the master (${me.peer}); this is the slave` };
        const state = agent.status().state;
        if (state === 'active') return { ok: false, error: `${me.node} is already active` };
        if (state === 'fault')
          return { ok: false, error: `${me.node} is in fault (${agent.status().reason}): it cannot serve` };
        const notReady = await peerNotReady();
        if (notReady && req.force !== true)
          return {
            ok: false,
            error: `refused: ${notReady}; --force takes the VIPs back as soon as nobody answers on them`,
          };
        const started = clock.nowMs();
        await agent.command({ kind: 'admin', command: 'failback' });
        const back = await settle(async () => agent.status().state === 'active', 60_000);
        return back
          ? { ok: true, detail: `${me.node} is active again (${Math.round(clock.nowMs() - started)} ms)` }
          : {
              ok: false,
              error: `${me.node} is ${agent.status().state}: the VIPs did not come back within 60 s`,
            };
      }
      case 'release-on-stop':
        if (typeof req.release !== 'boolean') return { ok: false, error: '"release" must be true or false' };
        parts.setReleaseOnStop(req.release);
        log.log('info', `on stop, the VIPs will be ${req.release ? 'released' : 'kept'}`);
        return { ok: true };
      default:
        return { ok: false, error: `unknown request "${req.request}"` };
    }
  };
}
