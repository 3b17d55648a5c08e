/** Projects (ProjectStore of ./ports.ts) over Kysely. */
import type { Selectable } from 'kysely';
import { newId } from '../core/ids.ts';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import type { Value } from '../core/types.ts';
import type { Project, ProjectSource, ProjectStore } from './ports.ts';
import type { ProjectsTable } from './migrations.ts';
import { fromJson, isUniqueViolation, nowIso, toJson, reusableRead } from './codec.ts';
import type { StoreContext } from './codec.ts';

function toProject(row: Selectable<ProjectsTable>): Project {
  return {
    id: row.id,
    name: row.name,
    source: fromJson<ProjectSource>(row.source),
    webhookSecret: row.webhook_secret,
    state: fromJson<Record<string, Value>>(row.state),
    createdAt: row.created_at,
  };
}

/**
 * Projects by unique name. Deleting a project deletes its runs, jobs and secrets with it
 * (foreign keys cascade); its events stay, as history.
 */
export function createProjectStore(ctx: StoreContext): ProjectStore {
  const { db } = ctx;
  const byIdOrName = reusableRead(db, (idOrName) =>
    db
      .selectFrom('projects')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])),
  );
  return {
    async create(p) {
      const project: Project = {
        id: newId(),
        name: p.name,
        source: p.source,
        webhookSecret: p.webhookSecret,
        state: {},
        createdAt: nowIso(),
      };
      try {
        await db
          .insertInto('projects')
          .values({
            id: project.id,
            name: project.name,
            source: toJson(project.source),
            webhook_secret: project.webhookSecret,
            state: toJson(project.state),
            created_at: project.createdAt,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`a project named "${p.name}" already exists`, { name: p.name });
        throw err;
      }
      return project;
    },

    async get(idOrName) {
      // One query (every project-scoped request asks, often twice), by id first: a name that
      // happens to equal another project's id must not shadow it.
      const rows = await byIdOrName(idOrName);
      const row = rows.find((r) => r.id === idOrName) ?? rows[0];
      return row === undefined ? undefined : toProject(row);
    },

    async list() {
      const rows = await db.selectFrom('projects').selectAll().orderBy('name', 'asc').execute();
      return rows.map(toProject);
    },

    /** Throws NotFoundError for an unknown id. */
    async setState(id, state) {
      const result = await db
        .updateTable('projects')
        .set({ state: toJson(state) })
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw new NotFoundError(`project ${id} not found`, { id });
    },

    /** Throws NotFoundError for an unknown id. */
    async delete(id) {
      const result = await db.deleteFrom('projects').where('id', '=', id).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`project ${id} not found`, { id });
    },
  };
}
