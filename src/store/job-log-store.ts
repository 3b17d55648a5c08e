/** Jobs' log chunks (JobLogStore of ./ports.ts) over Kysely: bytea on PostgreSQL, blob on SQLite. */
import type { StoreContext } from './codec.ts';
import type { JobLogStore } from './ports.ts';

export function createJobLogStore(ctx: StoreContext): JobLogStore {
  const { db } = ctx;
  return {
    async append(runId, jobKey, offset, bytes) {
      await db
        .insertInto('job_log_chunks')
        .values({ run_id: runId, job_key: jobKey, offset_bytes: offset, bytes })
        .onConflict((oc) => oc.columns(['run_id', 'job_key', 'offset_bytes']).doNothing())
        .execute();
    },
    async read(runId, jobKey, fromOffset, maxBytes) {
      const parts: Buffer[] = [];
      let next = fromOffset;
      let total = 0;
      while (total < maxBytes) {
        const rows = await db
          .selectFrom('job_log_chunks')
          .select(['offset_bytes', 'bytes'])
          .where('run_id', '=', runId)
          .where('job_key', '=', jobKey)
          .where('offset_bytes', '>=', next)
          .orderBy('offset_bytes')
          .limit(16)
          .execute();
        for (const row of rows) {
          if (total >= maxBytes) return Buffer.concat(parts);
          // A gap (a chunk not committed yet) ends the read: what follows it comes next time.
          if (Number(row.offset_bytes) !== next) return Buffer.concat(parts);
          const bytes = Buffer.from(row.bytes);
          parts.push(bytes);
          next += bytes.length;
          total += bytes.length;
        }
        if (rows.length < 16) break;
      }
      return Buffer.concat(parts);
    },
  };
}
