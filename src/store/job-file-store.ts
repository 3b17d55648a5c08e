/** Jobs' file chunks (JobFileStore of ./ports.ts) over Kysely: bytea on PostgreSQL, blob on SQLite. */
import { sql } from 'kysely';
import type { StoreContext } from './codec.ts';
import type { JobFileStore } from './ports.ts';

const PAGE = 16;

export function createJobFileStore(ctx: StoreContext): JobFileStore {
  const { db } = ctx;
  return {
    async append(runId, jobKey, path, offset, bytes) {
      await db
        .insertInto('job_file_chunks')
        .values({ run_id: runId, job_key: jobKey, path, offset_bytes: offset, bytes })
        .onConflict((oc) => oc.columns(['run_id', 'job_key', 'path', 'offset_bytes']).doNothing())
        .execute();
    },
    async read(runId, jobKey, path, fromOffset, maxBytes) {
      const parts: Buffer[] = [];
      let next = fromOffset;
      let total = 0;
      for (;;) {
        const rows = await db
          .selectFrom('job_file_chunks')
          .select(['offset_bytes', 'bytes'])
          .where('run_id', '=', runId)
          .where('job_key', '=', jobKey)
          .where('path', '=', path)
          .where('offset_bytes', '>=', next)
          .orderBy('offset_bytes')
          .limit(PAGE)
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
        if (rows.length < PAGE) return Buffer.concat(parts);
      }
    },
    async files(runId, jobKey) {
      const rows = await db
        .selectFrom('job_file_chunks')
        .select(['path', sql<number | string>`sum(length(bytes))`.as('bytes')])
        .where('run_id', '=', runId)
        .where('job_key', '=', jobKey)
        .groupBy('path')
        .orderBy('path')
        .execute();
      return rows.map((row) => ({ path: row.path, bytes: Number(row.bytes) }));
    },
  };
}
