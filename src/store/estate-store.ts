/**
 * The platform as code's view of the store (EstateStore of ./ports.ts): one snapshot of what it
 * manages — grants, groups, environments' protection, security policies, secret names — and one
 * transaction that writes a whole apply with its event, so an apply that fails half-way leaves
 * nothing behind.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { newId } from '../core/ids.ts';
import type { EnvironmentProtection } from '../core/protection.ts';
import { toGrant } from './access-store.ts';
import { type Db, fromJson, nowIso, toJson, type StoreContext } from './codec.ts';
import { insertEvents } from './event-store.ts';
import { toChannel } from './notification-store.ts';
import type { EstateSnapshot, EstateStore } from './ports.ts';

/** The event an apply appends: the newest one decides the plan's drift marks (src/server/estate). */
const PLATFORM_APPLIED = 'platform.applied';

/** The tables a plan reads: locked in this order by an apply on PostgreSQL. */
const ESTATE_TABLES = [
  'projects',
  'grants',
  'group_members',
  'environment_protection',
  'security_policies',
  'secrets',
  'notification_channels',
] as const;

/** Reads what a plan is made of, with its version, through `db` (the store or a transaction). */
async function readEstate(db: Db): Promise<EstateSnapshot> {
  const [projects, grants, protections, policies, secrets, groups, channels, lastApplied] = await Promise.all([
    db.selectFrom('projects').select(['id', 'name']).orderBy('name').execute(),
    db.selectFrom('grants').selectAll().orderBy('subject').orderBy('project').orderBy('environment').execute(),
    db.selectFrom('environment_protection').selectAll().orderBy('project_id').orderBy('environment').execute(),
    db.selectFrom('security_policies').select(['project_id', 'policy']).orderBy('project_id').execute(),
    db.selectFrom('secrets').select(['project_id', 'name', 'ciphertext']).orderBy('name').orderBy('project_id').execute(),
    db.selectFrom('group_members').selectAll().orderBy('group_name').orderBy('user_name').execute(),
    // Every channel: a project's are the platform's, the others' names are what a new one may not take.
    db.selectFrom('notification_channels').selectAll().orderBy('name').orderBy('id').execute(),
    db.selectFrom('events').select('id').where('type', '=', PLATFORM_APPLIED).orderBy('id', 'desc').limit(1).executeTakeFirst(),
  ]);
  const version = createHash('sha256')
    .update(JSON.stringify([projects, grants, protections, policies, secrets, groups, channels, lastApplied?.id ?? null]))
    .digest('hex');
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
    channels: channels.filter((c) => c.project_id !== null).map((c) => ({ ...toChannel(c), projectId: c.project_id as string })),
    version,
  };
}

export function createEstateStore(ctx: StoreContext): EstateStore {
  const { db, dialect } = ctx;
  return {
    snapshot: () => readEstate(db),

    async apply(writes, events, planned) {
      const at = nowIso();
      return db.transaction().execute(async (trx) => {
        if (planned !== undefined) {
          // Other writers wait until this commits; SQLite's one connection already serialises transactions.
          if (dialect === 'postgres')
            await sql`lock table ${sql.join(ESTATE_TABLES.map((t) => sql.table(t)))} in share row exclusive mode`.execute(trx);
          if ((await readEstate(trx)).version !== planned) return 'changed';
        }
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
        return 'applied';
      });
    },
  };
}
