// Two nodes' replication parts (the master's Replication, each node's PeerReceiver) joined by
// FakePeerLinks, on real files in a temporary directory: the peer conversation in memory.
// Node states are set by the test; takeover and release requests change them as the agent would.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PbxHaConfig } from '../../../src/config';
import type { NodeState } from '../../../src/domain/states';
import { PeerReceiver } from '../../../src/peer/receiver';
import { Replication } from '../../../src/peer/replication';
import { pairConfig } from '../../fakes/config';
import { FakePeerLink, RecordingLogger } from '../../fakes';

export interface End {
  name: string;
  config: PbxHaConfig;
  state: NodeState;
  log: RecordingLogger;
  jobs: { summary: string; ok: boolean }[];
  facts: Map<string, string>;
  link: FakePeerLink;
  replication: Replication;
  receiver: PeerReceiver;
  /** The takeover and release requests this node's agent was handed. */
  asked: ('takeover' | 'release' | 'quiesce' | 'resume')[];
  /** Quiesced by the master (an active slave's services stopped, the VIPs kept), as the node machine would be. */
  quiesced: boolean;
  /** The last release found it quiesced. */
  releasedQuiesced: boolean;
}

/** The test pair's configuration with every replication path and the state directory under `dir`. */
export function configIn(dir: string): PbxHaConfig {
  const base = pairConfig();
  const r = base.replication;
  return {
    ...base,
    replication: {
      ...r,
      exchangeDir: path.join(dir, 'exchange'),
      backupDir: path.join(dir, 'backup'),
      astdb: { ...r.astdb, path: path.join(dir, 'astdb', 'astdb.sqlite3') },
    },
    // The receiver's own work files (staged copies, exports) go under the state directory.
    agent: { ...base.agent, stateDir: path.join(dir, 'state') },
  };
}

export class TwoEnds {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pbx-ha-peer-'));
  readonly ends = new Map<string, End>();

  constructor() {
    for (const [name, peer, role] of [
      ['pbx1', 'pbx2', 'master'],
      ['pbx2', 'pbx1', 'slave'],
    ] as const) {
      const config = configIn(path.join(this.dir, name));
      mkdirSync(path.dirname(config.replication.astdb.path), { recursive: true });
      const log = new RecordingLogger();
      const facts = new Map<string, string>();
      const link = new FakePeerLink(() => {
        const far = this.ends.get(peer);
        return far
          ? { handle: (req) => far.receiver.handle(req), exchangeDir: far.config.replication.exchangeDir }
          : null;
      });
      const end = {
        name,
        config,
        state: role === 'master' ? 'active' : 'standby',
        log,
        jobs: [],
        facts,
        link,
        asked: [],
        quiesced: false,
        releasedQuiesced: false,
      } as unknown as End;
      const peerAddress = config.nodes.find((n) => n.name === peer)!.address;
      end.replication = new Replication({
        config: () => end.config,
        identity: () => ({ node: name, role, peerAddress }),
        state: () => end.state,
        facts: { fact: (k) => facts.get(k) ?? null, setFact: (k, v) => void facts.set(k, v) },
        log,
        link,
      });
      end.receiver = new PeerReceiver({
        config: () => end.config,
        identity: () => ({ node: name, role }),
        state: () => end.state,
        reason: () => `the test set it ${end.state}`,
        log,
        recordJob: (summary, ok) => end.jobs.push({ summary, ok }),
        peerAsks: async (request) => {
          end.asked.push(request);
          // A quiesce keeps the VIPs (the state stays); a release or a resume ends it.
          if (request === 'quiesce') end.quiesced = end.state === 'active';
          if (request === 'release') end.releasedQuiesced = end.quiesced;
          if (request === 'release' || request === 'resume') end.quiesced = false;
          if (request === 'takeover' || request === 'release')
            end.state = request === 'takeover' ? 'active' : 'standby';
          return end.state;
        },
        handback: () => ({ quiesced: end.quiesced, releasedQuiesced: end.releasedQuiesced }),
      });
      this.ends.set(name, end);
    }
  }

  get master(): End {
    return this.ends.get('pbx1')!;
  }

  get slave(): End {
    return this.ends.get('pbx2')!;
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
