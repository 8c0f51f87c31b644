// What the agent answers on its control socket: the administrator's commands (status, sync),
// the ifupdown hook, and the peer's requests relayed by `pbx-ha peer-command`.

import type { ControlAnswer, ControlHandler, ControlRequest } from '../adapters/control-socket';
import { JobRunner } from '../jobs/runner';
import type { JobSchedule } from '../jobs/schedule';
import { COPY_KINDS, parsePeerRequest, type CopyKind } from '../link/peer-protocol';
import type { Logger } from '../ports/log';
import type { Agent } from './agent';
import type { PeerReceiver } from './peer-receiver';

export interface ControlParts {
  agent: Agent;
  receiver: PeerReceiver;
  runner: JobRunner;
  schedule: JobSchedule;
  log: Logger;
  setReleaseOnStop(release: boolean): void;
}

export function controlHandler(parts: ControlParts): ControlHandler {
  const { agent, receiver, runner, schedule, log } = parts;
  return async (req: ControlRequest): Promise<ControlAnswer> => {
    if (req.request.startsWith('peer-')) {
      const parsed = parsePeerRequest(JSON.stringify(req));
      return parsed.ok ? receiver.handle(parsed.request) : { ok: false, error: parsed.error };
    }
    switch (req.request) {
      case 'status':
        return { ok: true, status: { ...agent.status(), jobs: runner.state(), nextRuns: schedule.nextRuns() } };
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
          ? { ok: true, detail: result.record.detail, bytes: result.record.bytes, durationMs: result.record.durationMs }
          : { ok: false, error: result.record.error ?? 'failed' };
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
