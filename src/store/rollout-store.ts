/** Rollouts and the environments they deploy to (RolloutStore of ./ports.ts) over Kysely. */
import type { Selectable, Updateable } from 'kysely';
import { ConflictError, InputError, NotFoundError } from '../core/errors.ts';
import type { Value } from '../core/types.ts';
import type { EnvironmentRecord, RolloutRecord, RolloutStore } from './ports.ts';
import type { EnvironmentsTable, RolloutsTable } from './migrations.ts';
import { fromJson, isForeignKeyViolation, isUniqueViolation, nowIso, toJson, toNumber } from './codec.ts';
import type { Db, StoreContext } from './codec.ts';
import { insertEvents } from './event-store.ts';

function toRollout(row: Selectable<RolloutsTable>): RolloutRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    environment: row.environment,
    releaseId: row.release_id,
    previousReleaseId: row.previous_release_id,
    phase: row.phase,
    state: fromJson<Record<string, Value>>(row.state),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

function toEnvironment(row: Selectable<EnvironmentsTable>): EnvironmentRecord {
  return {
    projectId: row.project_id,
    name: row.name,
    currentReleaseId: row.current_release_id,
    previousReleaseId: row.previous_release_id,
    port: row.port === null ? null : toNumber(row.port),
    updatedAt: row.updated_at,
  };
}

/** Inserts or replaces an environment's row inside the caller's transaction (or on its own). */
async function upsertEnvironment(db: Db, e: Omit<EnvironmentRecord, 'updatedAt'>): Promise<void> {
  const columns = {
    current_release_id: e.currentReleaseId,
    previous_release_id: e.previousReleaseId,
    port: e.port,
    updated_at: nowIso(),
  };
  try {
    await db
      .insertInto('environments')
      .values({ project_id: e.projectId, name: e.name, ...columns })
      .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet(columns))
      .execute();
  } catch (err) {
    if (isForeignKeyViolation(err)) throw new NotFoundError(`project ${e.projectId} not found`, { projectId: e.projectId });
    throw err;
  }
}

/**
 * Rollouts keyed by id, at most one unfinished per (project, environment) — the database holds
 * that rule with a partial unique index, so racing creators cannot both win. Every transition
 * is one transaction with its environment change and events.
 */
export function createRolloutStore(ctx: StoreContext): RolloutStore {
  const { db } = ctx;
  return {
    /**
     * Throws ConflictError when the environment already has an unfinished rollout or the id is
     * taken, NotFoundError when the project or the release does not exist.
     */
    async create(r) {
      const now = nowIso();
      const record: RolloutRecord = {
        id: r.id,
        projectId: r.projectId,
        environment: r.environment,
        releaseId: r.releaseId,
        previousReleaseId: r.previousReleaseId,
        phase: r.phase,
        state: r.state,
        createdBy: r.createdBy,
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
      };
      try {
        await db
          .insertInto('rollouts')
          .values({
            id: r.id,
            project_id: r.projectId,
            environment: r.environment,
            release_id: r.releaseId,
            previous_release_id: r.previousReleaseId,
            phase: r.phase,
            state: toJson(r.state),
            created_by: r.createdBy,
            created_at: now,
            updated_at: now,
            finished_at: null,
          })
          .execute();
      } catch (err) {
        if (isForeignKeyViolation(err)) {
          throw new NotFoundError(`project ${r.projectId} or release ${r.releaseId} not found`, {
            projectId: r.projectId,
            releaseId: r.releaseId,
          });
        }
        if (isUniqueViolation(err)) {
          const taken = await db.selectFrom('rollouts').select('id').where('id', '=', r.id).executeTakeFirst();
          if (taken !== undefined) throw new ConflictError(`a rollout with id ${r.id} already exists`, { rolloutId: r.id });
          throw new ConflictError(`environment "${r.environment}" already has a rollout in progress`, {
            projectId: r.projectId,
            environment: r.environment,
          });
        }
        throw err;
      }
      return record;
    },

    async get(id) {
      const row = await db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toRollout(row);
    },

    async active(projectId, environment) {
      const row = await db
        .selectFrom('rollouts')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('environment', '=', environment)
        .where('finished_at', 'is', null)
        .executeTakeFirst();
      return row === undefined ? undefined : toRollout(row);
    },

    /** Oldest first, so recovery resumes rollouts in the order they started. */
    async listActive() {
      const rows = await db
        .selectFrom('rollouts')
        .selectAll()
        .where('finished_at', 'is', null)
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .execute();
      return rows.map(toRollout);
    },

    async list(filter) {
      let q = db.selectFrom('rollouts').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc');
      if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
      if (filter.environment !== undefined) q = q.where('environment', '=', filter.environment);
      if (filter.limit !== undefined) q = q.limit(filter.limit);
      return (await q.execute()).map(toRollout);
    },

    /**
     * Throws (and changes nothing) NotFoundError for an unknown rollout, InputError when the
     * environment named is not the rollout's own, ConflictError when `finishedAt: null` would
     * reopen a rollout beside another unfinished one. `finishedAt` undefined leaves it as is.
     */
    async transition(id, change) {
      try {
        await db.transaction().execute(async (trx) => {
          const set: Updateable<RolloutsTable> = { phase: change.phase, state: toJson(change.state), updated_at: nowIso() };
          if (change.finishedAt !== undefined) set.finished_at = change.finishedAt;
          const updated = await trx
            .updateTable('rollouts')
            .set(set)
            .where('id', '=', id)
            .returning(['project_id', 'environment'])
            .executeTakeFirst();
          if (updated === undefined) throw new NotFoundError(`rollout ${id} not found`, { rolloutId: id });

          if (change.environment !== undefined) {
            const env = change.environment;
            if (env.projectId !== updated.project_id || env.name !== updated.environment) {
              throw new InputError(`rollout ${id} deploys to ${updated.environment}, not ${env.name}`, {
                rolloutId: id,
                environment: env.name,
              });
            }
            await upsertEnvironment(trx, env);
          }

          // Last, so the PostgreSQL event lock is held only until the commit right after.
          await insertEvents(trx, ctx.dialect, change.events ?? []);
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConflictError(`rollout ${id} cannot be reopened: its environment has another rollout in progress`, { rolloutId: id });
        throw err;
      }
    },

    async environment(projectId, name) {
      const row = await db
        .selectFrom('environments')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('name', '=', name)
        .executeTakeFirst();
      return row === undefined ? undefined : toEnvironment(row);
    },

    /** Sorted by name. */
    async environments(projectId) {
      const rows = await db.selectFrom('environments').selectAll().where('project_id', '=', projectId).orderBy('name', 'asc').execute();
      return rows.map(toEnvironment);
    },

    /** Upsert. Throws NotFoundError when the project does not exist. */
    async setEnvironment(e) {
      await upsertEnvironment(db, e);
    },
  };
}
