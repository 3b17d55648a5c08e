/** Releases (ReleaseStore of ./ports.ts) over Kysely. */
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import { newId } from '../core/ids.ts';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import type { ReleaseRecord, ReleaseStore } from './ports.ts';
import type { ReleasesTable } from './migrations.ts';
import { PG_LOCK_RELEASE_NUMBER, isForeignKeyViolation, isUniqueViolation, nowIso, toNumber } from './codec.ts';
import type { Db, StoreContext } from './codec.ts';

/** The largest value of the `integer` number column; a larger `#number` can name no release. */
const MAX_NUMBER = 2_147_483_647;

function toRelease(row: Selectable<ReleasesTable>): ReleaseRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    number: toNumber(row.number),
    runId: row.run_id,
    sha: row.sha,
    ref: row.ref,
    configText: row.config_text,
    configHash: row.config_hash,
    artifactsPath: row.artifacts_path,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

/**
 * The next release number of a project, read inside the creating transaction: SQLite
 * transactions are serial (BEGIN IMMEDIATE); on PostgreSQL concurrent creates for one project
 * queue on a per-project advisory lock held until commit. The unique (project, number)
 * constraint stays as the last guard.
 */
async function nextNumber(trx: Db, ctx: StoreContext, projectId: string): Promise<number> {
  if (ctx.dialect === 'postgres') {
    await sql`select pg_advisory_xact_lock(${PG_LOCK_RELEASE_NUMBER}::int, hashtext(${projectId}))`.execute(trx);
  }
  const row = await trx
    .selectFrom('releases')
    .select((eb) => eb.fn.max('number').as('max'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  const max = row?.max;
  return max === null || max === undefined ? 1 : toNumber(max) + 1;
}

/** `<projectId>#<number>` split apart, or undefined when `ref` is not of that shape. */
function parseNumberRef(ref: string): { projectId: string; number: number } | undefined {
  const match = /^(.+)#([1-9][0-9]{0,9})$/.exec(ref);
  if (match === null) return undefined;
  const [, projectId, digits] = match;
  if (projectId === undefined || digits === undefined) return undefined;
  const number = Number(digits);
  return number > MAX_NUMBER ? undefined : { projectId, number };
}

/** Immutable releases numbered 1, 2, 3… per project; they go when their project goes. */
export function createReleaseStore(ctx: StoreContext): ReleaseStore {
  const { db } = ctx;

  async function getByNumber(projectId: string, number: number): Promise<ReleaseRecord | undefined> {
    if (!Number.isSafeInteger(number) || number < 1 || number > MAX_NUMBER) return undefined;
    const row = await db
      .selectFrom('releases')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('number', '=', number)
      .executeTakeFirst();
    return row === undefined ? undefined : toRelease(row);
  }

  return {
    /**
     * Throws NotFoundError when the project does not exist, ConflictError when a given `id` is
     * taken.
     */
    async create(r) {
      const id = r.id ?? newId();
      const createdAt = nowIso();
      try {
        return await db.transaction().execute(async (trx) => {
          const number = await nextNumber(trx, ctx, r.projectId);
          await trx
            .insertInto('releases')
            .values({
              id,
              project_id: r.projectId,
              number,
              run_id: r.runId,
              sha: r.sha,
              ref: r.ref,
              config_text: r.configText,
              config_hash: r.configHash,
              artifacts_path: r.artifactsPath,
              created_by: r.createdBy,
              created_at: createdAt,
            })
            .execute();
          const record: ReleaseRecord = {
            id,
            projectId: r.projectId,
            number,
            runId: r.runId,
            sha: r.sha,
            ref: r.ref,
            configText: r.configText,
            configHash: r.configHash,
            artifactsPath: r.artifactsPath,
            createdBy: r.createdBy,
            createdAt,
          };
          return record;
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new NotFoundError(`project ${r.projectId} not found`, { projectId: r.projectId });
        // With the numbering lock held, the only unique key a create can hit is a caller's id.
        if (isUniqueViolation(err) && r.id !== undefined)
          throw new ConflictError(`a release with id ${r.id} already exists`, { releaseId: r.id });
        throw err;
      }
    },

    async get(id) {
      // By id first: ids never contain '#', but a lookup by id must not depend on that.
      const row = await db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
      if (row !== undefined) return toRelease(row);
      const ref = parseNumberRef(id);
      return ref === undefined ? undefined : getByNumber(ref.projectId, ref.number);
    },

    getByNumber,

    async latestOfRef(projectId, ref) {
      const row = await db
        .selectFrom('releases')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('ref', '=', ref)
        .orderBy('number', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toRelease(row);
    },

    async list(projectId, limit) {
      let q = db.selectFrom('releases').selectAll().where('project_id', '=', projectId).orderBy('number', 'desc');
      if (limit !== undefined) q = q.limit(limit);
      return (await q.execute()).map(toRelease);
    },
  };
}
