/**
 * Leases (LeaseStore of ./ports.ts) over Kysely: the pure rule of src/leases decides, this only
 * reads and writes the row inside one transaction. On PostgreSQL the row is read `FOR UPDATE`,
 * so claimants on several servers queue on it and each decides on what the one before wrote; the
 * first claim ever races on the insert, and the loser of that race is refused.
 */
import type { Selectable } from 'kysely';
import { decideClaim, decideRelease, type LeaseRecord } from '../leases/index.ts';
import type { StoreContext } from './codec.ts';
import type { Db } from './codec.ts';
import type { LeasesTable } from './migrations.ts';
import type { LeaseStore } from './ports.ts';

export function createLeaseStore(ctx: StoreContext): LeaseStore {
  const { db, dialect } = ctx;
  const read = async (tx: Db, name: string): Promise<LeaseRecord | null> => {
    let query = tx.selectFrom('leases').selectAll().where('name', '=', name);
    if (dialect === 'postgres') query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row ? toRecord(row) : null;
  };
  const write = async (tx: Db, lease: LeaseRecord) => {
    await tx
      .updateTable('leases')
      .set({ holder: lease.holder, holder_url: lease.holderUrl, token: lease.token, expires_at_ms: lease.expiresAtMs })
      .where('name', '=', lease.name)
      .execute();
  };
  return {
    claim: (claim) =>
      db.transaction().execute(async (tx) => {
        const current = await read(tx, claim.name);
        const outcome = decideClaim(current, claim);
        if (!outcome.granted) return outcome;
        if (current !== null) {
          await write(tx, outcome.lease);
          return outcome;
        }
        const { lease } = outcome;
        const inserted = await tx
          .insertInto('leases')
          .values({
            name: lease.name,
            holder: lease.holder,
            holder_url: lease.holderUrl,
            token: lease.token,
            expires_at_ms: lease.expiresAtMs,
          })
          .onConflict((oc) => oc.column('name').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return outcome;
        // Another server created the row between our read and our insert: it holds the lease now.
        const winner = await tx.selectFrom('leases').selectAll().where('name', '=', claim.name).executeTakeFirstOrThrow();
        return { granted: false, lease: toRecord(winner) };
      }),
    release: (name, holder, token) =>
      db.transaction().execute(async (tx) => {
        const current = await read(tx, name);
        const next = decideRelease(current, holder, token);
        if (next !== null && next !== current) await write(tx, next);
      }),
    async get(name) {
      const row = await db.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? toRecord(row) : null;
    },
  };
}

function toRecord(row: Selectable<LeasesTable>): LeaseRecord {
  return {
    name: row.name,
    holder: row.holder,
    holderUrl: row.holder_url,
    token: Number(row.token),
    expiresAtMs: Number(row.expires_at_ms),
  };
}
