/**
 * What only the SQLite store promises beyond the shared contract: its pragmas, that a write
 * whose promise resolved survives kill -9 of the writer, that a second process can write to
 * the same file at once, and clear errors when the file cannot be used.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Kysely } from 'kysely';
import type { Generated } from 'kysely';
import { NodeSqliteDialect, openSqliteDatabase } from '../../src/store/sqlite-dialect.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunRecord } from '../../src/store/index.ts';
import { sqliteTestDatabase } from '../support/databases.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'create-runs.ts');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDb() {
  const db = await sqliteTestDatabase();
  cleanups.push(db.cleanup);
  return db;
}

/** Collects the child's complete stdout lines; `waitFor` resolves once a condition on them holds. */
function lineCollector(child: ChildProcess) {
  const lines: string[] = [];
  let buffered = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    // Only complete lines count: a partial line may be cut off by the kill.
    lines.push(...parts.filter((l) => l !== ''));
    for (const check of waiters) check();
  });
  child.once('exit', () => {
    for (const check of waiters) check();
  });
  function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`timed out after ${timeoutMs} ms with ${lines.length} lines; stderr: ${stderr}`)),
        timeoutMs,
      );
      function done(err?: Error) {
        clearTimeout(timer);
        waiters.delete(check);
        if (err === undefined) resolve();
        else reject(err);
      }
      function check() {
        if (predicate()) done();
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`child exited early; stderr: ${stderr}`));
      }
      waiters.add(check);
      check();
    });
  }
  return { lines, waitFor };
}

describe('NodeSqliteDialect', () => {
  it('runs Kysely queries: affected rows, RETURNING, streaming, booleans as 0/1, plain row objects', async () => {
    const db = new Kysely<{ t: { id: Generated<number>; name: string; flag: boolean | number } }>({
      dialect: new NodeSqliteDialect({ database: openSqliteDatabase(':memory:') }),
    });
    try {
      await db.schema
        .createTable('t')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('flag', 'integer', (c) => c.notNull())
        .execute();
      const inserted = await db
        .insertInto('t')
        .values([
          { name: 'a', flag: true },
          { name: 'b', flag: false },
        ])
        .executeTakeFirst();
      expect(inserted.numInsertedOrUpdatedRows).toBe(2n);
      expect(inserted.insertId).toBe(2n);
      const returned = await db.insertInto('t').values({ name: 'c', flag: true }).returning(['id', 'name']).executeTakeFirstOrThrow();
      expect(returned).toEqual({ id: 3, name: 'c' });
      const rows = await db.selectFrom('t').selectAll().orderBy('id').execute();
      expect(rows).toStrictEqual([
        { id: 1, name: 'a', flag: 1 },
        { id: 2, name: 'b', flag: 0 },
        { id: 3, name: 'c', flag: 1 },
      ]);
      expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
      const updated = await db.updateTable('t').set({ flag: false }).where('flag', '=', true).executeTakeFirst();
      expect(updated.numUpdatedRows).toBe(2n);
      const streamed: string[] = [];
      for await (const row of db.selectFrom('t').select('name').orderBy('id', 'desc').stream()) streamed.push(row.name);
      expect(streamed).toEqual(['c', 'b', 'a']);
      // A failed transaction leaves nothing behind, and the connection is usable afterwards.
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('t').values({ name: 'd', flag: true }).execute();
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await db.selectFrom('t').select('name').execute()).map((r) => r.name)).toEqual(['a', 'b', 'c']);
    } finally {
      await db.destroy();
    }
  });
  it('runs a statement again with other parameters, after a failed run, after the schema changed and past the statements it keeps', async () => {
    const db = new Kysely<{ t: { id: number; name: string; note?: string } }>({
      dialect: new NodeSqliteDialect({ database: openSqliteDatabase(':memory:') }),
    });
    try {
      await db.schema
        .createTable('t')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .execute();
      const byId = (id: number) => db.selectFrom('t').selectAll().where('id', '=', id).executeTakeFirst();
      for (let id = 1; id <= 3; id++)
        await db
          .insertInto('t')
          .values({ id, name: `n${id}` })
          .execute();
      expect(await byId(2)).toEqual({ id: 2, name: 'n2' });
      expect(await byId(3)).toEqual({ id: 3, name: 'n3' });
      await expect(db.insertInto('t').values({ id: 1, name: 'again' }).execute()).rejects.toThrow(/UNIQUE/);
      await db.insertInto('t').values({ id: 4, name: 'n4' }).execute();
      // `select *` sees a column added after it was first prepared.
      await db.schema.alterTable('t').addColumn('note', 'text').execute();
      await db.updateTable('t').set({ note: 'x' }).where('id', '=', 2).execute();
      expect(await byId(2)).toEqual({ id: 2, name: 'n2', note: 'x' });
      // More distinct statements than are kept (lists of every length up to 300), then the first again.
      for (let n = 1; n <= 300; n++) {
        const ids = Array.from({ length: n }, (_, i) => i + 1);
        expect(await db.selectFrom('t').select('id').where('id', 'in', ids).execute()).toHaveLength(Math.min(n, 4));
      }
      expect(await byId(4)).toEqual({ id: 4, name: 'n4', note: null });
    } finally {
      await db.destroy();
    }
  });
});

describe('SQLite store', () => {
  it('opens the file with WAL, synchronous=NORMAL, foreign keys and a busy timeout', async () => {
    const { path } = await tempDb();
    const db = openSqliteDatabase(path);
    try {
      const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
      expect(pragma('journal_mode')).toBe('wal');
      expect(pragma('synchronous')).toBe(1); // NORMAL: the driver syncs the WAL itself (group commit)
      expect(pragma('foreign_keys')).toBe(1);
      expect(pragma('busy_timeout')).toBe(5000);
    } finally {
      db.close();
    }
  });

  it('creates missing parent directories and accepts sqlite:, sqlite:// and bare paths', async () => {
    const { dir } = await tempDb();
    for (const url of [`sqlite:${dir}/a/b/one.db`, `sqlite://${dir}/two.db`, join(dir, 'three.db')]) {
      const store = await openStore({ url });
      try {
        expect(store.dialect).toBe('sqlite');
        await store.tokens.create({ name: url, hash: url });
      } finally {
        await store.close();
      }
    }
    const again = await openStore({ url: join(dir, 'a', 'b', 'one.db') });
    try {
      expect((await again.tokens.list()).map((t) => t.name)).toEqual([`sqlite:${dir}/a/b/one.db`]);
    } finally {
      await again.close();
    }
  });

  it('fails with STORE_UNAVAILABLE naming the path when the file cannot be used', async () => {
    const { dir } = await tempDb();
    const notADir = join(dir, 'plain-file');
    await writeFile(notADir, 'x');
    await expect(openStore({ url: `sqlite:${notADir}/gantry.db` })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining(`cannot open the SQLite database at ${notADir}/gantry.db`),
    });
    const garbage = join(dir, 'garbage.db');
    await writeFile(garbage, Buffer.alloc(4096, 7));
    await expect(openStore({ url: `sqlite:${garbage}` })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(new RegExp(`SQLite database at ${garbage}: .*not a database`)),
    });
  });

  it('migrates a fresh file in one transaction: a migration that fails leaves no Gantry table behind', async () => {
    const { path } = await tempDb();
    // A table of the same name as one a late migration creates makes that migration fail.
    const raw = openSqliteDatabase(path);
    raw.exec('create table job_file_chunks (x text)');
    raw.close();
    await expect(openStore({ url: path })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining(`cannot migrate the SQLite database at ${path}`),
    });
    const after = openSqliteDatabase(path);
    try {
      const tables = after
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .all()
        .map((row) => row.name);
      expect(tables).not.toContain('projects');
      expect(tables).not.toContain('runs');
      expect(after.prepare('select count(*) as n from gantry_migrations').get()).toEqual({ n: 0 });
    } finally {
      after.close();
    }
  });

  it('lets several processes open and migrate the same fresh file at once', async () => {
    const { url } = await tempDb();
    const names = ['first', 'second'];
    const children = names.map((name) =>
      spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'open-and-close.ts'), url, name], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    const results = await Promise.all(
      children.map(async (child) => {
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const [code] = await once(child, 'exit');
        return { code, stderr };
      }),
    );
    expect(results).toEqual(names.map(() => ({ code: 0, stderr: '' })));
    const store = await openStore({ url });
    try {
      expect((await store.tokens.list()).map((t) => t.name).sort()).toEqual([...names].sort());
    } finally {
      await store.close();
    }
  });

  it('loses no resolved write when the writing process is killed with SIGKILL, while another process writes too', async () => {
    const { url } = await tempDb();
    const store = await openStore({ url });
    cleanups.push(() => store.close());

    const child = spawn(process.execPath, [CHILD, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const exited = once(child, 'exit');
    const { lines: printed, waitFor } = lineCollector(child);

    // Write from this process at the same time: numbers must stay unique across processes.
    await waitFor(() => printed.length >= 5, 20_000);
    const ours: RunRecord[] = [];
    for (let i = 0; i < 10; i++) {
      ours.push(
        await store.runs.create(
          {
            projectId: null,
            event: { kind: 'manual', ref: 'refs/heads/main', sha: 'p' },
            inputs: {},
            configText: '',
            configHash: 'h',
            concurrencyGroup: null,
            parentRunId: null,
          },
          [],
        ),
      );
    }
    await waitFor(() => printed.length >= 40, 20_000);
    child.kill('SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');

    await store.close();
    const reopened = await openStore({ url });
    cleanups.push(() => reopened.close());
    for (const id of printed) {
      const run = await reopened.runs.get(id);
      expect(run, `run ${id} printed by the child before the kill`).toMatchObject({ id, status: 'running' });
      expect((await reopened.runs.jobs(id)).map((j) => j.key)).toEqual(['build']);
      expect(await reopened.events.list({ subjectPrefix: `run:${id}` })).toHaveLength(1);
    }
    for (const run of ours) expect(await reopened.runs.get(run.id)).toEqual(run);
    const numbers = (await reopened.runs.list()).map((r) => r.number).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
    expect(numbers.length).toBeGreaterThanOrEqual(printed.length + ours.length);
  });
});
