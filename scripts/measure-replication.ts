/**
 * Measures the copies in the network lab, at the sizes of a busy PBX: a PostgreSQL database of
 * at least 50 MB, 20 000 sound files and a 100 000-key astdb; then the astdb loss window at a
 * failover (a writer adds a key every 10 ms on the master; the master's cables are pulled;
 * how many seconds of keys the slave lacks once it serves).
 *
 *   node dist/scripts/measure-replication.js      (as root, after npm run build)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Lab } from '../lab/lab';
import { PBX_HA, WRITER } from '../lab/layout';
import { FAST_HEALTH, pairNodes, prepareSsh, startPair, waitState } from '../lab/pair';
const say = (s: string) => process.stdout.write(`${s}\n`);

async function timed(lab: Lab, what: string): Promise<number> {
  const t0 = performance.now();
  const r = await lab.exec('pbx1', [PBX_HA, 'sync', what], { timeoutMs: 1_800_000 });
  const ms = performance.now() - t0;
  say(`  ${r.stdout.trim()}`);
  return ms;
}

function lastKey(file: string, prefix = 'pbx-ha-test'): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT value FROM astdb WHERE key = ?').get(`/${prefix}/last`) as
      { value: string } | undefined;
    return row ? Number(row.value) : 0;
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const lab = new Lab({ prefix: 'pbxmeasure', dir: '/tmp/pbx-ha-measure' });
  try {
    await lab.up(FAST_HEALTH);
    await prepareSsh(lab, '[sync.files]\npaths = /var/lib/asterisk/sounds, /var/spool/asterisk/voicemail\n');
    for (const node of ['pbx1', 'pbx2'] as const) {
      await lab.startPostgres(node);
      await lab.psql(
        node,
        'CREATE TABLE userfeatures (id serial PRIMARY KEY, firstname text NOT NULL, description text); CREATE TABLE cel (id serial PRIMARY KEY, eventtype text);',
      );
    }
    await pairNodes(lab);

    say('filling the master: database, sound files, astdb');
    await lab.psql(
      'pbx1',
      "INSERT INTO userfeatures (firstname, description) SELECT 'user' || g, repeat(md5(g::text), 8) FROM generate_series(1, 200000) g;",
    );
    const dbSize = (await lab.psql('pbx1', "SELECT pg_size_pretty(pg_database_size('asterisk'))")).trim();
    const sounds = lab.hostPath('pbx1', '/var/lib/asterisk/sounds/custom');
    const block = Buffer.alloc(8192, 0x55);
    for (let d = 0; d < 20; d++) {
      mkdirSync(path.join(sounds, `dir${d}`), { recursive: true });
      for (let f = 0; f < 1000; f++) writeFileSync(path.join(sounds, `dir${d}`, `prompt-${f}.wav`), block);
    }
    await lab.exec('pbx1', [process.execPath, WRITER, '--fill', '100000']);
    say(`  database ${dbSize}, 20 000 sound files of 8 KiB, astdb of 100 000 keys`);

    await startPair(lab);
    say('first copies (nothing on the slave yet):');
    const first = {
      db: await timed(lab, 'db'),
      files: await timed(lab, 'files'),
      astdb: await timed(lab, 'astdb'),
    };
    say('second copies (one change each):');
    await lab.psql('pbx1', "UPDATE userfeatures SET firstname = 'changed' WHERE id = 1;");
    writeFileSync(path.join(sounds, 'dir0', 'prompt-0.wav'), Buffer.alloc(8192, 0x66));
    await lab.exec('pbx1', [process.execPath, WRITER, '--count', '1']);
    const second = {
      db: await timed(lab, 'db'),
      files: await timed(lab, 'files'),
      astdb: await timed(lab, 'astdb'),
    };

    say('astdb loss window at failover (writer every 10 ms on the master, default debounce):');
    const writer = lab.spawnIn('pbx1', [process.execPath, WRITER, '--every', '10ms']);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 15_000));
    const atCut = lastKey(lab.hostPath('pbx1', '/var/lib/asterisk/astdb.sqlite3'));
    await lab.cut('pbx1');
    await waitState(lab, 'pbx2', 'active', 30_000);
    const onSlave = lastKey(lab.hostPath('pbx2', '/var/lib/asterisk/astdb.sqlite3'));
    writer.kill('SIGTERM');
    const base = 100_001; // the --fill and --count runs above
    const rateMs = (Date.now() - started) / Math.max(1, atCut - base);
    say(
      `  master had written key ${atCut} at the cut; the slave serves with key ${onSlave}: ${atCut - onSlave} keys ≈ ${(((atCut - onSlave) * 10) / 1000).toFixed(2)} s lost (writer period measured ${rateMs.toFixed(1)} ms)`,
    );

    say('');
    say('| copy | first | second (one change) |');
    say('|---|---|---|');
    for (const k of ['db', 'files', 'astdb'] as const)
      say(`| ${k} | ${(first[k] / 1000).toFixed(1)} s | ${(second[k] / 1000).toFixed(1)} s |`);
  } finally {
    await lab.down();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`measure-replication failed: ${e.message}\n`);
  process.exit(1);
});
