/**
 * Environments' protection, deploys waiting for approvals and the approvals given
 * (ProtectionStore of ./ports.ts) over Kysely. Every write goes with its events in one
 * transaction, so the event log never tells of an approval the store does not hold.
 */
import { sql } from 'kysely';
import type { EnvironmentProtection } from '../core/protection.ts';
import { ConflictError } from '../core/errors.ts';
import { fromJson, isUniqueViolation, nowIso, toJson, type StoreContext } from './codec.ts';
import { insertEvents } from './event-store.ts';
import type { ProtectionStore } from './ports.ts';

export function createProtectionStore(ctx: StoreContext): ProtectionStore {
  const { db, dialect } = ctx;
  return {
    async get(projectId, environment) {
      const row = await db
        .selectFrom('environment_protection')
        .select('protection')
        .where('project_id', '=', projectId)
        .where('environment', '=', environment)
        .executeTakeFirst();
      return row === undefined ? undefined : fromJson<EnvironmentProtection>(row.protection);
    },

    async list(projectId) {
      let query = db.selectFrom('environment_protection').selectAll().orderBy('project_id').orderBy('environment');
      if (projectId !== undefined) query = query.where('project_id', '=', projectId);
      return (await query.execute()).map((r) => ({
        projectId: r.project_id,
        environment: r.environment,
        protection: fromJson<EnvironmentProtection>(r.protection),
      }));
    },

    async set(projectId, environment, protection, events) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('environment_protection').where('project_id', '=', projectId).where('environment', '=', environment).execute();
        if (protection !== null)
          await trx
            .insertInto('environment_protection')
            .values({ project_id: projectId, environment, protection: toJson(protection), updated_at: nowIso() })
            .execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async request(r, events) {
      return db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('approval_requests')
          .values({
            project_id: r.projectId,
            environment: r.environment,
            release_id: r.releaseId,
            requested_by: r.requestedBy,
            requested_at: r.requestedAt,
          })
          .onConflict((oc) => oc.columns(['project_id', 'environment', 'release_id']).doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
        await insertEvents(trx, dialect, events);
        return true;
      });
    },

    async requests(projectId) {
      let query = db.selectFrom('approval_requests').selectAll().orderBy('requested_at').orderBy('release_id');
      if (projectId !== undefined) query = query.where('project_id', '=', projectId);
      return (await query.execute()).map((r) => ({
        projectId: r.project_id,
        environment: r.environment,
        releaseId: r.release_id,
        requestedBy: r.requested_by,
        requestedAt: r.requested_at,
      }));
    },

    async closeRequest(projectId, environment, releaseId, events) {
      await db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom('approval_requests')
          .where('project_id', '=', projectId)
          .where('environment', '=', environment)
          .where('release_id', '=', releaseId)
          .execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async approve(a, events) {
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('deploy_approvals')
            .values({ project_id: a.projectId, environment: a.environment, release_id: a.releaseId, approver: a.by, at: a.at })
            .execute();
          await insertEvents(trx, dialect, events);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`${a.by} already approved this release for ${a.environment}`);
        throw err;
      }
    },

    async approvals(projectId, environment, releaseId) {
      const rows = await db
        .selectFrom('deploy_approvals')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('environment', '=', environment)
        .where('release_id', '=', releaseId)
        .orderBy(sql`at`)
        .orderBy('approver')
        .execute();
      return rows.map((r) => ({ projectId: r.project_id, environment: r.environment, releaseId: r.release_id, by: r.approver, at: r.at }));
    },
  };
}
