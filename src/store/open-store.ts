/**
 * Opens the store named by a URL: `sqlite:/abs/path/gantry.db` (or a bare file path) for the
 * embedded default, `postgres://user:pass@host:port/db` for a shared server. Migrates the
 * schema before returning, so a returned store is ready to use.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { GantryError } from '../core/errors.ts';
import type { Store } from './ports.ts';
import { migrateToLatest } from './migrations.ts';
import type { Database } from './migrations.ts';
import { NodeSqliteDialect, openSqliteDatabase } from './sqlite-dialect.ts';
import { createKyselyStore } from './kysely-store.ts';
import { pgAnnouncements } from './pg-announcements.ts';
import { FencedDialect, type WriteFence } from './write-fence.ts';

/** The database cannot be opened, reached or migrated; the message says which and where. */
export class StoreUnavailableError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('STORE_UNAVAILABLE', message, details);
  }
}

export interface OpenStoreOptions {
  url: string;
  /**
   * PostgreSQL: how long a session may sit idle inside a transaction before the server ends it
   * (`idle_in_transaction_session_timeout`; default 10 s). A server frozen mid-transaction
   * (SIGSTOP, a paused VM, a stalled event loop) keeps the rows it locked, among them the lease
   * row every claim and renewal reads FOR UPDATE, so without a bound the others' background loops
   * wait until it wakes. Gantry's transactions are a few queries sent back to back.
   */
  abandonedTransactionMs?: number;
}

const ABANDONED_TRANSACTION_MS = 10_000;

/** Where a store URL points, without any credentials (safe to log and to put in errors). */
export type StoreLocation = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string; display: string };

/** Parses a store URL; throws StoreUnavailableError for a scheme we do not support. */
export function parseStoreUrl(url: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StoreUnavailableError('the PostgreSQL URL does not parse (expected postgres://user:password@host:port/database)');
    }
    const display = `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname || '/'}`;
    return { dialect: 'postgres', url, display };
  }
  if (/^sqlite:/i.test(url)) {
    // sqlite:/abs/path, sqlite:///abs/path and sqlite:relative/path all name a file.
    const rest = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (rest === '') throw new StoreUnavailableError('the SQLite URL names no file (expected sqlite:/path/to/gantry.db)');
    return { dialect: 'sqlite', path: rest === ':memory:' ? rest : resolve(rest) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new StoreUnavailableError(
      `unsupported store URL scheme in "${url.split('://')[0]}://…": use sqlite:/path/to/gantry.db or postgres://…`,
    );
  }
  return { dialect: 'sqlite', path: resolve(url) };
}

/**
 * Opens and migrates the store; every failure is a StoreUnavailableError saying what failed.
 * SQLite: open one store per file per process. node:sqlite waits for a busy file synchronously,
 * so two stores in one process writing the same file at once would stall each other until
 * busy_timeout; separate processes (server and CLI) are fine.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const location = parseStoreUrl(opts.url);
  return location.dialect === 'sqlite'
    ? openSqliteStore(location.path)
    : openPostgresStore(location.url, location.display, opts.abandonedTransactionMs ?? ABANDONED_TRANSACTION_MS);
}

async function openSqliteStore(path: string): Promise<Store> {
  let database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    database = openSqliteDatabase(path);
  } catch (err) {
    throw new StoreUnavailableError(`cannot open the SQLite database at ${path}: ${messageOf(err)}`, { path });
  }
  const db = new Kysely<Database>({ dialect: new NodeSqliteDialect({ database }) });
  try {
    await migrateToLatest(db, 'sqlite');
  } catch (err) {
    await db.destroy();
    throw new StoreUnavailableError(`cannot migrate the SQLite database at ${path}: ${messageOf(err)}`, { path });
  }
  return createKyselyStore(db, 'sqlite');
}

async function openPostgresStore(url: string, display: string, abandonedTransactionMs: number): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 10_000,
    idle_in_transaction_session_timeout: abandonedTransactionMs,
  });
  // An idle client whose server connection drops emits 'error' on the pool; unhandled, that
  // would crash the process. The pool discards that client and the next query reconnects.
  pool.on('error', () => {});
  // A client in use emits it on itself: a session PostgreSQL ended while this process was frozen
  // inside a transaction (above) is one. Its next query fails instead, and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StoreUnavailableError(`cannot connect to PostgreSQL at ${display}: ${messageOf(err)}`, { location: display });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db, 'postgres');
  } catch (err) {
    await db.destroy();
    throw new StoreUnavailableError(`cannot migrate the PostgreSQL database at ${display}: ${messageOf(err)}`, { location: display });
  }
  const fencedDb = (fence: WriteFence) => new Kysely<Database>({ dialect: new FencedDialect(new PostgresDialect({ pool }), fence) });
  return createKyselyStore(db, 'postgres', pgAnnouncements(url), fencedDb);
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message || ((err as { code?: string }).code ?? err.name);
  return String(err);
}
