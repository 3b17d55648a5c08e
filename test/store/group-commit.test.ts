/**
 * Group commit (src/store/group-commit.ts, docs/decisions/0050): no store call is answered before
 * every commit it could have seen is synced; callers in line for the database when one is done
 * share one sync, made by the last of them; a failed sync fails everything after it. On a real
 * SQLite file through Kysely with the real WAL sync, counted; and under strace, the real store's
 * fdatasync of the WAL against the moment each write resolved.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WAIT_MS, MAX_WAITING, walSync } from '../../src/store/group-commit.ts';
import { NodeSqliteDialect, openSqliteDatabase } from '../../src/store/sqlite-dialect.ts';
import { sqliteTestDatabase } from '../support/databases.ts';
import { commandWorks, requirement } from '../support/requirements.ts';

interface Db {
  t: { n: number };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A promise and whether it has settled yet. */
function watched<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const tracked = promise.finally(() => {
    settled = true;
  });
  tracked.catch(() => undefined);
  return { promise: tracked, settled: () => settled };
}

/**
 * A Kysely over a fresh file with the real WAL sync, counted: `syncs` holds, for each sync, how
 * many of the `watching` promises had settled when it ran. `failWith` makes the next syncs throw.
 */
async function countedDatabase() {
  const made = await sqliteTestDatabase();
  cleanups.push(made.cleanup);
  const real = walSync(made.path);
  const state = {
    syncs: [] as number[],
    watching: [] as { settled: () => boolean }[],
    failWith: null as Error | null,
  };
  const syncWal = () => {
    state.syncs.push(state.watching.filter((w) => w.settled()).length);
    if (state.failWith !== null) throw state.failWith;
    real.sync();
  };
  const db = new Kysely<Db>({ dialect: new NodeSqliteDialect({ database: openSqliteDatabase(made.path), syncWal }) });
  cleanups.push(async () => {
    await db.destroy();
    real.close();
  });
  await sql`create table t (n integer primary key)`.execute(db);
  state.syncs.length = 0;
  const watch = <T>(promise: Promise<T>) => {
    const w = watched(promise);
    state.watching.push(w);
    return w;
  };
  /** Holds the database inside a transaction (one commit) until `release()`; the callers meanwhile wait in line. */
  let holders = 0;
  const holdDatabase = () => {
    const n = -++holders;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = () => {};
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const transaction = watch(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ n }).execute();
        holding();
        await released;
      }),
    );
    return { held, release, transaction };
  };
  return { db, state, watch, holdDatabase };
}

describe('group commit', () => {
  it('answers no caller in line before one sync for all of them, made after the last one is done', async () => {
    const { db, state, watch, holdDatabase } = await countedDatabase();
    const holder = holdDatabase();
    await holder.held;
    // In line behind the transaction: three writes, a read, one more write.
    const writes = [1, 2, 3].map((n) => watch(db.insertInto('t').values({ n }).execute()));
    const read = watch(db.selectFrom('t').select('n').orderBy('n').execute());
    writes.push(watch(db.insertInto('t').values({ n: 4 }).execute()));
    expect(state.syncs).toEqual([]);
    holder.release();
    await Promise.all([holder.transaction.promise, read.promise, ...writes.map((w) => w.promise)]);
    // One sync for five commits, and it ran before any of the six callers was answered.
    expect(state.syncs).toEqual([0]);
    expect((await read.promise).map((row) => row.n)).toEqual([-1, 1, 2, 3]);
  });

  it('syncs for each write of a caller alone, and for a transaction once, at its COMMIT', async () => {
    const { db, state } = await countedDatabase();
    for (const n of [1, 2, 3]) await db.insertInto('t').values({ n }).execute();
    expect(state.syncs.length).toBe(3);
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ n: 4 }).execute();
      await trx.insertInto('t').values({ n: 5 }).execute();
    });
    expect(state.syncs.length).toBe(4);
    // A read with nothing left unsynced syncs nothing.
    expect((await db.selectFrom('t').select('n').execute()).length).toBe(5);
    expect(state.syncs.length).toBe(4);
  });

  it(`makes no caller wait for more than ${MAX_WAITING} others: a line that never ends still gets answers`, async () => {
    const { db, state, holdDatabase } = await countedDatabase();
    const holder = holdDatabase();
    await holder.held;
    const writes = Array.from({ length: 3 * MAX_WAITING }, (_, i) =>
      db
        .insertInto('t')
        .values({ n: i + 1 })
        .execute(),
    );
    holder.release();
    await Promise.all([holder.transaction.promise, ...writes]);
    // 3 × MAX_WAITING + 1 commits: every (MAX_WAITING + 1)th caller syncs for those waiting, the last one for the rest.
    expect(state.syncs.length).toBe(Math.ceil((3 * MAX_WAITING + 1) / (MAX_WAITING + 1)));
  });

  it(`answers the callers done before a transaction that holds the database on, within ${MAX_WAIT_MS} ms, without it`, async () => {
    const { db, state, holdDatabase } = await countedDatabase();
    const first = holdDatabase();
    await first.held;
    // In line: a write, then a second holder that keeps the database until the test lets it go.
    const write = db.insertInto('t').values({ n: 1 }).execute();
    const second = holdDatabase();
    first.release();
    await second.held;
    // The first transaction and the write are done and wait for the line to sync; the line is held.
    await Promise.all([first.transaction.promise, write]);
    expect(state.syncs.length).toBe(1);
    second.release();
    await second.transaction.promise;
    expect(state.syncs.length).toBe(2);
  });

  it('fails the callers whose sync failed, and every store call after it, with STORE_NOT_DURABLE', async () => {
    const { db, state, holdDatabase } = await countedDatabase();
    const refused = { code: 'STORE_NOT_DURABLE', message: expect.stringMatching(/could not be synced to disk \(EIO.*restart Gantry/) };
    state.failWith = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const holder = holdDatabase();
    await holder.held;
    const inLine = db.insertInto('t').values({ n: 1 }).execute();
    holder.release();
    await expect(holder.transaction.promise).rejects.toMatchObject(refused);
    await expect(inLine).rejects.toMatchObject(refused);
    // Linux reports a lost writeback once; a sync that then succeeds proves nothing.
    state.failWith = null;
    await expect(db.insertInto('t').values({ n: 2 }).execute()).rejects.toMatchObject(refused);
    await expect(db.selectFrom('t').selectAll().execute()).rejects.toMatchObject(refused);
  });

  it('leaves a database in rollback-journal mode to SQLite: FULL, and no WAL to sync', async () => {
    // SQLite keeps the rollback journal where WAL cannot work (no shared memory: some network
    // file systems, and memory); NORMAL would not be durable there.
    const memory = openSqliteDatabase(':memory:');
    expect(memory.prepare('PRAGMA synchronous').get()?.synchronous).toBe(2);
    memory.close();

    const made = await sqliteTestDatabase();
    cleanups.push(made.cleanup);
    const database = openSqliteDatabase(made.path);
    database.exec('PRAGMA journal_mode = DELETE');
    const db = new Kysely<Db>({ dialect: new NodeSqliteDialect({ database }) });
    cleanups.push(() => db.destroy());
    await sql`create table t (n integer primary key)`.execute(db);
    await db.insertInto('t').values({ n: 1 }).execute();
    expect((await db.selectFrom('t').select('n').execute()).map((row) => row.n)).toEqual([1]);
  });

  it('syncs nothing for an in-memory database', async () => {
    const db = new Kysely<Db>({ dialect: new NodeSqliteDialect({ database: openSqliteDatabase(':memory:') }) });
    cleanups.push(() => db.destroy());
    await sql`create table t (n integer primary key)`.execute(db);
    await Promise.all([1, 2, 3].map((n) => db.insertInto('t').values({ n }).execute()));
    expect((await db.selectFrom('t').select('n').execute()).length).toBe(3);
  });

  describe.runIf(requirement('strace', commandWorks('strace', ['-V'])))('the real store, under strace', () => {
    it('fdatasyncs the WAL before each write resolves, and once for many concurrent writes', async () => {
      const made = await sqliteTestDatabase();
      cleanups.push(made.cleanup);
      const trace = join(made.dir, 'trace');
      const child = spawn(
        'strace',
        [
          '-f',
          '-y',
          '-e',
          'trace=fdatasync,fsync,write',
          '-o',
          trace,
          process.execPath,
          join(import.meta.dirname, 'fixtures', 'sync-order.ts'),
          made.url,
          '5',
          '40',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const [code] = await once(child, 'exit');
      expect(code, stderr).toBe(0);

      // In the order they finished: a sync of the WAL, or one of the child's marks. A call another
      // thread interrupted is printed twice: "<unfinished ...>", then "<... fdatasync resumed>".
      const marks: string[] = [];
      const unfinishedWalSync = new Set<string>();
      for (const line of (await readFile(trace, 'utf8')).split('\n')) {
        const pid = line.split(' ')[0] ?? '';
        if (/f(data)?sync\(\d+<[^>]*gantry\.db-wal>/.test(line)) {
          if (line.includes('<unfinished')) unfinishedWalSync.add(pid);
          else marks.push('sync');
        } else if (/<\.\.\. f(data)?sync resumed>/.test(line) && unfinishedWalSync.delete(pid)) {
          marks.push('sync');
        }
        const mark = /write\(1<[^>]*>, "([^"\\]*)\\n"/.exec(line)?.[1];
        if (mark !== undefined) marks.push(mark);
      }
      // Each sequential write resolved after a WAL sync that finished after the write before it was answered.
      const sequential = marks.slice(0, marks.indexOf('concurrent start'));
      for (let i = 0; i < 5; i++) {
        const at = sequential.indexOf(`resolved ${i}`);
        const after = i === 0 ? 0 : sequential.indexOf(`resolved ${i - 1}`);
        expect(at, `resolved ${i} in ${sequential.join(', ')}`).toBeGreaterThan(0);
        expect(sequential.slice(after, at)).toContain('sync');
      }
      // 40 writes at once: answered after a sync, and far fewer syncs than writes.
      const concurrent = marks.slice(marks.indexOf('concurrent start') + 1, marks.indexOf('concurrent resolved'));
      const syncs = concurrent.filter((m) => m === 'sync').length;
      expect(syncs).toBeGreaterThanOrEqual(1);
      expect(syncs).toBeLessThan(10);
    });
  });
});
