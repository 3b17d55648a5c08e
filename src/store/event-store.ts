/** The append-only event log (EventStore of ./ports.ts) over Kysely. */
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Value } from '../core/types.ts';
import type { EventEnvironment, EventStore, GantryEvent, NewEvent } from './ports.ts';
import type { EventsTable, StoreDialect } from './migrations.ts';
import { PG_LOCK_EVENTS, fromJson, nowIso, toJson, toNumber } from './codec.ts';
import type { Db, StoreContext } from './codec.ts';

/**
 * Appends events inside the caller's transaction (RunStore.transition uses it too).
 * On PostgreSQL a transaction-scoped lock serialises appends: bigserial values are handed out
 * at insert time but become visible at commit, so without it an event with a smaller id could
 * commit after a reader already went past it with `afterId` and be missed forever. With the
 * lock, ids become visible in id order. Callers append events last in their transaction, so the
 * lock is held only for the inserts and the commit.
 */
export async function insertEvents(trx: Db, dialect: StoreDialect, events: readonly NewEvent[]): Promise<GantryEvent[]> {
  if (events.length === 0) return [];
  if (dialect === 'postgres') {
    await sql`select pg_advisory_xact_lock(${PG_LOCK_EVENTS}::int, 0)`.execute(trx);
  }
  const stored: GantryEvent[] = [];
  // One statement per event: the order of ids returned by a multi-row INSERT is not guaranteed.
  for (const e of events) {
    const at = e.at ?? nowIso();
    const row = await trx
      .insertInto('events')
      .values({ type: e.type, subject: e.subject, actor: e.actor, at, data: toJson(e.data), env: toJson(e.env) })
      .returning('id')
      .executeTakeFirstOrThrow();
    stored.push({ id: toNumber(row.id), type: e.type, subject: e.subject, actor: e.actor, at, data: e.data, env: e.env });
  }
  return stored;
}

/** A stored row as the port returns it (the search index reads events joined to its own rows). */
export function toEvent(row: Selectable<EventsTable>): GantryEvent {
  return {
    id: toNumber(row.id),
    type: row.type,
    subject: row.subject,
    actor: row.actor,
    at: row.at,
    data: fromJson<Record<string, Value>>(row.data),
    env: fromJson<EventEnvironment>(row.env),
  };
}

/** Events with ids that increase in commit order, so `afterId` catch-up never skips one. */
export function createEventStore(ctx: StoreContext): EventStore {
  const { db, dialect } = ctx;
  return {
    async append(e) {
      const [stored] =
        dialect === 'postgres'
          ? await db.transaction().execute((trx) => insertEvents(trx, dialect, [e]))
          : await insertEvents(db, dialect, [e]);
      if (stored === undefined) throw new Error('event insert returned no row');
      return stored;
    },

    async list(filter = {}) {
      let q = db
        .selectFrom('events')
        .selectAll()
        .orderBy('id', filter.newestFirst ? 'desc' : 'asc');
      if (filter.afterId !== undefined) q = q.where('id', '>', filter.afterId);
      if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
      if (filter.type?.endsWith('.*')) {
        const family = filter.type.slice(0, -1);
        q = q.where(sql<boolean>`substr(type, 1, ${Array.from(family).length}) = ${family}`);
      } else if (filter.type !== undefined) q = q.where('type', '=', filter.type);
      if (filter.types !== undefined) {
        if (filter.types.length === 0) return [];
        q = q.where('type', 'in', [...filter.types]);
      }
      if (filter.subjectPrefix !== undefined && filter.subjectPrefix !== '') {
        // substr rather than LIKE: no wildcard escaping, and case-sensitive in both dialects.
        // Both count characters (code points), hence Array.from rather than .length.
        const length = Array.from(filter.subjectPrefix).length;
        q = q.where(sql<boolean>`substr(subject, 1, ${length}) = ${filter.subjectPrefix}`);
      }
      if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
      if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
      if (filter.limit !== undefined) q = q.limit(filter.limit);
      return (await q.execute()).map(toEvent);
    },
  };
}
