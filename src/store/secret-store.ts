/** Per-project secrets (SecretStore of ./ports.ts) over Kysely: ciphertext only, never plaintext. */
import { NotFoundError } from '../core/errors.ts';
import type { SecretStore } from './ports.ts';
import { isForeignKeyViolation, nowIso } from './codec.ts';
import type { StoreContext } from './codec.ts';

/** Secrets keyed by (project, name); they go when their project goes. */
export function createSecretStore(ctx: StoreContext): SecretStore {
  const { db } = ctx;
  return {
    /** Throws NotFoundError when the project does not exist. */
    async set(projectId, name, ciphertext) {
      const updatedAt = nowIso();
      try {
        await db.insertInto('secrets')
          .values({ project_id: projectId, name, ciphertext, updated_at: updatedAt })
          .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ ciphertext, updated_at: updatedAt }))
          .execute();
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new NotFoundError(`project ${projectId} not found`, { projectId });
        throw err;
      }
    },

    async get(projectId, name) {
      const row = await db.selectFrom('secrets').select('ciphertext')
        .where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
      return row?.ciphertext;
    },

    async all(projectId) {
      const rows = await db.selectFrom('secrets').select(['name', 'ciphertext'])
        .where('project_id', '=', projectId).orderBy('name', 'asc').execute();
      return Object.fromEntries(rows.map((r) => [r.name, r.ciphertext]));
    },

    /** Sorted by name. */
    async names(projectId) {
      const rows = await db.selectFrom('secrets').select('name')
        .where('project_id', '=', projectId).orderBy('name', 'asc').execute();
      return rows.map((r) => r.name);
    },

    async delete(projectId, name) {
      const result = await db.deleteFrom('secrets')
        .where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
