/** Request roll-ups (MetricStore of ./ports.ts) over Kysely. */
import type { Selectable } from 'kysely';
import { NotFoundError } from '../core/errors.ts';
import type { Value } from '../core/types.ts';
import type { MetricRollup, MetricStore } from './ports.ts';
import type { MetricRollupsTable } from './migrations.ts';
import { fromJson, isForeignKeyViolation, toJson, toNumber } from './codec.ts';
import type { StoreContext } from './codec.ts';

/**
 * Rows per INSERT: 10 parameters a row stays far below SQLite's and PostgreSQL's parameter
 * limits, whatever size of batch the proxy flushes.
 */
const CHUNK = 500;

/** What identifies a roll-up (the unique index of migration 0003). */
const ROLLUP_IDENTITY = ['project_id', 'environment', 'version', 'pool', 'start_ms'] as const;

function toRollup(row: Selectable<MetricRollupsTable>): MetricRollup {
  return {
    projectId: row.project_id,
    environment: row.environment,
    version: row.version,
    pool: row.pool,
    startMs: toNumber(row.start_ms),
    endMs: toNumber(row.end_ms),
    requests: toNumber(row.requests),
    errors: toNumber(row.errors),
    data: fromJson<Record<string, Value>>(row.data),
  };
}

/**
 * Roll-ups as rows indexed by (project, environment, start): a chart or an analysis reads one
 * window of one environment. They go when their project goes.
 */
export function createMetricStore(ctx: StoreContext): MetricStore {
  const { db } = ctx;
  return {
    /**
     * All rows or none; a row already stored (same project, environment, version, pool and start)
     * is skipped. Throws NotFoundError when a row's project does not exist.
     */
    async append(rows) {
      if (rows.length === 0) return;
      try {
        await db.transaction().execute(async (trx) => {
          for (let i = 0; i < rows.length; i += CHUNK) {
            await trx
              .insertInto('metric_rollups')
              .values(
                rows.slice(i, i + CHUNK).map((r) => ({
                  project_id: r.projectId,
                  environment: r.environment,
                  version: r.version,
                  pool: r.pool,
                  start_ms: r.startMs,
                  end_ms: r.endMs,
                  requests: r.requests,
                  errors: r.errors,
                  data: toJson(r.data),
                })),
              )
              .onConflict((oc) => oc.columns(ROLLUP_IDENTITY).doNothing())
              .execute();
          }
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) {
          const projectIds = [...new Set(rows.map((r) => r.projectId))];
          throw new NotFoundError(`project not found among ${projectIds.join(', ')}`, { projectIds });
        }
        throw err;
      }
    },

    /** A row overlaps [sinceMs, untilMs) when it starts before untilMs and ends after sinceMs. */
    async query(filter) {
      let q = db
        .selectFrom('metric_rollups')
        .selectAll()
        .where('project_id', '=', filter.projectId)
        .where('start_ms', '<', filter.untilMs)
        .where('end_ms', '>', filter.sinceMs)
        .orderBy('start_ms', 'asc')
        .orderBy('id', 'asc');
      if (filter.environment !== undefined) q = q.where('environment', '=', filter.environment);
      if (filter.version !== undefined) q = q.where('version', '=', filter.version);
      return (await q.execute()).map(toRollup);
    },

    /** A row is older than `beforeMs` when it ended at or before it. */
    async prune(beforeMs) {
      const result = await db.deleteFrom('metric_rollups').where('end_ms', '<=', beforeMs).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /**
     * By id, which follows commit order as long as one writer appends (the roll-up recorder):
     * with concurrent appenders a PostgreSQL sequence can hand out an id that commits later.
     */
    async after(afterId, limit) {
      const rows = await db.selectFrom('metric_rollups').selectAll().where('id', '>', afterId).orderBy('id', 'asc').limit(limit).execute();
      return rows.map((row) => ({ ...toRollup(row), id: toNumber(row.id) }));
    },
  };
}
