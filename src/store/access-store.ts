/**
 * Users, groups and role grants (AccessStore of ./ports.ts) over Kysely. A grant's project and
 * environment are stored as '' when absent, since they are part of the primary key (one role per
 * subject and scope) and a key cannot hold NULL.
 */
import { type Selectable, sql } from 'kysely';
import { ConflictError } from '../core/errors.ts';
import type { StoreContext } from './codec.ts';
import { isUniqueViolation, nowIso, reusableRead } from './codec.ts';
import type { GrantsTable, UsersTable } from './migrations.ts';
import type { AccessStore, GrantRecord, UserRecord } from './ports.ts';

export function createAccessStore(ctx: StoreContext): AccessStore {
  const { db } = ctx;
  const userByName = reusableRead(db, (name) => db.selectFrom('users').selectAll().where('name', '=', name));
  // A user's groups, then the grants of the user and of those groups, as rows of one shape.
  const holdings = reusableRead(db, (user) =>
    db
      .selectFrom('group_members')
      .where('user_name', '=', user)
      .select([
        sql<string>`'group'`.as('kind'),
        'group_name as subject',
        sql<string>`''`.as('role'),
        sql<string>`''`.as('project'),
        sql<string>`''`.as('environment'),
        sql<string>`''`.as('created_at'),
        sql<string>`''`.as('created_by'),
      ])
      .unionAll(
        db
          .selectFrom('grants')
          .where((eb) =>
            eb.or([
              eb('subject', '=', sql<string>`'user:' || ${user}`),
              eb(
                'subject',
                'in',
                eb.selectFrom('group_members').where('user_name', '=', user).select(sql<string>`'group:' || group_name`.as('subject')),
              ),
            ]),
          )
          .select([sql<string>`'grant'`.as('kind'), 'subject', 'role', 'project', 'environment', 'created_at', 'created_by']),
      ),
  );
  return {
    async createUser(u) {
      const user: UserRecord = {
        name: u.name,
        kind: u.kind,
        displayName: u.displayName,
        email: u.email ?? null,
        externalId: u.externalId ?? null,
        createdAt: nowIso(),
        disabledAt: null,
      };
      try {
        await db
          .insertInto('users')
          .values({
            name: user.name,
            kind: user.kind,
            display_name: user.displayName,
            email: user.email,
            external_id: user.externalId,
            created_at: user.createdAt,
            disabled_at: null,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`a user named ${u.name} (or with that identity) already exists`);
        throw err;
      }
      return user;
    },

    async findUser(name) {
      const [row] = await userByName(name);
      return row === undefined ? undefined : toUser(row);
    },

    async findUserByExternalId(externalId) {
      const row = await db.selectFrom('users').selectAll().where('external_id', '=', externalId).executeTakeFirst();
      return row === undefined ? undefined : toUser(row);
    },

    async listUsers() {
      return (await db.selectFrom('users').selectAll().orderBy('name').execute()).map(toUser);
    },

    async updateUser(name, profile) {
      const set = {
        ...(profile.displayName === undefined ? {} : { display_name: profile.displayName }),
        ...(profile.email === undefined ? {} : { email: profile.email }),
      };
      if (Object.keys(set).length === 0)
        return (await db.selectFrom('users').select('name').where('name', '=', name).executeTakeFirst()) !== undefined;
      const result = await db.updateTable('users').set(set).where('name', '=', name).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async setUserDisabled(name, at) {
      const result = await db.updateTable('users').set({ disabled_at: at }).where('name', '=', name).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async setGroups(user, groups) {
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('group_members').where('user_name', '=', user).execute();
        const unique = [...new Set(groups)];
        if (unique.length > 0)
          await tx
            .insertInto('group_members')
            .values(unique.map((g) => ({ group_name: g, user_name: user })))
            .execute();
      });
    },

    async groupsOf(user) {
      const rows = await db.selectFrom('group_members').select('group_name').where('user_name', '=', user).orderBy('group_name').execute();
      return rows.map((r) => r.group_name);
    },

    async membersOf(group) {
      const rows = await db.selectFrom('group_members').select('user_name').where('group_name', '=', group).orderBy('user_name').execute();
      return rows.map((r) => r.user_name);
    },

    async grant(g) {
      const row: Selectable<GrantsTable> = {
        subject: g.subject,
        role: g.role,
        project: g.project ?? '',
        environment: g.environment ?? '',
        created_at: nowIso(),
        created_by: g.createdBy,
      };
      await db
        .insertInto('grants')
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(['subject', 'project', 'environment'])
            .doUpdateSet({ role: row.role, created_at: row.created_at, created_by: row.created_by }),
        )
        .execute();
      return toGrant(row);
    },

    async revokeGrant(subject, project, environment) {
      const result = await db
        .deleteFrom('grants')
        .where('subject', '=', subject)
        .where('project', '=', project ?? '')
        .where('environment', '=', environment ?? '')
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async grantsOf(subjects) {
      if (subjects.length === 0) return [];
      const rows = await db
        .selectFrom('grants')
        .selectAll()
        .where('subject', 'in', subjects)
        .orderBy('subject')
        .orderBy('project')
        .orderBy('environment')
        .execute();
      return rows.map(toGrant);
    },

    async holdingsOf(user) {
      const rows = await holdings(user);
      const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      return {
        groups: rows
          .filter((r) => r.kind === 'group')
          .map((r) => r.subject)
          .sort(byKey),
        grants: rows
          .filter((r) => r.kind === 'grant')
          .sort((a, b) => byKey(a.subject, b.subject) || byKey(a.project, b.project) || byKey(a.environment, b.environment))
          .map(toGrant),
      };
    },

    async listGrants(filter = {}) {
      let q = db.selectFrom('grants').selectAll();
      if (filter.project !== undefined) q = q.where('project', '=', filter.project);
      return (await q.orderBy('project').orderBy('environment').orderBy('subject').execute()).map(toGrant);
    },
  };
}

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    name: row.name,
    kind: row.kind === 'service' ? 'service' : 'person',
    displayName: row.display_name,
    email: row.email,
    externalId: row.external_id,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

/** A stored grant as the port returns it (the estate's snapshot reads grants too). */
export function toGrant(row: Selectable<GrantsTable>): GrantRecord {
  return {
    subject: row.subject,
    role: row.role,
    project: row.project === '' ? null : row.project,
    environment: row.environment === '' ? null : row.environment,
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}
