/**
 * dumpDatabase / restoreDatabase against a real PostgreSQL: a throwaway cluster this test makes
 * in a temporary directory (unix socket only, no TCP), run as the postgres system user, stopped
 * and deleted in `after`, also when a test fails. Needs root and Debian's postgresql package;
 * without them each test is skipped (and counted as skipped), or fails when process.env.CI is set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '../../../../src/adapters/exec';
import { DbCopyError, dumpDatabase, restoreDatabase } from '../../../../src/jobs/db/copy';
import type { DbCopyOptions } from '../../../../src/jobs/db/copy';
import { prerequisite } from '../../../fakes/prerequisites';

const PG_BIN = process.env.PBX_HA_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const EXCLUDE = ['cel', 'queue_log', 'call_log', 'stat_*'];

function unavailable(): string | null {
  if (process.platform !== 'linux') return `platform is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (runs PostgreSQL as the postgres user with runuser)';
  for (const p of ['initdb', 'pg_ctl', 'postgres', 'pg_dump', 'psql']) {
    if (!existsSync(path.join(PG_BIN, p)))
      return `${PG_BIN}/${p} is missing (install postgresql: scripts/setup)`;
  }
  for (const [cmd, ...args] of [
    ['id', '-u', 'postgres'],
    ['runuser', '--version'],
    ['pg_dump', '--version'],
    ['psql', '--version'],
  ]) {
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `\`${cmd} ${args.join(' ')}\` does not work here`;
  }
  return null;
}

const needs = prerequisite('database copy against a real PostgreSQL', unavailable());

/** A throwaway cluster: socket in dir/sock, no TCP, trust authentication, no fsync. */
class Cluster {
  readonly data: string;
  readonly sock: string;
  readonly log: string;
  constructor(readonly dir: string) {
    this.data = path.join(dir, 'data');
    this.sock = path.join(dir, 'sock');
    this.log = path.join(dir, 'postgres.log');
  }

  static async start(): Promise<Cluster> {
    const c = new Cluster(mkdtempSync(path.join(tmpdir(), 'pbx-ha-pg-')));
    try {
      chmodSync(c.dir, 0o755); // the postgres user must reach data and sock
      const ids = (await runCommand(['id', '-u', 'postgres'], { timeoutMs: 5000 })).stdout.trim();
      const gid = (await runCommand(['id', '-g', 'postgres'], { timeoutMs: 5000 })).stdout.trim();
      for (const d of [c.data, c.sock]) {
        mkdirSync(d, { mode: 0o700 });
        chownSync(d, Number(ids), Number(gid));
      }
      writeFileSync(c.log, '');
      chownSync(c.log, Number(ids), Number(gid));
      await runCommand(
        [
          'runuser',
          '-u',
          'postgres',
          '--',
          `${PG_BIN}/initdb`,
          '-D',
          c.data,
          '-U',
          'postgres',
          '--auth=trust',
          '--encoding=UTF8',
          '--locale=C.UTF-8',
          '--no-sync',
        ],
        { timeoutMs: 60_000 },
      );
      await runCommand(
        [
          'runuser',
          '-u',
          'postgres',
          '--',
          `${PG_BIN}/pg_ctl`,
          '-D',
          c.data,
          '-l',
          c.log,
          '-w',
          '-t',
          '60',
          '-o',
          `-c listen_addresses='' -k ${c.sock} -c fsync=off -c full_page_writes=off`,
          'start',
        ],
        { timeoutMs: 90_000 },
      );
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  get connection() {
    return { host: this.sock, port: 5432, user: 'postgres' };
  }

  async psql(db: string, sql: string): Promise<string> {
    const r = await runCommand(
      [
        `${PG_BIN}/psql`,
        '-X',
        '-A',
        '-t',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        this.sock,
        '-U',
        'postgres',
        '-d',
        db,
        '-c',
        sql,
      ],
      { timeoutMs: 60_000 },
    );
    return r.stdout.replace(/\n$/, '');
  }

  /** Stops the server (immediate) and deletes everything; never throws. */
  async stop(): Promise<void> {
    if (existsSync(path.join(this.data, 'postmaster.pid'))) {
      await runCommand(
        [
          'runuser',
          '-u',
          'postgres',
          '--',
          `${PG_BIN}/pg_ctl`,
          '-D',
          this.data,
          '-m',
          'immediate',
          '-w',
          '-t',
          '30',
          'stop',
        ],
        { timeoutMs: 40_000 },
      ).catch(() => {
        const pid = Number.parseInt(
          readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0],
          10,
        );
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const SCHEMA = `
CREATE TABLE context (name text PRIMARY KEY, displayname text);
CREATE TABLE userfeatures (id serial PRIMARY KEY, firstname text NOT NULL, context text REFERENCES context(name));
CREATE TABLE linefeatures (id serial PRIMARY KEY, user_id int REFERENCES userfeatures(id), name text UNIQUE NOT NULL);
CREATE TABLE "Mixed Case" (id int PRIMARY KEY, parent int REFERENCES "Mixed Case"(id), note text);
CREATE TABLE audit (id serial PRIMARY KEY, what text);
CREATE FUNCTION audit_user() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN INSERT INTO audit (what) VALUES ('user ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER userfeatures_audit AFTER INSERT ON userfeatures FOR EACH ROW EXECUTE FUNCTION audit_user();
CREATE TABLE cel (id serial PRIMARY KEY, eventtype text, linkedid text);
CREATE TABLE stat_call (id serial PRIMARY KEY, callid text);
`;

const MASTER_DATA = `
INSERT INTO context VALUES ('default', 'Default'), ('internal', E'tab\\there, back\\\\slash, é, "quote"');
INSERT INTO userfeatures (firstname, context) VALUES ('Alice', 'default'), ('Bob', 'internal'), ('Carol', NULL);
INSERT INTO linefeatures (user_id, name) VALUES (1, 'line-a'), (2, 'line-b'), (3, E'multi\\nline');
-- Row 1 ends up after row 2 on disk and points to it: checked row by row, the COPY would fail.
INSERT INTO "Mixed Case" VALUES (1, NULL, 'root'), (2, 1, 'child');
UPDATE "Mixed Case" SET parent = 2 WHERE id = 1;
INSERT INTO cel (eventtype, linkedid) SELECT 'CHAN_START', 'm' || g FROM generate_series(1, 50) g;
INSERT INTO stat_call (callid) VALUES ('m1'), ('m2');
`;

const SLAVE_DATA = `
INSERT INTO context VALUES ('old', 'Old');
INSERT INTO userfeatures (firstname, context) VALUES ('Zed', 'old');
INSERT INTO linefeatures (user_id, name) VALUES (1, 'line-z');
-- The slave served calls once: its own call log, its counter ahead of the master's.
INSERT INTO cel (eventtype, linkedid) SELECT 'CHAN_START', 's' || g FROM generate_series(1, 120) g;
INSERT INTO stat_call (callid) VALUES ('s1');
`;

const TABLES = ['context', 'userfeatures', 'linefeatures', 'Mixed Case', 'audit', 'cel', 'stat_call'];
const SEQUENCES = [
  'userfeatures_id_seq',
  'linefeatures_id_seq',
  'audit_id_seq',
  'cel_id_seq',
  'stat_call_id_seq',
];

describe('database copy against a real PostgreSQL', () => {
  let cluster: Cluster | null = null;
  let work = '';
  const opts = (database: string, extra: Partial<DbCopyOptions> = {}): DbCopyOptions => ({
    ...cluster!.connection,
    database,
    excludeTables: EXCLUDE,
    timeoutMs: 120_000,
    binDir: PG_BIN,
    ...extra,
  });

  /** md5 of each table's rows (in a fixed order) and each sequence's state. */
  async function state(db: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const t of TABLES) {
      const q = `"${t}"`;
      out[t] = await cluster!.psql(
        db,
        `SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '-') FROM ${q} x`,
      );
    }
    for (const s of SEQUENCES)
      out[s] = await cluster!.psql(db, `SELECT last_value || ' ' || is_called FROM ${s}`);
    return out;
  }

  const pick = (s: Record<string, string>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, s[k]]));
  const DUMPED = [
    'context',
    'userfeatures',
    'linefeatures',
    'Mixed Case',
    'audit',
    'userfeatures_id_seq',
    'linefeatures_id_seq',
    'audit_id_seq',
  ];
  const KEPT = ['cel', 'stat_call', 'cel_id_seq', 'stat_call_id_seq'];

  let slaveOriginal: Record<string, string> = {};
  let firstBackup = '';

  before(async () => {
    if (needs.lacking) return;
    cluster = await Cluster.start();
    work = path.join(cluster.dir, 'work');
    mkdirSync(work, { mode: 0o755 });
    await cluster.psql('postgres', 'CREATE DATABASE master');
    await cluster.psql('postgres', 'CREATE DATABASE slave');
    for (const db of ['master', 'slave']) await cluster.psql(db, SCHEMA);
    await cluster.psql('master', MASTER_DATA);
    await cluster.psql('slave', SLAVE_DATA);
    slaveOriginal = await state('slave');
  });

  after(async () => {
    await cluster?.stop();
  });

  it('dumps the master without the excluded tables and their sequences', needs.options, async () => {
    const file = path.join(work, 'outgoing', 'asterisk.sql');
    const r = await dumpDatabase({ ...opts('master'), file });
    assert.equal(r.file, file);
    assert.deepEqual(r.tables.map((t) => t.name).sort(), [
      'Mixed Case',
      'audit',
      'context',
      'linefeatures',
      'userfeatures',
    ]);
    assert.deepEqual(r.excludedSequences.sort(), ['"public"."cel_id_seq"', '"public"."stat_call_id_seq"']);
    const text = readFileSync(file, 'utf8');
    assert.equal(r.bytes, Buffer.byteLength(text));
    assert.match(text, /-- PostgreSQL database dump complete/);
    assert.match(text, /setval\('public\.userfeatures_id_seq', 3, true\)/);
    assert.doesNotMatch(text, /cel_id_seq|stat_call|CHAN_START/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(path.dirname(file)), ['asterisk.sql'], 'no temporary file left');
  });

  it(
    'restores into the slave: master rows everywhere except the excluded tables, kept as they were',
    needs.options,
    async () => {
      const file = path.join(work, 'asterisk-1.sql');
      const backupDir = path.join(work, 'backup');
      const t0 = performance.now();
      const d = await dumpDatabase({ ...opts('master'), file });
      const r = await restoreDatabase({ ...opts('slave'), file, backupDir, keep: 2 });
      const total = performance.now() - t0;
      process.stderr.write(
        `# db copy (small): dump ${d.durationMs.toFixed(0)} ms, restore (backup included) ${r.durationMs.toFixed(0)} ms, total ${total.toFixed(0)} ms\n`,
      );
      const master = await state('master');
      const slave = await state('slave');
      assert.deepEqual(pick(slave, DUMPED), pick(master, DUMPED));
      assert.deepEqual(pick(slave, KEPT), pick(slaveOriginal, KEPT));
      assert.equal(
        await cluster!.psql('slave', 'SELECT count(*) FROM audit'),
        '3',
        'no trigger fired during the restore',
      );
      assert.equal(r.tables.length, 5);
      assert.ok(existsSync(r.backupFile));
      assert.match(path.basename(r.backupFile), /^db-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.sql$/);
      assert.match(readFileSync(r.backupFile, 'utf8'), /Zed/);
      assert.deepEqual(
        readdirSync(backupDir),
        [path.basename(r.backupFile)],
        'only the backup: the restore script is gone',
      );
      firstBackup = r.backupFile;
    },
  );

  async function failingRestore(edit: (dump: string) => string, message: RegExp): Promise<void> {
    // The master changes, so that a restore that went through would show.
    await cluster!.psql(
      'master',
      `INSERT INTO userfeatures (firstname) VALUES ('Dave'); UPDATE userfeatures SET firstname = 'Alicia' WHERE firstname = 'Alice'`,
    );
    const file = path.join(work, 'asterisk-bad.sql');
    await dumpDatabase({ ...opts('master'), file });
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    const before = await state('slave');
    const error = await restoreDatabase({
      ...opts('slave'),
      file,
      backupDir: path.join(work, 'backup-failing'),
      keep: 2,
    }).then(
      () => assert.fail('the restore should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DbCopyError, String(error));
    assert.ok(error.message.includes(file), `names the file: ${error.message}`);
    assert.match(error.message, message);
    assert.match(error.message, /rolled back/);
    assert.deepEqual(await state('slave'), before, 'the slave keeps its data, sequences included');
    assert.ok(error.backupFile && existsSync(error.backupFile), 'the backup made before the attempt exists');
    assert.doesNotMatch(readFileSync(error.backupFile, 'utf8'), /Dave|Alicia/);
  }

  it(
    'a restore failing on a duplicate key half-way leaves the slave exactly as it was',
    needs.options,
    async () => {
      await failingRestore((dump) => {
        // Duplicate the first row of linefeatures, whose data comes after context's and userfeatures'.
        const m = /^COPY public\.linefeatures [^\n]*\n([^\n]*\n)/m.exec(dump);
        assert.ok(m, 'the dump has linefeatures data');
        return dump.replace(m[0], m[0] + m[1]);
      }, /duplicate key value violates unique constraint "linefeatures_pkey"/);
    },
  );

  it(
    'a restore failing on a bad line inside a COPY leaves the slave exactly as it was',
    needs.options,
    async () => {
      await failingRestore(
        (dump) =>
          dump.replace(/^(COPY public\.userfeatures [^\n]*\n[^\n]*\n)/m, '$1this line has too few columns\n'),
        /psql:[^\s]*\.restore-[^\s]*\.sql:\d+: ERROR: +invalid input syntax for type integer\b/,
      );
    },
  );

  it('the backup of the slave restores the data the slave had', needs.options, async () => {
    // Restoring a previous version from the backup directory itself, keeping 1: the old backup
    // goes only once the restore is over.
    const r = await restoreDatabase({
      ...opts('slave'),
      file: firstBackup,
      backupDir: path.join(work, 'backup'),
      keep: 1,
    });
    assert.deepEqual(await state('slave'), slaveOriginal);
    assert.deepEqual(readdirSync(path.join(work, 'backup')), [path.basename(r.backupFile)], 'keep = 1');
    assert.deepEqual(r.removedBackups, [firstBackup]);
    assert.ok(
      readdirSync(path.join(work, 'backup-failing')).length <= 2,
      'keep = 2 after failed restores too',
    );
  });

  it(
    'refuses, before changing anything, a dump that is cut short, holds excluded data or unknown tables',
    needs.options,
    async () => {
      const before = await state('slave');
      const backupDir = path.join(work, 'backup-refused');
      const full = path.join(work, 'with-cel.sql');
      await dumpDatabase({ ...opts('master', { excludeTables: [] }), file: full });
      await assert.rejects(
        restoreDatabase({ ...opts('slave'), file: full, backupDir, keep: 2 }),
        /never copied: public\.cel \(pattern cel\), public\.stat_call \(pattern stat_\*\)/,
      );

      const cut = path.join(work, 'cut.sql');
      const text = readFileSync(full, 'utf8');
      writeFileSync(cut, text.slice(0, Math.floor(text.length / 2)));
      await assert.rejects(
        restoreDatabase({ ...opts('slave'), file: cut, backupDir, keep: 2 }),
        /cut\.sql: not a usable data dump/,
      );

      await cluster!.psql(
        'master',
        'CREATE TABLE only_on_master (id int PRIMARY KEY); INSERT INTO only_on_master VALUES (1)',
      );
      const extra = path.join(work, 'extra.sql');
      await dumpDatabase({ ...opts('master'), file: extra });
      await assert.rejects(
        restoreDatabase({ ...opts('slave'), file: extra, backupDir, keep: 2 }),
        /has no table public\.only_on_master/,
      );
      await cluster!.psql('master', 'DROP TABLE only_on_master');

      assert.deepEqual(await state('slave'), before);
      assert.equal(existsSync(backupDir), false, 'refused before the backup');
    },
  );

  const crafted: Array<{
    what: string;
    lines: (pwn: string) => string[];
    harmless: (pwn: string) => Promise<void>;
  }> = [
    {
      what: 'a shell escape',
      lines: (pwn) => [`\\! touch ${pwn}/shell`],
      harmless: async (pwn) => assert.equal(existsSync(`${pwn}/shell`), false, 'the shell ran'),
    },
    {
      what: 'COPY TO PROGRAM in lower case',
      lines: (pwn) => [`copy (select 1) to program 'touch ${pwn}/program';`],
      harmless: async (pwn) => assert.equal(existsSync(`${pwn}/program`), false, 'the program ran'),
    },
    {
      what: 'a CREATE after blanks',
      lines: () => ['  CREATE TABLE planted_blank ();'],
      harmless: async () =>
        assert.equal(await cluster!.psql('slave', "SELECT to_regclass('public.planted_blank') IS NULL"), 't'),
    },
    {
      what: 'a role change',
      lines: () => ["ALTER ROLE postgres PASSWORD 'planted';"],
      harmless: async () =>
        assert.equal(
          await cluster!.psql(
            'postgres',
            "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'postgres'",
          ),
          't',
        ),
    },
    {
      what: 'a connection to another database',
      lines: () => ['\\c template1', '  CREATE TABLE planted_c ();'],
      harmless: async () =>
        assert.equal(await cluster!.psql('template1', "SELECT to_regclass('public.planted_c') IS NULL"), 't'),
    },
    {
      what: 'an output redirection',
      lines: (pwn) => [`\\o ${pwn}/out`],
      harmless: async (pwn) => assert.equal(existsSync(`${pwn}/out`), false, 'psql opened the file'),
    },
    {
      what: 'an early end of data followed by SQL',
      lines: () => [],
      harmless: async () =>
        assert.equal(await cluster!.psql('slave', "SELECT to_regclass('public.planted_row') IS NULL"), 't'),
    },
  ];

  for (const c of crafted) {
    it(
      `never runs the dump's own statements: ${c.what} is refused and has no effect`,
      needs.options,
      async () => {
        // A directory the server (user postgres) and psql (root here) could both write into.
        const pwn = path.join(cluster!.dir, 'pwn');
        mkdirSync(pwn, { recursive: true, mode: 0o777 });
        chmodSync(pwn, 0o777);
        // Each case on its own, whatever an earlier one did (against a version that ran them).
        for (const f of readdirSync(pwn)) rmSync(path.join(pwn, f));
        await cluster!.psql('slave', 'DROP TABLE IF EXISTS planted_blank, planted_row');
        await cluster!.psql('template1', 'DROP TABLE IF EXISTS planted_c');
        await cluster!.psql('postgres', 'ALTER ROLE postgres PASSWORD NULL');
        const clean = path.join(work, 'clean.sql');
        if (!existsSync(clean)) await dumpDatabase({ ...opts('master'), file: clean });
        // The dump is the peer's: it leaves out pg_dump's \\restrict line (psql 15.14+ refuses
        // backslash commands after it), as any crafted dump would.
        const dump = readFileSync(clean, 'utf8').replace(/^\\(un)?restrict .*\n/gm, '');
        const file = path.join(work, 'crafted.sql');
        const lines = c.lines(pwn);
        const text =
          lines.length > 0
            ? dump.replace(
                'SET statement_timeout = 0;\n',
                `SET statement_timeout = 0;\n${lines.join('\n')}\n`,
              )
            : dump.replace(/^(COPY public\.context [^\n]*\n)/m, '$1\\.\n  create table planted_row ();\n');
        assert.notEqual(text, dump);
        writeFileSync(file, text);
        const before = await state('slave');
        await assert.rejects(
          restoreDatabase({ ...opts('slave'), file, backupDir: path.join(work, 'backup-crafted'), keep: 2 }),
          /restore refused, nothing changed: .*crafted\.sql: not a usable data dump: line \d+: .* is not a line of a data-only dump/,
        );
        await c.harmless(pwn);
        assert.deepEqual(await state('slave'), before, 'the slave keeps its data');
      },
    );
  }

  it(
    'refuses a COPY into a table the slave does not copy (system catalogs, excluded tables and their sequences)',
    needs.options,
    async () => {
      const clean = path.join(work, 'clean2.sql');
      await dumpDatabase({ ...opts('master'), file: clean });
      const dump = readFileSync(clean, 'utf8');
      const file = path.join(work, 'crafted2.sql');
      const backupDir = path.join(work, 'backup-crafted2');
      writeFileSync(
        file,
        dump.replace(
          /^(COPY public\.context )/m,
          'COPY pg_catalog.pg_authid (rolname) FROM stdin;\nplanted\n\\.\n$1',
        ),
      );
      await assert.rejects(
        restoreDatabase({ ...opts('slave'), file, backupDir, keep: 2 }),
        /has no table pg_catalog\.pg_authid/,
      );
      writeFileSync(
        file,
        dump.replace(
          /^(COPY public\.context )/m,
          'COPY public.cel (eventtype) FROM stdin;\nplanted\n\\.\n$1',
        ),
      );
      await assert.rejects(
        restoreDatabase({ ...opts('slave'), file, backupDir, keep: 2 }),
        /never copied: public\.cel/,
      );
      writeFileSync(
        file,
        dump.replace(
          /^(SELECT pg_catalog\.setval)/m,
          "SELECT pg_catalog.setval('public.cel_id_seq', 1, false);\n$1",
        ),
      );
      await assert.rejects(
        restoreDatabase({ ...opts('slave'), file, backupDir, keep: 2 }),
        /never copied: public\.cel_id_seq/,
      );
    },
  );

  it(
    "keeps the rows' values out of the message of a failed restore (it goes to the history)",
    needs.options,
    async () => {
      const clean = path.join(work, 'clean3.sql');
      await dumpDatabase({ ...opts('master'), file: clean });
      const dump = readFileSync(clean, 'utf8');
      const file = path.join(work, 'crafted3.sql');
      const backupDir = path.join(work, 'backup-crafted3');
      // A row the server refuses: psql's message goes to the history, the secret in the row does not.
      writeFileSync(
        file,
        dump.replace(
          /^(COPY public\.userfeatures [^\n]*\n)/m,
          '$1not-a-number\tsecret-value-1234\tdefault\n',
        ),
      );
      const error = await restoreDatabase({ ...opts('slave'), file, backupDir, keep: 2 }).then(
        () => assert.fail('the restore should fail'),
        (e: Error) => e,
      );
      assert.match(error.message, /invalid input syntax for type integer/);
      assert.match(error.message, /COPY userfeatures, line 1/);
      assert.doesNotMatch(error.message, /secret-value-1234|not-a-number/);
    },
  );

  it('runs pg_dump and psql as the postgres system user when osUser is set', needs.options, async () => {
    const file = path.join(work, 'as-postgres', 'asterisk.sql');
    const d = await dumpDatabase({ ...opts('master', { osUser: 'postgres', binDir: undefined }), file });
    const st = statSync(file);
    assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600], 'the dump is root-only once written');
    const r = await restoreDatabase({
      ...opts('slave', { osUser: 'postgres', binDir: undefined }),
      file,
      backupDir: path.join(work, 'backup-as-postgres'),
      keep: 1,
    });
    assert.deepEqual(pick(await state('slave'), DUMPED), pick(await state('master'), DUMPED));
    const after = statSync(file);
    assert.deepEqual(
      [after.uid, after.gid, after.mode & 0o777],
      [st.uid, st.gid, 0o600],
      'the dump gets its owner and mode back',
    );
    assert.equal(statSync(r.backupFile).uid, 0);
    assert.equal(d.tables.length, 5);
  });

  it('copies a larger database in reasonable time', needs.options, async () => {
    await cluster!.psql('postgres', 'CREATE DATABASE bigm');
    await cluster!.psql('postgres', 'CREATE DATABASE bigs');
    for (const db of ['bigm', 'bigs']) await cluster!.psql(db, SCHEMA);
    await cluster!.psql(
      'bigm',
      `INSERT INTO context VALUES ('default', 'Default');
      INSERT INTO userfeatures (firstname, context) SELECT 'user ' || g, 'default' FROM generate_series(1, 100000) g;
      INSERT INTO linefeatures (user_id, name) SELECT g, 'line-' || g FROM generate_series(1, 100000) g;
      INSERT INTO cel (eventtype, linkedid) SELECT 'CHAN_START', md5(g::text) FROM generate_series(1, 200000) g;`,
    );
    const file = path.join(work, 'big.sql');
    const d = await dumpDatabase({ ...opts('bigm'), file });
    const r = await restoreDatabase({
      ...opts('bigs'),
      file,
      backupDir: path.join(work, 'backup-big'),
      keep: 1,
    });
    process.stderr.write(
      `# db copy (200,000 rows copied + 100,000 audit rows, 200,000 cel rows excluded, dump ${(d.bytes / 1e6).toFixed(1)} MB): dump ${d.durationMs.toFixed(0)} ms, restore ${r.durationMs.toFixed(0)} ms\n`,
    );
    assert.equal(await cluster!.psql('bigs', 'SELECT count(*) FROM linefeatures'), '100000');
    assert.equal(await cluster!.psql('bigs', 'SELECT count(*) FROM cel'), '0');
    assert.ok(d.durationMs + r.durationMs < 60_000, `${d.durationMs + r.durationMs} ms`);
  });
});
