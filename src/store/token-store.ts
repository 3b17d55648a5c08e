/** API tokens (TokenStore of ./ports.ts) over Kysely: only their sha256 is kept. */
import type { Selectable } from 'kysely';
import { ConflictError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Db, StoreContext } from './codec.ts';
import { fromJsonOrNull, isUniqueViolation, nowIso, toJson, reusableRead } from './codec.ts';
import { insertEvents } from './event-store.ts';
import type { TokensTable } from './migrations.ts';
import type { NewToken, TokenRecord, TokenStore } from './ports.ts';

/** Tokens looked up by hash; names are labels and may repeat. */
export function createTokenStore(ctx: StoreContext): TokenStore {
  const { db, dialect } = ctx;
  const byHash = reusableRead(db, (hash) => db.selectFrom('tokens').selectAll().where('hash', '=', hash));
  return {
    /** Throws ConflictError when a token with the same hash exists. */
    create(t) {
      return insertToken(db, t);
    },

    async findByHash(hash) {
      const [row] = await byHash(hash);
      return row === undefined ? undefined : toRecord(row);
    },

    async findById(id) {
      const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toRecord(row);
    },

    /** Oldest first. */
    async list() {
      const rows = await db.selectFrom('tokens').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
      return rows.map(toRecord);
    },

    async listByOwner(owner) {
      const rows = await db
        .selectFrom('tokens')
        .selectAll()
        .where('owner', '=', owner)
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .execute();
      return rows.map(toRecord);
    },

    async delete(hash) {
      const result = await db.deleteFrom('tokens').where('hash', '=', hash).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async trade(consumedHash, created, events) {
      return db.transaction().execute(async (trx) => {
        // The delete decides: on PostgreSQL a second transaction waits on the row's lock and then
        // deletes nothing; on SQLite `begin immediate` runs them one after the other.
        const consumed = await trx.deleteFrom('tokens').where('hash', '=', consumedHash).executeTakeFirst();
        if (Number(consumed.numDeletedRows) === 0) return null;
        const token = await insertToken(trx, created);
        await insertEvents(trx, dialect, events(token));
        return token;
      });
    },

    async revoke(id, at) {
      const result = await db
        .updateTable('tokens')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}

async function insertToken(db: Db, t: NewToken): Promise<TokenRecord> {
  const token: TokenRecord = {
    id: newId(),
    name: t.name,
    hash: t.hash,
    createdAt: nowIso(),
    owner: t.owner ?? null,
    scopes: t.scopes ?? null,
    expiresAt: t.expiresAt ?? null,
    revokedAt: null,
  };
  try {
    await db
      .insertInto('tokens')
      .values({
        id: token.id,
        name: token.name,
        hash: token.hash,
        created_at: token.createdAt,
        owner: token.owner,
        scopes: token.scopes === null ? null : toJson(token.scopes),
        expires_at: token.expiresAt,
        revoked_at: null,
      })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('a token with this hash already exists');
    throw err;
  }
  return token;
}

function toRecord(row: Selectable<TokensTable>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    createdAt: row.created_at,
    owner: row.owner,
    scopes: fromJsonOrNull<string[]>(row.scopes),
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}
