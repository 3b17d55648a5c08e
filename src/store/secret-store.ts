/**
 * Per-project and per-environment secrets (SecretStore of ./ports.ts) over Kysely: ciphertext
 * only, never plaintext.
 */
import { NotFoundError } from '../core/errors.ts';
import type { SecretStore } from './ports.ts';
import { isForeignKeyViolation, nowIso } from './codec.ts';
import type { StoreContext } from './codec.ts';

/**
 * Project secrets keyed by (project, name) in `secrets`; an environment's own values keyed by
 * (project, environment, name) in `environment_secrets`. A call with `environment` given reads
 * or writes only that environment's values (no fallback to the project's: merging is the
 * caller's policy); without it, only the project's. Both go when their project goes.
 */
export function createSecretStore(ctx: StoreContext): SecretStore {
  const { db } = ctx;
  return {
    /** Throws NotFoundError when the project does not exist. */
    async set(projectId, name, ciphertext, environment) {
      const updatedAt = nowIso();
      try {
        if (environment === undefined) {
          await db
            .insertInto('secrets')
            .values({ project_id: projectId, name, ciphertext, updated_at: updatedAt })
            .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ ciphertext, updated_at: updatedAt }))
            .execute();
        } else {
          await db
            .insertInto('environment_secrets')
            .values({ project_id: projectId, environment, name, ciphertext, updated_at: updatedAt })
            .onConflict((oc) => oc.columns(['project_id', 'environment', 'name']).doUpdateSet({ ciphertext, updated_at: updatedAt }))
            .execute();
        }
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new NotFoundError(`project ${projectId} not found`, { projectId });
        throw err;
      }
    },

    async get(projectId, name, environment) {
      const row =
        environment === undefined
          ? await db
              .selectFrom('secrets')
              .select('ciphertext')
              .where('project_id', '=', projectId)
              .where('name', '=', name)
              .executeTakeFirst()
          : await db
              .selectFrom('environment_secrets')
              .select('ciphertext')
              .where('project_id', '=', projectId)
              .where('environment', '=', environment)
              .where('name', '=', name)
              .executeTakeFirst();
      return row?.ciphertext;
    },

    async all(projectId, environment) {
      const rows =
        environment === undefined
          ? await db
              .selectFrom('secrets')
              .select(['name', 'ciphertext'])
              .where('project_id', '=', projectId)
              .orderBy('name', 'asc')
              .execute()
          : await db
              .selectFrom('environment_secrets')
              .select(['name', 'ciphertext'])
              .where('project_id', '=', projectId)
              .where('environment', '=', environment)
              .orderBy('name', 'asc')
              .execute();
      return Object.fromEntries(rows.map((r) => [r.name, r.ciphertext]));
    },

    /** Sorted by name. */
    async names(projectId, environment) {
      const rows =
        environment === undefined
          ? await db.selectFrom('secrets').select('name').where('project_id', '=', projectId).orderBy('name', 'asc').execute()
          : await db
              .selectFrom('environment_secrets')
              .select('name')
              .where('project_id', '=', projectId)
              .where('environment', '=', environment)
              .orderBy('name', 'asc')
              .execute();
      return rows.map((r) => r.name);
    },

    async delete(projectId, name, environment) {
      const result =
        environment === undefined
          ? await db.deleteFrom('secrets').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst()
          : await db
              .deleteFrom('environment_secrets')
              .where('project_id', '=', projectId)
              .where('environment', '=', environment)
              .where('name', '=', name)
              .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
