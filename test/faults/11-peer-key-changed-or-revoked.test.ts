/**
 * FAULT 11: the trust between the nodes breaks: the peer's host key changes (a reinstalled
 * slave, or somebody in the middle); later pbx-ha's key is removed from the peer's
 * authorized_keys. Replication stops with a clear alert; failover goes on without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PBX_HA, faultCase, sleep, type FaultLab } from './lib';

/** A master failure and its return, with replication broken: the VIPs go and come back. */
async function failoverAndBack(f: FaultLab): Promise<void> {
  await f.lab.cut('pbx1');
  await f.checkInvariants({ holder: 'pbx2', otherState: 'fault', report: false });
  await sleep(1500);
  await f.lab.restore('pbx1');
  await f.checkInvariants();
}

test(
  "FAULT 11: the peer's host key changes; pbx-ha's key is removed from the peer",
  { timeout: 300_000 },
  async (t) => {
    await faultCase(
      t,
      {
        n: 11,
        name: 'peer-key-changed-or-revoked',
        fault:
          "the slave's SSH host key changes; later pbx-ha's key is removed from the slave's authorized_keys",
        holds:
          'replication stops with a clear alert ("host key of 192.0.2.12 CHANGED", "root@192.0.2.12 refused pbx-ha\'s key … run "pbx-ha pair" again") in the history and pbx-ha status; failover and failback go on without it',
      },
      {},
      async (f) => {
        const { lab } = f;
        // --- pbx2 "reinstalled": its sshd away for a while, then back with a new host key ---------
        const sshd = await lab.startSshd('pbx2');
        process.kill(sshd, 'SIGTERM');
        await lab.waitFor(
          'sshd on pbx2 stopped',
          async () => !(await lab.pids('pbx2')).includes(sshd),
          15_000,
        );
        // Meanwhile the copies fail (the writer keeps changing the astdb) and the first alert says why.
        await lab.waitFor(
          'the alert for the unreachable slave',
          async () =>
            /alert\s+! astdb copy failed 1 times in a row: connect ECONNREFUSED/.test(
              await f.history('pbx1'),
            ),
          30_000,
          500,
        );
        rmSync(lab.hostKeyPath('pbx2'));
        rmSync(`${lab.hostKeyPath('pbx2')}.pub`);
        await lab.startSshd('pbx2');
        const changed = await f.sync('astdb', { now: true, allowFail: true });
        assert.notEqual(changed.code, 0);
        assert.match(changed.stderr, /host key of 192\.0\.2\.12 CHANGED/);
        // Alerted although the run of failures had begun (and been alerted) with another error.
        assert.match(
          await f.history('pbx1'),
          /alert\s+! astdb copy failed \d+ times in a row: host key of 192\.0\.2\.12 CHANGED/,
        );
        assert.match(
          (await f.status('pbx1')).jobs?.find((j) => j.kind === 'astdb')?.lastError?.message ?? '',
          /host key of 192\.0\.2\.12 CHANGED/,
        );
        f.detail(`changed host key: "${changed.stderr.trim().split('\n')[0].slice(0, 150)}"`);
        await failoverAndBack(f);
        assert.match(
          await lab.agentLog('pbx1'),
          /ALERT: failback: the slave's last astdb changes could not be brought across \(.*CHANGED/,
        );
        f.detail(
          "failover and failback with the changed host key: fine (the slave releases by itself after its grace; the master claims without the slave's astdb, with an alert)",
        );

        // --- Paired again (the administrator checked the new key), then pbx-ha's key revoked ------
        await lab.exec('pbx1', [PBX_HA, 'pair', '--fingerprint', await lab.hostKeyFingerprint('pbx2')], {
          timeoutMs: 60_000,
        });
        await f.sync('astdb', { now: true });
        const authorized = lab.hostPath('pbx2', '/root/.ssh/authorized_keys');
        const lines = readFileSync(authorized, 'utf8').split('\n');
        assert.ok(
          lines.some((l) => l.includes('pbx-ha@pbx1')),
          "pbx-ha's key is in the slave's authorized_keys",
        );
        writeFileSync(authorized, lines.filter((l) => !l.includes('pbx-ha@pbx1')).join('\n'));
        const revoked = await f.sync('astdb', { now: true, allowFail: true });
        assert.notEqual(revoked.code, 0);
        assert.match(
          revoked.stderr,
          /astdb: root@192\.0\.2\.12 refused pbx-ha.s key \/etc\/pbx-ha\/ssh\/id_ed25519 \(not, or no longer, in its authorized_keys\); replication stopped; run "pbx-ha pair" again/,
        );
        await lab.waitFor(
          'the alert for the revoked key',
          async () =>
            /alert\s+! astdb copy failed 1 times in a row: root@192\.0\.2\.12 refused pbx-ha's key/.test(
              await f.history('pbx1'),
            ),
          15_000,
          500,
        );
        f.detail(`revoked key: "${revoked.stderr.trim().split('\n')[0].slice(0, 150)}"`);
        await failoverAndBack(f);
        f.detail('failover and failback with the key revoked: fine');
      },
    );
  },
);
