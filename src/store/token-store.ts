/** API tokens (TokenStore of ./ports.ts) over Kysely: only their sha256 is kept. */
import { newId } from '../core/ids.ts';
import { ConflictError } from '../core/errors.ts';
import type { TokenRecord, TokenStore } from './ports.ts';
import { isUniqueViolation, nowIso } from './codec.ts';
import type { StoreContext } from './codec.ts';

/** Tokens looked up by hash; names are labels and may repeat. */
export function createTokenStore(ctx: StoreContext): TokenStore {
  const { db } = ctx;
  return {
    /** Throws ConflictError when a token with the same hash exists. */
    async create(t) {
      const token: TokenRecord = { id: newId(), name: t.name, hash: t.hash, createdAt: nowIso() };
      try {
        await db.insertInto('tokens').values({ id: token.id, name: token.name, hash: token.hash, created_at: token.createdAt }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('a token with this hash already exists');
        throw err;
      }
      return token;
    },

    async findByHash(hash) {
      const row = await db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row === undefined ? undefined : { id: row.id, name: row.name, hash: row.hash, createdAt: row.created_at };
    },

    /** Oldest first. */
    async list() {
      const rows = await db.selectFrom('tokens').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
      return rows.map((row) => ({ id: row.id, name: row.name, hash: row.hash, createdAt: row.created_at }));
    },

    async delete(hash) {
      const result = await db.deleteFrom('tokens').where('hash', '=', hash).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
