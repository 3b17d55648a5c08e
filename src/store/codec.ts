/**
 * What every Kysely store shares: the database handle type, column codecs that make SQLite and
 * PostgreSQL rows read the same, and database errors classified once by their codes.
 */
import type { Compilable, CompiledQuery, Kysely, Transaction } from 'kysely';
import type { Database, StoreDialect } from './migrations.ts';

/** A database handle or an open transaction: store helpers work inside either. */
export type Db = Kysely<Database> | Transaction<Database>;

/** What each store needs: the handle and which dialect is behind it. */
export interface StoreContext {
  db: Kysely<Database>;
  dialect: StoreDialect;
}

/** Where a value goes in a reusable read's compiled query (see `reusableRead`). */
class Slot {
  readonly index: number;
  constructor(index: number) {
    this.index = index;
  }
}

/**
 * A read built and compiled to SQL once, then run with new values. Kysely builds an immutable
 * query tree and compiles it on every call: 30–80 µs of a 40–100 µs lookup by key, and the reads
 * every API request makes (its token, its user's grants, its project) are the same SQL each time.
 * `build` gets a marker per value and must use each as a whole parameter (an `=` or a `like`,
 * not a list's items: a list's length is part of the SQL).
 */
export function reusableRead<A extends string[], O>(
  db: Kysely<Database>,
  build: (...values: A) => Compilable<O>,
): (...values: A) => Promise<O[]> {
  let compiled: { query: CompiledQuery<O>; slots: (number | undefined)[] } | undefined;
  return async (...values) => {
    if (compiled === undefined) {
      const markers = values.map((_, i) => new Slot(i)) as unknown as A;
      const query = build(...markers).compile();
      const slots = query.parameters.map((p) => (p instanceof Slot ? p.index : undefined));
      if (values.some((_, i) => !slots.includes(i))) throw new Error(`a reusable read leaves one of its values out: ${query.sql}`);
      compiled = { query, slots };
    }
    const { query, slots } = compiled;
    const parameters = query.parameters.map((p, i) => {
      const slot = slots[i];
      return slot === undefined ? p : values[slot];
    });
    return (await db.executeQuery<O>({ ...query, parameters })).rows;
  };
}

/** ISO-8601 UTC with milliseconds: sorts correctly as text in both dialects. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** JSON columns are text in both dialects. */
export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

/** The value was written by `toJson` from the declared type, so it is trusted back to it. */
export function fromJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function fromJsonOrNull<T>(text: string | null): T | null {
  return text === null ? null : fromJson<T>(text);
}

/** SQLite returns 0/1, PostgreSQL a boolean. */
export function fromDbBool(value: boolean | number): boolean {
  return value === true || value === 1;
}

/** PostgreSQL returns bigint columns and counts as strings, SQLite as numbers. */
export function toNumber(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A UNIQUE or PRIMARY KEY violation (SQLite extended codes 2067/1555, PostgreSQL 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { errcode?: unknown; code?: unknown } | null;
  return e?.errcode === 2067 || e?.errcode === 1555 || e?.code === '23505';
}

/** A FOREIGN KEY violation (SQLite extended code 787, PostgreSQL 23503). */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { errcode?: unknown; code?: unknown } | null;
  return e?.errcode === 787 || e?.code === '23503';
}

/**
 * Two-key PostgreSQL advisory lock namespaces ('ga' + a letter), so Gantry's locks never meet
 * another application's single-key locks on a shared server.
 */
export const PG_LOCK_RUN_NUMBER = 0x67_61_72; // 'gar'
export const PG_LOCK_EVENTS = 0x67_61_65; // 'gae'
export const PG_LOCK_RELEASE_NUMBER = 0x67_61_6c; // 'gal'
export const PG_LOCK_INCIDENT_NUMBER = 0x67_61_69; // 'gai'
