/** Notification channels and the outbox (NotificationStore of ./ports.ts) over Kysely. */
import { sql, type Selectable } from 'kysely';
import { ConflictError } from '../core/errors.ts';
import type { Value } from '../core/types.ts';
import type { NotificationChannelsTable, NotificationDeliveriesTable } from './migrations.ts';
import type { DeliveryStatus, NotificationChannel, NotificationDelivery, NotificationRoutes, NotificationStore } from './ports.ts';
import type { StoreContext } from './codec.ts';
import { fromJson, isUniqueViolation, nowIso, toJson, toNumber } from './codec.ts';

const CURSOR = 'events';

export function toChannel(row: Selectable<NotificationChannelsTable>): NotificationChannel {
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    kind: row.kind as NotificationChannel['kind'],
    targetCiphertext: row.target_ciphertext,
    secretCiphertext: row.secret_ciphertext,
    routes: fromJson<NotificationRoutes>(row.routes),
    createdAt: row.created_at,
  };
}

function toDelivery(row: Selectable<NotificationDeliveriesTable>): NotificationDelivery {
  return {
    id: toNumber(row.id),
    channelId: row.channel_id,
    eventId: toNumber(row.event_id),
    idempotencyKey: row.idempotency_key,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptMs: toNumber(row.next_attempt_ms),
    lastError: row.last_error,
    payload: fromJson<Record<string, Value>>(row.payload),
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

export function createNotificationStore(ctx: StoreContext): NotificationStore {
  const { db } = ctx;
  return {
    /** ConflictError when the name is taken. */
    async addChannel(c) {
      const createdAt = nowIso();
      try {
        await db
          .insertInto('notification_channels')
          .values({
            id: c.id,
            project_id: c.projectId,
            name: c.name,
            kind: c.kind,
            target_ciphertext: c.targetCiphertext,
            secret_ciphertext: c.secretCiphertext,
            routes: toJson(c.routes),
            created_at: createdAt,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConflictError(`a channel named '${c.name}' exists already: choose another name or remove it first`);
        throw err;
      }
      return { ...c, createdAt };
    },

    async channels() {
      return (await db.selectFrom('notification_channels').selectAll().orderBy('created_at').orderBy('name').execute()).map(toChannel);
    },

    async removeChannel(id) {
      const result = await db.deleteFrom('notification_channels').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async cursor() {
      const row = await db.selectFrom('notification_cursor').select('event_id').where('name', '=', CURSOR).executeTakeFirst();
      return row === undefined ? 0 : toNumber(row.event_id);
    },

    async enqueue(cursor, deliveries) {
      await db.transaction().execute(async (trx) => {
        for (const d of deliveries) {
          await trx
            .insertInto('notification_deliveries')
            .values({
              channel_id: d.channelId,
              event_id: d.eventId,
              idempotency_key: d.idempotencyKey,
              status: 'pending',
              attempts: 0,
              next_attempt_ms: d.nextAttemptMs,
              last_error: null,
              payload: toJson(d.payload),
              created_at: d.createdAt,
              delivered_at: null,
            })
            .onConflict((oc) => oc.column('idempotency_key').doNothing())
            .execute();
        }
        await trx
          .insertInto('notification_cursor')
          .values({ name: CURSOR, event_id: cursor })
          .onConflict((oc) => oc.column('name').doUpdateSet({ event_id: sql`excluded.event_id` }))
          .execute();
      });
    },

    async due(nowMs, limit) {
      const rows = await db
        .selectFrom('notification_deliveries')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_ms', '<=', nowMs)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toDelivery);
    },

    async record(id, outcome) {
      await db
        .updateTable('notification_deliveries')
        .set({
          status: outcome.status,
          attempts: outcome.attempts,
          ...(outcome.nextAttemptMs === undefined ? {} : { next_attempt_ms: outcome.nextAttemptMs }),
          last_error: outcome.error ?? null,
          ...(outcome.status === 'delivered' ? { delivered_at: outcome.at } : {}),
        })
        .where('id', '=', id)
        .execute();
    },

    async deliveries(filter) {
      let q = db.selectFrom('notification_deliveries').selectAll().orderBy('id', 'desc').limit(filter.limit);
      if (filter.channelId !== undefined) q = q.where('channel_id', '=', filter.channelId);
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      return (await q.execute()).map(toDelivery);
    },
  };
}
