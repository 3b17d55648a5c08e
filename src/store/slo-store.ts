/** SLO histories and alert states (SloStore of ./ports.ts) over Kysely. */
import { sql } from 'kysely';
import type { Value } from '../core/types.ts';
import type { SloKey, SloRecord, SloStore } from './ports.ts';
import type { StoreContext } from './codec.ts';
import { fromJson, nowIso, toJson, toNumber } from './codec.ts';
import { insertEvents } from './event-store.ts';

const CURSOR = 'rollups';
/** Rows per statement: 7 parameters a row stays far below both databases' parameter limits. */
const CHUNK = 500;

function keyOf(k: SloKey): string {
  return `${k.projectId}\0${k.environment}\0${k.slo}`;
}

export function createSloStore(ctx: StoreContext): SloStore {
  const { db, dialect } = ctx;
  return {
    async load() {
      const records = new Map<string, SloRecord>();
      const get = (k: SloKey): SloRecord => {
        const key = keyOf(k);
        let record = records.get(key);
        if (record === undefined) {
          record = { projectId: k.projectId, environment: k.environment, slo: k.slo, buckets: [], alerts: {} };
          records.set(key, record);
        }
        return record;
      };
      const buckets = await db
        .selectFrom('slo_buckets')
        .selectAll()
        .orderBy('project_id')
        .orderBy('environment')
        .orderBy('slo')
        .orderBy('start_ms')
        .execute();
      for (const b of buckets) {
        get({ projectId: b.project_id, environment: b.environment, slo: b.slo }).buckets.push({
          startMs: toNumber(b.start_ms),
          endMs: toNumber(b.end_ms),
          good: Number(b.good),
          total: Number(b.total),
        });
      }
      for (const s of await db.selectFrom('slo_states').selectAll().execute()) {
        get({ projectId: s.project_id, environment: s.environment, slo: s.slo }).alerts = fromJson<Record<string, Value>>(s.alerts);
      }
      return [...records.values()];
    },

    async cursor() {
      const row = await db.selectFrom('slo_cursor').select('rollup_id').where('name', '=', CURSOR).executeTakeFirst();
      return row === undefined ? 0 : toNumber(row.rollup_id);
    },

    /** One transaction: a crash leaves the histories, states and cursor of the previous evaluation. */
    async apply(change) {
      await db.transaction().execute(async (trx) => {
        // One statement per SLO (compaction removes many buckets of each at once).
        const removedBy = new Map<string, { key: SloKey; starts: number[] }>();
        for (const r of change.removed) {
          const id = keyOf(r);
          const entry = removedBy.get(id) ?? { key: r, starts: [] };
          entry.starts.push(r.startMs);
          removedBy.set(id, entry);
        }
        for (const { key, starts } of removedBy.values()) {
          for (let i = 0; i < starts.length; i += CHUNK) {
            await trx
              .deleteFrom('slo_buckets')
              .where('project_id', '=', key.projectId)
              .where('environment', '=', key.environment)
              .where('slo', '=', key.slo)
              .where('start_ms', 'in', starts.slice(i, i + CHUNK))
              .execute();
          }
        }
        for (let i = 0; i < change.buckets.length; i += CHUNK) {
          await trx
            .insertInto('slo_buckets')
            .values(
              change.buckets.slice(i, i + CHUNK).map((b) => ({
                project_id: b.projectId,
                environment: b.environment,
                slo: b.slo,
                start_ms: b.startMs,
                end_ms: b.endMs,
                good: b.good,
                total: b.total,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['project_id', 'environment', 'slo', 'start_ms']).doUpdateSet({
                end_ms: (eb) => eb.ref('excluded.end_ms'),
                good: (eb) => eb.ref('excluded.good'),
                total: (eb) => eb.ref('excluded.total'),
              }),
            )
            .execute();
        }
        for (const a of change.alerts) {
          await trx
            .insertInto('slo_states')
            .values({ project_id: a.projectId, environment: a.environment, slo: a.slo, alerts: toJson(a.alerts), updated_at: nowIso() })
            .onConflict((oc) =>
              oc
                .columns(['project_id', 'environment', 'slo'])
                .doUpdateSet({ alerts: (eb) => eb.ref('excluded.alerts'), updated_at: (eb) => eb.ref('excluded.updated_at') }),
            )
            .execute();
        }
        if (change.cursor !== undefined) {
          await trx
            .insertInto('slo_cursor')
            .values({ name: CURSOR, rollup_id: change.cursor })
            .onConflict((oc) => oc.column('name').doUpdateSet({ rollup_id: sql`excluded.rollup_id` }))
            .execute();
        }
        await insertEvents(trx, dialect, change.events);
      });
    },

    async remove(keys) {
      if (keys.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const k of keys) {
          for (const table of ['slo_buckets', 'slo_states'] as const) {
            await trx
              .deleteFrom(table)
              .where('project_id', '=', k.projectId)
              .where('environment', '=', k.environment)
              .where('slo', '=', k.slo)
              .execute();
          }
        }
      });
    },
  };
}
