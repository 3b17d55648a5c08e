/**
 * Writes that commit only while a lease's fencing token is still current (docs/decisions/0037).
 *
 * A server that owns the background loops may pause (SIGSTOP, a long GC, a VM migrated) past its
 * lease while another server takes over; when it wakes, the writes it had under way or had
 * scheduled would land over the new owner's. Its own deadline cannot prevent that (it is checked
 * by the paused process), so the check is in the database, in the write's own transaction: the
 * first statement of every transaction on a fenced handle reads the lease row `FOR SHARE` and the
 * transaction fails with `LEASE_FENCED` unless the token is the one the fence holds. A claim that
 * changes the holder reads the row `FOR UPDATE` (lease-store.ts), so it waits for fenced
 * transactions under way and every fenced transaction after it sees the new token: once the new
 * owner holds the lease, no write of the old owner commits.
 *
 * A write outside a transaction is wrapped in one (begin, check, write, commit). Plain reads
 * outside a transaction pass unchecked: reading stale data is harmless, acting on it is not, and
 * acting means writing. While the fence holds no token yet (this server never owned the lease)
 * nothing is checked, so the API such a server serves writes as before.
 */
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { GantryError } from '../core/errors.ts';

/** The lease whose token must still be current for a write to commit. */
export interface WriteFence {
  lease: string;
  /** The token this server holds (or held) the lease with; null before it ever held it. */
  token(): number | null;
}

/** A write by a holder whose lease has since changed hands was refused. */
export class LeaseFencedError extends GantryError {
  constructor(lease: string, token: number, current: number | null) {
    super('LEASE_FENCED', `the ${lease} lease changed hands (token ${current ?? 'none'}, this server held ${token}): write refused`, {
      lease,
      token,
      current,
    });
  }
}

/** A dialect whose connections check `fence` before the first statement of each transaction. */
export class FencedDialect implements Dialect {
  readonly #inner: Dialect;
  readonly #fence: WriteFence;

  constructor(inner: Dialect, fence: WriteFence) {
    this.#inner = inner;
    this.#fence = fence;
  }

  createDriver(): Driver {
    return new FencedDriver(this.#inner.createDriver(), this.#fence);
  }
  createQueryCompiler() {
    return this.#inner.createQueryCompiler();
  }
  createAdapter() {
    return this.#inner.createAdapter();
  }
  // biome-ignore lint/suspicious/noExplicitAny: Dialect's own signature.
  createIntrospector(db: Kysely<any>) {
    return this.#inner.createIntrospector(db);
  }
}

class FencedDriver implements Driver {
  readonly #inner: Driver;
  readonly #fence: WriteFence;

  constructor(inner: Driver, fence: WriteFence) {
    this.#inner = inner;
    this.#fence = fence;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new FencedConnection(await this.#inner.acquireConnection(), this.#fence);
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const fenced = connection as FencedConnection;
    await this.#inner.beginTransaction(fenced.inner, settings);
    fenced.began();
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const fenced = connection as FencedConnection;
    fenced.ended();
    await this.#inner.commitTransaction(fenced.inner);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const fenced = connection as FencedConnection;
    fenced.ended();
    await this.#inner.rollbackTransaction(fenced.inner);
  }
  async savepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]) {
    await this.#inner.savepoint?.((connection as FencedConnection).inner, name, compile);
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]) {
    await this.#inner.rollbackToSavepoint?.((connection as FencedConnection).inner, name, compile);
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]) {
    await this.#inner.releaseSavepoint?.((connection as FencedConnection).inner, name, compile);
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection((connection as FencedConnection).inner);
  }
  /** The unfenced store owns the pool and ends it; the fenced view only borrows it. */
  async destroy(): Promise<void> {}
}

const CHECK_SQL = 'select token from leases where name = $1 for share';

class FencedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #fence: WriteFence;
  #inTransaction = false;
  #checked = false;

  constructor(inner: DatabaseConnection, fence: WriteFence) {
    this.inner = inner;
    this.#fence = fence;
  }

  began(): void {
    this.#inTransaction = true;
    this.#checked = false;
  }
  ended(): void {
    this.#inTransaction = false;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const token = this.#fence.token();
    if (token === null) return this.inner.executeQuery<R>(query);
    if (this.#inTransaction) {
      if (!this.#checked) {
        await this.#check(token);
        this.#checked = true;
      }
      return this.inner.executeQuery<R>(query);
    }
    if (isPlainRead(query)) return this.inner.executeQuery<R>(query);
    await this.inner.executeQuery(CompiledQuery.raw('begin'));
    try {
      await this.#check(token);
      const result = await this.inner.executeQuery<R>(query);
      await this.inner.executeQuery(CompiledQuery.raw('commit'));
      return result;
    } catch (error) {
      await this.inner.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined);
      throw error;
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }

  async #check(token: number): Promise<void> {
    const { rows } = await this.inner.executeQuery<{ token: number | string }>(CompiledQuery.raw(CHECK_SQL, [this.#fence.lease]));
    const current = rows[0] === undefined ? null : Number(rows[0].token);
    if (current !== token) throw new LeaseFencedError(this.#fence.lease, token, current);
  }
}

function isPlainRead(query: CompiledQuery): boolean {
  return query.query.kind === 'SelectQueryNode' || /^\s*select\b/i.test(query.sql);
}
