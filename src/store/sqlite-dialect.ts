/**
 * A Kysely dialect over `node:sqlite` (Kysely ships one for better-sqlite3 only). Like Kysely's
 * own SqliteDriver it has one connection and serialises every query and transaction on it, but
 * with its own lock, released before the caller waits for its commits to be synced (group
 * commit, ./group-commit.ts): the callers in line behind it run meanwhile, and one sync then
 * covers all of them. Kysely's lock would be held through that wait.
 */
import { DatabaseSync } from 'node:sqlite';
import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { CompiledQuery, SelectQueryNode, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler, QueryResult } from 'kysely';
import { GroupCommit, type WalSync, walSync } from './group-commit.ts';

/**
 * Applied to every database we open. WAL lets readers run beside the writer; synchronous=NORMAL
 * writes each commit to the WAL without syncing it, which the driver then does for a group of
 * commits before any of their callers is answered, so a resolved write survives kill -9 and power
 * loss alike (docs/decisions/0050); busy_timeout makes a second process (the CLI next to the
 * server) wait instead of failing.
 */
export const SQLITE_PRAGMAS: readonly string[] = [
  'PRAGMA busy_timeout = 5000',
  'PRAGMA journal_mode = WAL',
  'PRAGMA synchronous = NORMAL',
  'PRAGMA foreign_keys = ON',
];

/** Opens (creating if needed) a SQLite file with Gantry's pragmas applied. Throws node:sqlite's error as-is. */
export function openSqliteDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    for (const pragma of SQLITE_PRAGMAS) db.exec(pragma);
    // A file system without the shared memory WAL needs keeps the rollback journal, where NORMAL
    // is not durable and there is no WAL for the driver to sync: SQLite syncs every commit then.
    if (!inWalMode(db)) db.exec('PRAGMA synchronous = FULL');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function inWalMode(db: DatabaseSync): boolean {
  return db.prepare('PRAGMA journal_mode').get()?.journal_mode === 'wal';
}

export interface NodeSqliteDialectConfig {
  /** An open database; the dialect owns it from now on and closes it on `Kysely.destroy()`. */
  database: DatabaseSync;
  /**
   * Makes the WAL's writes so far durable; by default fdatasync of the database file's WAL (none
   * for an in-memory database). Tests pass one that counts the real one's calls.
   */
  syncWal?: WalSync;
}

/** The dialect to hand to `new Kysely({ dialect })`. */
export class NodeSqliteDialect implements Dialect {
  readonly #config: NodeSqliteDialectConfig;
  constructor(config: NodeSqliteDialectConfig) {
    this.#config = config;
  }
  createDriver(): Driver {
    return new NodeSqliteDriver(this.#config.database, this.#config.syncWal);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/**
 * SQLite runs DDL inside transactions, but Kysely's SqliteAdapter says it does not, so its
 * Migrator committed each statement of each migration on its own: ~80 fsyncs (synchronous=FULL)
 * to create a fresh file, a half-migrated schema after a crash or a failed migration, and two
 * processes opening a fresh file at once both creating the same tables. Saying yes makes the
 * Migrator run all pending migrations in one transaction; the driver's BEGIN IMMEDIATE takes the
 * write lock before the Migrator reads which migrations ran, so a second process waits
 * (busy_timeout) and then finds nothing left to do.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
  /** Not true of the database: it tells Kysely to leave the serialising to NodeSqliteDriver, which releases its lock earlier. */
  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

class NodeSqliteDriver implements Driver {
  readonly #db: DatabaseSync;
  readonly #connection: NodeSqliteConnection;
  readonly #lock = new Lock();
  readonly #commits: GroupCommit | null;
  readonly #closeWal: () => void;
  constructor(db: DatabaseSync, syncWal: WalSync | undefined) {
    this.#db = db;
    const path = db.location();
    const wal = syncWal === undefined && path !== null && inWalMode(db) ? walSync(path) : null;
    const sync = syncWal ?? wal?.sync;
    this.#commits = sync === undefined ? null : new GroupCommit(sync);
    this.#closeWal = () => wal?.close();
    this.#connection = new NodeSqliteConnection(db, this.#commits);
  }
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock.take();
    return this.#connection;
  }
  /**
   * IMMEDIATE takes the write lock at BEGIN: a deferred transaction that reads and then writes
   * can fail with SQLITE_BUSY at the write without waiting for busy_timeout when another
   * process writes, whereas waiting at BEGIN honours the timeout.
   */
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  /** SQLite may already have rolled back on its own (e.g. disk full); a second ROLLBACK would hide that error. */
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#db.isTransaction) return;
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }
  /**
   * Lets the next caller in, then waits until every commit made so far is durable: the caller's
   * own writes, and any other caller's that its reads may have seen. With callers in line, the
   * sync is theirs to make, for all of them; the last one in line syncs.
   */
  async releaseConnection(): Promise<void> {
    this.#lock.give();
    if (this.#commits?.pending) await this.#commits.durable(!this.#lock.free);
  }
  /** Syncs what is committed first: callers still waiting for a sync are answered, and none is started on a closed file. */
  async destroy(): Promise<void> {
    await this.#commits?.durable().catch(() => undefined);
    this.#closeWal();
    if (this.#db.isOpen) this.#db.close();
  }
}

/** A FIFO lock: one holder, the others wait in order. */
class Lock {
  #held = false;
  readonly #waiting: (() => void)[] = [];
  /** Nobody holds it or waits for it. */
  get free(): boolean {
    return !this.#held;
  }
  async take(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  /** Hands the lock to the next waiter, still held, or frees it. */
  give(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#held = false;
    else next();
  }
}

/**
 * Prepared statements kept per connection, by SQL text. Preparing is most of a small query's cost
 * (a lookup by primary key: ~40 µs prepared each time, ~10 µs reused), and the server runs the
 * same few hundred statements all day: every request's authentication alone is three. Bounded,
 * because Kysely writes a list's length into the SQL (`in (?, ?, ?)`). SQLite prepares a kept
 * statement again by itself when the schema has changed since.
 */
const KEPT_STATEMENTS = 256;

interface KeptStatement {
  statement: StatementSync;
  /** Yields columns: a SELECT, or a write with RETURNING. */
  reads: boolean;
}

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;
  readonly #commits: GroupCommit | null;
  readonly #statements = new Map<string, KeptStatement>();
  constructor(db: DatabaseSync, commits: GroupCommit | null) {
    this.#db = db;
    this.#commits = commits;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { statement, reads } = this.#prepared(compiledQuery.sql);
    const params = toSqliteParams(compiledQuery.parameters);
    try {
      if (reads) {
        const rows = statement.all(...params) as unknown as unknown[][];
        // After the run: SQLite prepares the statement again when the schema changed, and only then are its columns new.
        return { rows: rowObjects<R>(statement.columns(), rows) };
      }
      const { changes, lastInsertRowid } = statement.run(...params);
      return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
    } finally {
      // Outside a transaction, anything but a SELECT may have committed: a COMMIT, or a write on
      // its own (its own transaction). Counting one too many costs a sync of nothing. Also after
      // a failure: a COMMIT that failed may have left the transaction committed or rolled back.
      if (!this.#db.isTransaction && !SelectQueryNode.is(compiledQuery.query)) this.#commits?.committed();
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) {
      throw new Error('the node:sqlite driver only streams SELECT queries');
    }
    // A statement of its own: a kept one run meanwhile (by a query in the stream's loop) would reset this iteration.
    const stmt = this.#db.prepare(compiledQuery.sql);
    for (const row of stmt.iterate(...toSqliteParams(compiledQuery.parameters))) {
      yield { rows: [{ ...row } as R] };
    }
  }

  #prepared(sql: string): KeptStatement {
    const kept = this.#statements.get(sql);
    if (kept !== undefined) {
      // Most recently used last: a Map iterates in insertion order, so the first key is the one to drop.
      this.#statements.delete(sql);
      this.#statements.set(sql, kept);
      return kept;
    }
    const statement = this.#db.prepare(sql);
    const fresh = { statement, reads: statement.columns().length > 0 };
    // Rows as arrays, made into objects here: node:sqlite's own row objects (null prototype, built
    // property by property in C++) then copied into plain ones cost twice as much (20 runs: 235 → 115 µs).
    if (fresh.reads) statement.setReturnArrays(true);
    this.#statements.set(sql, fresh);
    if (this.#statements.size > KEPT_STATEMENTS) this.#statements.delete(this.#statements.keys().next().value as string);
    return fresh;
  }
}

/** Plain objects from rows returned as arrays, by the statement's columns. */
function rowObjects<R>(columns: readonly { name: string }[], rows: readonly unknown[][]): R[] {
  const names = columns.map((c) => c.name);
  return rows.map((values) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) row[names[i] as string] = values[i];
    return row as R;
  });
}

/** node:sqlite binds numbers, bigints, strings, bytes and null; booleans are stored as 0/1. */
function toSqliteParams(parameters: readonly unknown[]): SQLInputValue[] {
  return parameters.map((value) => {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value === undefined) return null;
    return value as SQLInputValue;
  });
}
