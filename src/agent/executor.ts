// Carries out the domain's actions with the adapters, in the order given. Network changes
// are awaited (they take milliseconds); gratuitous ARP, notify and a service start run on
// their own so that nothing slow sits between the decision and the takeover. One exception to
// the order: a claim's announcement leaves once the addresses are in, before the routes (see
// claimThenAnnounce).

import type { ScriptVerdict } from '../adapters/script-security';
import type { PbxHaConfig, Role } from '../config/types';
import type { Action, NetChange, PeerRequestName } from '../domain/actions';
import type { NodeState } from '../domain/states';
import { assertNever } from '../domain/states';
import type { CommandRunner } from '../ports/commands';
import type { Logger } from '../ports/log';
import type { NetPort } from '../ports/network';
import type { GarpScheduler } from './garp-scheduler';

export type { CommandRunner };

export interface ExecutorDeps {
  net: NetPort;
  garp: GarpScheduler;
  run: CommandRunner;
  log: Logger;
  config: () => PbxHaConfig;
  identity: () => { node: string; role: Role };
  state: () => NodeState;
  /**
   * Starts a failback's data step as a job of its own (never awaited here: the event queue
   * keeps running, so a carrier loss during it is seen); its end comes back as an event.
   */
  failbackFetch?: (id: number, final: boolean, slaveServed: boolean) => void;
  /** The last astdb copy of a planned handover (services already stopped). */
  finalSync?: () => Promise<string>;
  /** Sends a request to the peer's agent; its answer comes back as an event. */
  peerRequest?: (request: PeerRequestName) => void;
  /** Looks for another holder of the VIPs now; a finding comes back as a `conflict` event. */
  conflictCheck?: () => void;
  /** Told of every alert, to keep it in the history. */
  onAlert?: (message: string) => void;
  /**
   * Whether a configured program may be run as root (script-security.ts); absent in tests whose
   * programs are fakes. A refused program is never run.
   */
  checkScript?: (program: string) => ScriptVerdict;
  /**
   * Runs before each services start, in the services' lane (never delaying the VIPs): streaming
   * mode promotes the database there (peer/streaming-db.ts). Its failure is its own to alert.
   */
  beforeServicesStart?: () => Promise<void>;
}

/** A configured program that was not run because it failed the script checks. */
export class ScriptRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptRefusedError';
  }
}

function describe(changes: NetChange[]): string {
  return changes
    .map((c) => {
      switch (c.kind) {
        case 'add-address':
          return `+${c.address}/${c.prefixLength} on ${c.ifname}`;
        case 'delete-address':
          return `-${c.address}/${c.prefixLength} on ${c.ifname}`;
        case 'add-route':
          return `+route ${c.destination}${c.via ? ` via ${c.via}` : ''} src ${c.source}`;
        case 'delete-route':
          return `-route ${c.destination}${c.via ? ` via ${c.via}` : ''} src ${c.source}`;
        default:
          return assertNever(c);
      }
    })
    .join(', ');
}

export class Executor {
  /** Service commands run one after another, never two at once. */
  private servicesLane: Promise<void> = Promise.resolve();
  /** Programs refused by the script checks, with the reason already alerted. */
  private refusedScripts = new Map<string, string>();

  constructor(private deps: ExecutorDeps) {}

  async run(actions: Action[]): Promise<void> {
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i];
      switch (action.kind) {
        case 'net': {
          const next = actions[i + 1];
          if (
            next?.kind === 'garp' &&
            (await this.claimThenAnnounce(action.changes, action.reason, next.vips))
          )
            i++;
          else await this.applyNet(action.changes, action.reason);
          break;
        }
        case 'garp':
          this.deps.garp.announce(action.vips);
          break;
        case 'conflict-check':
          this.deps.conflictCheck?.();
          break;
        case 'services': {
          const done = this.queueServices(action.command);
          if (action.wait) await done;
          break;
        }
        case 'failback-fetch':
          this.deps.failbackFetch?.(action.id, action.final, action.slaveServed);
          break;
        case 'final-sync':
          if (this.deps.finalSync) {
            try {
              this.deps.log.log('info', `final astdb copy: ${await this.deps.finalSync()}`);
            } catch (e) {
              this.alert(`final astdb copy before the handover failed: ${(e as Error).message}`);
            }
          }
          break;
        case 'peer-request':
          this.deps.peerRequest?.(action.request);
          break;
        case 'notify':
          this.notify(action.event, action.state);
          break;
        case 'alert':
          this.alert(action.message);
          break;
        default:
          assertNever(action);
      }
    }
  }

  private async applyNet(changes: NetChange[], reason: string): Promise<void> {
    try {
      await this.deps.net.apply(changes);
      this.deps.log.log('info', `${reason}: ${describe(changes)}`);
    } catch (e) {
      this.alert(`could not apply ${reason} (${describe(changes)}): ${(e as Error).message}`);
    }
  }

  /**
   * A claim (addresses, then their routes) followed by its gratuitous ARP: the addresses first,
   * then the announcement, then the routes. The phones and the switch learn the new holder as
   * soon as it answers on the VIPs, not after every route (each VIP's routes take a round trip
   * to iproute2; the routes only choose the source address of connections this node opens).
   * Returns false, having done nothing, when the action is not such a claim.
   */
  private async claimThenAnnounce(changes: NetChange[], reason: string, vips: string[]): Promise<boolean> {
    const addresses = changes.filter((c) => c.kind === 'add-address');
    const rest = changes.filter((c) => c.kind !== 'add-address');
    if (addresses.length === 0 || rest.length === 0 || !rest.every((c) => c.kind === 'add-route'))
      return false;
    await this.applyNet(addresses, reason);
    this.deps.garp.announce(vips);
    await this.applyNet(rest, reason);
    return true;
  }

  /** Runs one services command now, waiting for it (used before replacing the astdb). */
  async servicesNow(command: 'start' | 'stop'): Promise<void> {
    await this.queueServices(command);
  }

  /**
   * Service commands run one after another. A stop cancels a start still running (killed with
   * its process group): a node releasing the VIPs must not wait, with the phones cut off, for a
   * hung start to reach its [services] timeout.
   */
  private queueServices(command: 'start' | 'stop'): Promise<void> {
    if (command === 'stop' && this.runningStart) {
      this.deps.log.log('warn', 'services start still running: cancelled, the services are to be stopped');
      this.runningStart.abort();
    }
    return (this.servicesLane = this.servicesLane.then(() => this.runServices(command)));
  }

  /** The start being run, to cancel it if a stop comes meanwhile. */
  private runningStart: AbortController | null = null;

  /** Waits for service commands already started (used when the agent stops). */

  async settle(): Promise<void> {
    await this.servicesLane;
  }

  alert(message: string, notify = true): void {
    this.deps.log.log('warn', `ALERT: ${message}`);
    this.deps.onAlert?.(message);
    if (notify) this.notify('alert', this.deps.state(), [message]);
  }

  /**
   * Runs a configured program (services, notify, a tracked check) if it passes the script checks;
   * otherwise throws ScriptRefusedError without running it, after an alert the first time (and
   * again only if the reason changes after the program passed in between).
   */
  async runConfigured(
    argv: readonly string[],
    options: { timeoutMs: number; signal?: AbortSignal },
    what: string,
  ): Promise<unknown> {
    const verdict = this.deps.checkScript?.(argv[0]) ?? { ok: true };
    if (!verdict.ok) {
      const message = `${what}: ${argv[0]} is not run as root: ${verdict.reason} (a program run as root must be owned by root and writable by root alone, in directories that are too)`;
      if (this.refusedScripts.get(argv[0]) !== verdict.reason) {
        this.refusedScripts.set(argv[0], verdict.reason);
        // The alert calls the notify script: not when that is the refused one.
        this.alert(message, argv[0] !== this.deps.config().notify.script?.argv[0]);
      }
      throw new ScriptRefusedError(message);
    }
    if (this.refusedScripts.delete(argv[0]))
      this.deps.log.log('info', `${what}: ${argv[0]} passes the script checks again and is run`);
    return this.deps.run(argv, options);
  }

  private async runServices(command: 'start' | 'stop'): Promise<void> {
    if (command === 'start' && this.deps.beforeServicesStart)
      await this.deps
        .beforeServicesStart()
        .catch((e: Error) => this.alert(`before the services start: ${e.message}`));
    const cmd = this.deps.config().services[command];
    if (!cmd) return;
    const cancel = command === 'start' ? new AbortController() : null;
    this.runningStart = cancel;
    try {
      await this.runConfigured(
        cmd.argv,
        { timeoutMs: cmd.timeoutMs, signal: cancel?.signal },
        `services ${command}`,
      );
      this.deps.log.log('info', `services ${command}: ${cmd.argv.join(' ')} succeeded`);
    } catch (e) {
      // A refused script was alerted once already; every attempt is still logged.
      if (e instanceof ScriptRefusedError) this.deps.log.log('warn', (e as Error).message);
      else if (cancel?.signal.aborted)
        this.deps.log.log('warn', `services start cancelled for the stop: ${(e as Error).message}`);
      else this.alert(`services ${command} failed: ${(e as Error).message}`);
    } finally {
      if (this.runningStart === cancel) this.runningStart = null;
    }
  }

  /** Runs the notify script without waiting: a slow script never delays a takeover. */
  private notify(event: string, state: NodeState, extra: string[] = []): void {
    const script = this.deps.config().notify.script;
    if (!script) return;
    const { node, role } = this.deps.identity();
    const argv = [...script.argv, event, node, state, role, ...extra];
    this.runConfigured(argv, { timeoutMs: script.timeoutMs }, 'notify script').catch((e: Error) => {
      // Not an alert: alerting would call the same failing script again.
      this.deps.log.log(
        'warn',
        e instanceof ScriptRefusedError ? e.message : `notify script failed: ${e.message}`,
      );
    });
  }
}
