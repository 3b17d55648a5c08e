/**
 * Group commit (src/store/group-commit.ts, docs/decisions/0050): no store call is answered before
 * every commit it could have seen is synced; commits made while a sync runs share the next one;
 * a failed sync fails everything after it. On a real SQLite file through Kysely, with the real
 * WAL sync held by a gate; and under strace, the real store's fdatasync of the WAL against the
 * moment each write resolved.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { walSync } from '../../src/store/group-commit.ts';
import { NodeSqliteDialect, openSqliteDatabase } from '../../src/store/sqlite-dialect.ts';
import { sqliteTestDatabase } from '../support/databases.ts';
import { requirement } from '../support/requirements.ts';

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
  return { promise: tracked, settled: () => settled };
}

/**
 * A Kysely over a fresh file whose WAL sync is the real one behind a gate: while `hold()` is in
 * force, each sync on the thread pool waits for `releaseWaiting()`; `started` counts them. With
 * `inline`, the driver may also sync on the loop (`inline` counts those).
 */
async function gatedDatabase(o: { inline?: boolean } = {}) {
  const made = await sqliteTestDatabase();
  cleanups.push(made.cleanup);
  const real = walSync(made.path);
  const gate = {
    held: false,
    started: 0,
    inline: 0,
    failWith: null as Error | null,
    waiting: [] as (() => void)[],
    onStart: [] as (() => void)[],
  };
  const syncWal = async () => {
    gate.started++;
    for (const notify of gate.onStart.splice(0)) notify();
    if (gate.held) await new Promise<void>((resolve) => gate.waiting.push(resolve));
    if (gate.failWith !== null) throw gate.failWith;
    await real.sync();
  };
  const syncNow = () => {
    gate.inline++;
    real.syncNow();
  };
  const db = new Kysely<Db>({
    dialect: new NodeSqliteDialect({
      database: openSqliteDatabase(made.path),
      syncWal: o.inline ? { sync: syncWal, syncNow } : { sync: syncWal },
    }),
  });
  cleanups.push(async () => {
    gate.held = false;
    for (const open of gate.waiting.splice(0)) open();
    await db.destroy();
    real.close();
  });
  await sql`create table t (n integer primary key)`.execute(db);
  /** Another connection to the file: sees what is committed, synced or not. */
  const committedRows = () => {
    const other = new DatabaseSync(made.path, { readOnly: true });
    try {
      return other
        .prepare('select n from t order by n')
        .all()
        .map((row) => row.n);
    } finally {
      other.close();
    }
  };
  return {
    db,
    gate,
    committedRows,
    hold: () => {
      gate.held = true;
    },
    /** Lets the syncs waiting now go on; the gate stays closed for later ones. */
    releaseWaiting: () => {
      for (const open of gate.waiting.splice(0)) open();
    },
    nextSyncStarted: () => new Promise<void>((resolve) => gate.onStart.push(resolve)),
  };
}

/** Resolves once `check` holds, polling on the event loop (each turn lets queued work run). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

describe('group commit', () => {
  it('answers a write only after its sync; commits made during a sync share the next; a read waits for what it saw', async () => {
    const { db, gate, committedRows, hold, releaseWaiting, nextSyncStarted } = await gatedDatabase();
    hold();
    const firstSync = nextSyncStarted();
    const first = watched(db.insertInto('t').values({ n: 1 }).execute());
    await firstSync;
    const syncsBefore = gate.started;

    // While the first sync is held, three more writes commit, a read runs and one more write
    // commits after it (the lock is first come, first served; another connection sees the
    // commits): none of them, nor the first write, is answered.
    const others = [2, 3, 4].map((n) => watched(db.insertInto('t').values({ n }).execute()));
    const read = watched(db.selectFrom('t').select('n').orderBy('n').execute());
    others.push(watched(db.insertInto('t').values({ n: 5 }).execute()));
    await until(() => committedRows().length === 5, 'the other four writes committed');
    expect(gate.started).toBe(syncsBefore);
    expect([first.settled(), ...others.map((o) => o.settled()), read.settled()]).toEqual([false, false, false, false, false, false]);

    // The held sync covers only the first write; one more sync, for all the others, answers them.
    const secondSync = nextSyncStarted();
    releaseWaiting();
    await first.promise;
    await secondSync;
    expect(gate.started).toBe(syncsBefore + 1);
    expect(others.some((o) => o.settled()) || read.settled()).toBe(false);
    releaseWaiting();
    await Promise.all(others.map((o) => o.promise));
    expect((await read.promise).map((row) => row.n)).toEqual([1, 2, 3, 4]);
    expect(gate.started).toBe(syncsBefore + 1);
  });

  it('answers a transaction after its sync, and a read with nothing unsynced without one', async () => {
    const { db, gate, hold, releaseWaiting, nextSyncStarted } = await gatedDatabase();
    const before = gate.started;
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([]);
    expect(gate.started).toBe(before);

    hold();
    const synced = nextSyncStarted();
    const transaction = watched(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ n: 1 }).execute();
        await trx.insertInto('t').values({ n: 2 }).execute();
        return 'done';
      }),
    );
    await synced;
    // The statements inside the transaction did not sync: only its COMMIT did, once.
    expect(gate.started).toBe(before + 1);
    expect(transaction.settled()).toBe(false);
    releaseWaiting();
    expect(await transaction.promise).toBe('done');
  });

  it('fails the write whose sync failed, and every store call after it, with STORE_NOT_DURABLE', async () => {
    const { db, gate } = await gatedDatabase();
    gate.failWith = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const refused = { code: 'STORE_NOT_DURABLE', message: expect.stringMatching(/could not be synced to disk \(EIO.*restart Gantry/) };
    await expect(db.insertInto('t').values({ n: 1 }).execute()).rejects.toMatchObject(refused);
    // Linux reports a lost writeback once; a sync that then succeeds proves nothing.
    gate.failWith = null;
    await expect(db.insertInto('t').values({ n: 2 }).execute()).rejects.toMatchObject(refused);
    await expect(db.selectFrom('t').selectAll().execute()).rejects.toMatchObject(refused);
  });

  it('answers the callers still waiting for a sync when the database is closed, and syncs their commits first', async () => {
    const { db, committedRows, hold, releaseWaiting, nextSyncStarted } = await gatedDatabase();
    hold();
    const firstSync = nextSyncStarted();
    const first = db.insertInto('t').values({ n: 1 }).execute();
    await firstSync;
    const second = db.insertInto('t').values({ n: 2 }).execute();
    await until(() => committedRows().length === 2, 'the second write committed');
    const closed = db.destroy();
    const secondSync = nextSyncStarted();
    releaseWaiting();
    await secondSync;
    releaseWaiting();
    await Promise.all([first, second, closed]);
    expect(committedRows()).toEqual([1, 2]);
  });

  it('syncs on the loop for a caller alone, and on the thread pool, shared, once others wait', async () => {
    const { db, gate } = await gatedDatabase({ inline: true });
    const before = { inline: gate.inline, pool: gate.started };
    await db.insertInto('t').values({ n: 1 }).execute();
    expect({ inline: gate.inline - before.inline, pool: gate.started - before.pool }).toEqual({ inline: 1, pool: 0 });

    // Five at once: each of the first four has others waiting behind it when it is done; the
    // fifth is alone by then, but a sync it must wait for is already running.
    await Promise.all([2, 3, 4, 5, 6].map((n) => db.insertInto('t').values({ n }).execute()));
    expect(gate.inline - before.inline).toBe(1);
    expect(gate.started - before.pool).toBeGreaterThanOrEqual(1);
    expect(gate.started - before.pool).toBeLessThanOrEqual(2);
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

  describe.runIf(requirement('strace', hasStrace()))('the real store, under strace', () => {
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

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
