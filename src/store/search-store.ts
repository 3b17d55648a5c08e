/**
 * The search index (SearchIndexStore of ./ports.ts). SQLite keeps each event's lexemes in an FTS5
 * table, PostgreSQL in a tsvector with a GIN index; both keep `search_docs` (id, time, and the
 * running maximum of the time, which turns `since` into a first id through a b-tree). Matching
 * walks the ids newest first and stops at the limit, so a common term costs no more than a rare
 * one. The lexemes are stored as src/search made them: neither database tokenizes or stems them.
 */
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { GantryEvent, SearchIndexMatch, SearchIndexStore } from './ports.ts';
import type { EventsTable } from './migrations.ts';
import { toEvent } from './event-store.ts';
import { toNumber } from './codec.ts';
import type { StoreContext } from './codec.ts';

/** Rows per INSERT: well under SQLite's 32,766 parameters and PostgreSQL's 65,535. */
const INSERT_BATCH = 500;

export function createSearchIndexStore(ctx: StoreContext): SearchIndexStore {
  const { db, dialect } = ctx;

  /** The first id whose running-maximum time reaches `since`: no earlier event can be that recent. */
  const firstIdSince = async (since: string): Promise<number | null> => {
    const row = await db
      .selectFrom('search_docs')
      .select('event_id')
      .where('at_high', '>=', since)
      .orderBy('at_high')
      .orderBy('event_id')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? null : toNumber(row.event_id);
  };

  return {
    firstIdSince,

    async lastIndexed() {
      const row = await db.selectFrom('search_docs').select('event_id').orderBy('event_id', 'desc').limit(1).executeTakeFirst();
      return row === undefined ? 0 : toNumber(row.event_id);
    },

    async add(docs) {
      if (docs.length === 0) return;
      await db.transaction().execute(async (trx) => {
        const last = await trx.selectFrom('search_docs').select('at_high').orderBy('event_id', 'desc').limit(1).executeTakeFirst();
        let atHigh = last?.at_high ?? '';
        const rows = docs.map((d) => {
          if (d.at > atHigh) atHigh = d.at;
          return { event_id: d.eventId, at: d.at, at_high: atHigh, lexemes: [...new Set(d.lexemes.filter((l) => l !== ''))] };
        });
        for (let i = 0; i < rows.length; i += INSERT_BATCH) {
          const batch = rows.slice(i, i + INSERT_BATCH);
          if (dialect === 'postgres') {
            await trx
              .insertInto('search_docs')
              .values(
                batch.map((r) => ({
                  event_id: r.event_id,
                  at: r.at,
                  at_high: r.at_high,
                  lexemes: sql`array_to_tsvector(${r.lexemes}::text[])`,
                })) as never,
              )
              .execute();
          } else {
            await trx
              .insertInto('search_docs')
              .values(batch.map((r) => ({ event_id: r.event_id, at: r.at, at_high: r.at_high })))
              .execute();
            const values = sql.join(batch.map((r) => sql`(${r.event_id}, ${r.lexemes.join(' ')})`));
            await sql`insert into search_fts (rowid, lexemes) values ${values}`.execute(trx);
          }
        }
      });
    },

    async match(m) {
      if (m.limit <= 0) return [];
      let low: number | null = null;
      if (m.since !== null) {
        low = await firstIdSince(m.since);
        if (low === null) return [];
      }
      // Id bounds on FTS5's rowid when it leads the join, so FTS5 starts and stops at them.
      const id = m.all.length > 0 && dialect === 'sqlite' ? sql.ref('f.rowid') : sql.ref('d.event_id');
      const where = [sql`true`];
      if (low !== null) where.push(sql`${id} >= ${low}`);
      if (m.beforeId !== undefined) where.push(sql`${id} < ${m.beforeId}`);
      if (m.since !== null) where.push(sql`d.at >= ${m.since}`);
      if (m.until !== null) where.push(sql`d.at <= ${m.until}`);
      for (const phrase of m.phrases) {
        // lower() folds ASCII only in SQLite; phrases are lowercased by the parser, so ASCII phrases match either case.
        where.push(
          dialect === 'postgres'
            ? sql`strpos(lower(e.type || ' ' || e.actor || ' ' || e.data), ${phrase}) > 0`
            : sql`instr(lower(e.type || ' ' || e.actor || ' ' || e.data), ${phrase}) > 0`,
        );
      }
      let rows: { rows: Selectable<EventsTable>[] };
      if (m.all.length === 0) {
        rows = await sql<Selectable<EventsTable>>`
          select e.* from search_docs d join events e on e.id = d.event_id
          where ${sql.join(where, sql` and `)} order by d.event_id desc limit ${m.limit}`.execute(db);
      } else if (dialect === 'postgres') {
        rows = await sql<Selectable<EventsTable>>`
          select e.* from search_docs d join events e on e.id = d.event_id
          where d.lexemes @@ ${tsquery(m.all)}::tsquery and ${sql.join(where, sql` and `)}
          order by d.event_id desc limit ${m.limit}`.execute(db);
      } else {
        // CROSS JOIN keeps FTS5 the outer loop: SQLite's planner otherwise may walk every event
        // newest first and probe FTS5 per row (seen with prefix terms), which costs the whole log.
        rows = await sql<Selectable<EventsTable>>`
          select e.* from search_fts f cross join search_docs d on d.event_id = f.rowid cross join events e on e.id = f.rowid
          where search_fts match ${fts5Query(m.all)} and ${sql.join(where, sql` and `)}
          order by f.rowid desc limit ${m.limit}`.execute(db);
      }
      return rows.rows.map(toEvent) as GantryEvent[];
    },

    async compact() {
      if (dialect === 'sqlite') await sql`insert into search_fts (search_fts) values ('optimize')`.execute(db);
      else await sql`analyze search_docs`.execute(db);
    },

    async clear() {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('search_docs').execute();
        if (dialect === 'sqlite') await sql`insert into search_fts (search_fts) values ('delete-all')`.execute(trx);
      });
    },
  };
}

/** `("a" OR "b"*) AND "c"`: every term quoted, so no lexeme is read as an FTS5 operator. */
function fts5Query(all: SearchIndexMatch['all']): string {
  return all.map((group) => `(${group.map((t) => `"${t.term.replaceAll('"', '""')}"${t.prefix ? '*' : ''}`).join(' OR ')})`).join(' AND ');
}

/** `('a' | 'b':*) & 'c'`, read by tsquery's input function as written (no parser, no stemming). */
function tsquery(all: SearchIndexMatch['all']): string {
  return all
    .map(
      (group) => `(${group.map((t) => `'${t.term.replaceAll("'", "''").replaceAll('\\', '\\\\')}'${t.prefix ? ':*' : ''}`).join(' | ')})`,
    )
    .join(' & ');
}
