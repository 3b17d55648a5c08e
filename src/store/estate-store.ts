/**
 * The platform as code's view of the store (EstateStore of ./ports.ts): one snapshot of what it
 * manages — grants, groups, environments' protection, security policies, secret names — and one
 * transaction that writes a whole apply with its event, so an apply that fails half-way leaves
 * nothing behind.
 */
import { sql } from 'kysely';
import { newId } from '../core/ids.ts';
import type { EnvironmentProtection } from '../core/protection.ts';
import { toGrant } from './access-store.ts';
import { fromJson, nowIso, toJson, type StoreContext } from './codec.ts';
import { insertEvents } from './event-store.ts';
import { toChannel } from './notification-store.ts';
import type { EstateStore } from './ports.ts';

export function createEstateStore(ctx: StoreContext): EstateStore {
  const { db, dialect } = ctx;
  return {
    async snapshot() {
      const [projects, grants, protections, policies, secrets, groups, channels] = await Promise.all([
        db.selectFrom('projects').select(['id', 'name']).orderBy('name').execute(),
        db.selectFrom('grants').selectAll().orderBy('subject').orderBy('project').orderBy('environment').execute(),
        db.selectFrom('environment_protection').selectAll().execute(),
        db.selectFrom('security_policies').select(['project_id', 'policy']).execute(),
        db.selectFrom('secrets').select(['project_id', 'name']).orderBy('name').execute(),
        db.selectFrom('group_members').selectAll().orderBy('group_name').orderBy('user_name').execute(),
        db.selectFrom('notification_channels').selectAll().where('project_id', 'is not', null).orderBy('name').execute(),
      ]);
      return {
        projects,
        grants: grants.map(toGrant),
        protections: protections.map((p) => ({
          projectId: p.project_id,
          environment: p.environment,
          protection: fromJson<EnvironmentProtection>(p.protection),
        })),
        policies: policies.map((p) => ({ projectId: p.project_id, policy: p.policy })),
        secrets: secrets.map((s) => ({ projectId: s.project_id, name: s.name })),
        groups: groups.map((g) => ({ group: g.group_name, user: g.user_name })),
        channels: channels.map((c) => ({ ...toChannel(c), projectId: c.project_id as string })),
      };
    },

    async apply(writes, events) {
      const at = nowIso();
      await db.transaction().execute(async (trx) => {
        for (const g of writes.revokedGrants)
          await trx
            .deleteFrom('grants')
            .where('subject', '=', g.subject)
            .where('project', '=', g.project)
            .where('environment', '=', g.environment ?? '')
            .execute();
        for (const g of writes.grants)
          await trx
            .insertInto('grants')
            .values({
              subject: g.subject,
              role: g.role,
              project: g.project,
              environment: g.environment ?? '',
              created_at: at,
              created_by: writes.actor,
            })
            .onConflict((oc) =>
              oc
                .columns(['subject', 'project', 'environment'])
                .doUpdateSet({ role: sql`excluded.role`, created_by: sql`excluded.created_by` }),
            )
            .execute();
        for (const g of writes.groups) {
          await trx.deleteFrom('group_members').where('group_name', '=', g.group).execute();
          for (const user of new Set(g.members)) {
            await trx
              .insertInto('users')
              .values({ name: user, kind: 'person', display_name: user, email: null, external_id: null, created_at: at, disabled_at: null })
              .onConflict((oc) => oc.column('name').doNothing())
              .execute();
            await trx.insertInto('group_members').values({ group_name: g.group, user_name: user }).execute();
          }
        }
        for (const p of writes.protections) {
          await trx
            .deleteFrom('environment_protection')
            .where('project_id', '=', p.projectId)
            .where('environment', '=', p.environment)
            .execute();
          if (p.protection !== null)
            await trx
              .insertInto('environment_protection')
              .values({ project_id: p.projectId, environment: p.environment, protection: toJson(p.protection), updated_at: at })
              .execute();
        }
        for (const p of writes.policies) {
          await trx.deleteFrom('security_policies').where('project_id', '=', p.projectId).execute();
          if (p.policy !== null)
            await trx.insertInto('security_policies').values({ project_id: p.projectId, policy: p.policy, updated_at: at }).execute();
        }
        for (const c of writes.channels) {
          const where = trx.deleteFrom('notification_channels').where('project_id', '=', c.projectId).where('name', '=', c.name);
          if (c.channel === null) {
            await where.execute();
            continue;
          }
          const values = {
            kind: c.channel.kind,
            target_ciphertext: c.channel.targetCiphertext,
            secret_ciphertext: c.channel.secretCiphertext,
            routes: toJson(c.channel.routes),
          };
          const updated = await trx
            .updateTable('notification_channels')
            .set(values)
            .where('project_id', '=', c.projectId)
            .where('name', '=', c.name)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) === 0)
            await trx
              .insertInto('notification_channels')
              .values({ id: newId(), project_id: c.projectId, name: c.name, created_at: at, ...values })
              .execute();
        }
        await insertEvents(trx, dialect, events);
      });
    },
  };
}
