/** Incidents and their notes (IncidentStore of ./ports.ts) over Kysely. */
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Incident, IncidentSeverity, IncidentState } from '../core/incident.ts';
import type { StoreContext } from './codec.ts';
import { PG_LOCK_INCIDENT_NUMBER, toNumber } from './codec.ts';
import { insertEvents } from './event-store.ts';
import type { IncidentsTable } from './migrations.ts';
import type { IncidentStore } from './ports.ts';

function orNull(v: number | string | null): number | null {
  return v === null ? null : toNumber(v);
}

function toIncident(row: Selectable<IncidentsTable>): Incident {
  return {
    id: row.id,
    projectId: row.project_id,
    environment: row.environment,
    number: toNumber(row.number),
    title: row.title,
    severity: row.severity as IncidentSeverity,
    state: row.state as IncidentState,
    owner: row.owner,
    alertKey: row.alert_key,
    openedBy: row.opened_by,
    openedAt: toNumber(row.opened_at),
    acknowledgedAt: orNull(row.acknowledged_at),
    mitigatedAt: orNull(row.mitigated_at),
    resolvedAt: orNull(row.resolved_at),
  };
}

function toRow(i: Incident): Insertable<IncidentsTable> {
  return {
    id: i.id,
    project_id: i.projectId,
    environment: i.environment,
    number: i.number,
    title: i.title,
    severity: i.severity,
    state: i.state,
    owner: i.owner,
    alert_key: i.alertKey,
    opened_by: i.openedBy,
    opened_at: i.openedAt,
    acknowledged_at: i.acknowledgedAt,
    mitigated_at: i.mitigatedAt,
    resolved_at: i.resolvedAt,
  };
}

export function createIncidentStore(ctx: StoreContext): IncidentStore {
  const { db, dialect } = ctx;
  return {
    async open(incident, events, cursor) {
      return db.transaction().execute(async (trx) => {
        if (dialect === 'postgres')
          await sql`select pg_advisory_xact_lock(${PG_LOCK_INCIDENT_NUMBER}::int, hashtext(${incident.projectId}))`.execute(trx);
        const row = await trx
          .selectFrom('incidents')
          .select((eb) => eb.fn.max('number').as('max'))
          .where('project_id', '=', incident.projectId)
          .executeTakeFirst();
        const max = row?.max;
        const stored: Incident = { ...incident, number: max === null || max === undefined ? 1 : toNumber(max) + 1 };
        await trx.insertInto('incidents').values(toRow(stored)).execute();
        await insertEvents(
          trx,
          dialect,
          events.map((e) => ({ ...e, data: { ...e.data, number: stored.number } })),
        );
        if (cursor !== undefined) {
          await trx
            .insertInto('event_cursors')
            .values({ name: cursor.name, event_id: cursor.eventId })
            .onConflict((oc) => oc.column('name').doUpdateSet({ event_id: sql`excluded.event_id` }))
            .execute();
        }
        return stored;
      });
    },

    async get(id) {
      const row = await db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toIncident(row);
    },

    async byNumber(projectId, number) {
      const row = await db
        .selectFrom('incidents')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('number', '=', number)
        .executeTakeFirst();
      return row === undefined ? undefined : toIncident(row);
    },

    async list(filter) {
      let q = db.selectFrom('incidents').selectAll().orderBy('opened_at', 'desc').orderBy('number', 'desc').limit(filter.limit);
      if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
      if (filter.states !== undefined) q = q.where('state', 'in', filter.states);
      return (await q.execute()).map(toIncident);
    },

    async openForAlert(projectId, alertKey) {
      const row = await db
        .selectFrom('incidents')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('alert_key', '=', alertKey)
        .where('state', '!=', 'resolved')
        .orderBy('opened_at', 'desc')
        .executeTakeFirst();
      return row === undefined ? undefined : toIncident(row);
    },

    async save(incident, events) {
      await db.transaction().execute(async (trx) => {
        const { id, ...rest } = toRow(incident);
        await trx.updateTable('incidents').set(rest).where('id', '=', id).execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async addNote(incidentId, note, events) {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('incident_notes')
          .values({ incident_id: incidentId, at: note.at, author: note.author, text: note.text })
          .execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async notes(incidentId) {
      const rows = await db.selectFrom('incident_notes').selectAll().where('incident_id', '=', incidentId).orderBy('id').execute();
      return rows.map((r) => ({ at: toNumber(r.at), author: r.author, text: r.text }));
    },

    async cursor(name) {
      const row = await db.selectFrom('event_cursors').select('event_id').where('name', '=', name).executeTakeFirst();
      return row === undefined ? 0 : toNumber(row.event_id);
    },

    async setCursor(name, eventId) {
      await db
        .insertInto('event_cursors')
        .values({ name, event_id: eventId })
        .onConflict((oc) => oc.column('name').doUpdateSet({ event_id: sql`excluded.event_id` }))
        .execute();
    },
  };
}
