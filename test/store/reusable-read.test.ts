/** `reusableRead` (src/store/codec.ts): compiled once, each call's values where they belong, on SQLite and PostgreSQL. */
import { type Compilable, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reusableRead } from '../../src/store/codec.ts';
import type { Database } from '../../src/store/migrations.ts';
import { NodeSqliteDialect, openSqliteDatabase } from '../../src/store/sqlite-dialect.ts';
import { pgAvailable, pgTestDatabase, type TestDatabase } from '../support/databases.ts';

interface Pairs {
  pairs: { a: string; b: string };
}

function suite(name: string, open: () => Promise<{ db: Kysely<Pairs>; cleanup(): Promise<void> }>, skip: boolean): void {
  describe.skipIf(skip)(`reusableRead: ${name}`, () => {
    let db: Kysely<Pairs>;
    let cleanup = async () => {};
    beforeAll(async () => {
      ({ db, cleanup } = await open());
      await db.schema.createTable('pairs').addColumn('a', 'text').addColumn('b', 'text').execute();
      await db
        .insertInto('pairs')
        .values([
          { a: 'x', b: 'y' },
          { a: 'y', b: 'x' },
          { a: 'x', b: 'z' },
        ])
        .execute();
    });
    afterAll(async () => {
      await db?.destroy();
      await cleanup();
    });
    const reusable = <A extends string[], O>(build: (...values: A) => Compilable<O>) =>
      reusableRead<A, O>(db as unknown as Kysely<Database>, build);

    it('puts each call’s values where its markers were, in whatever order the SQL uses them', async () => {
      const find = reusable<[string, string], { a: string; b: string }>((a, b) =>
        db.selectFrom('pairs').selectAll().where('b', '=', b).where('a', '=', a).orderBy('b'),
      );
      expect(await find('x', 'y')).toEqual([{ a: 'x', b: 'y' }]);
      expect(await find('y', 'x')).toEqual([{ a: 'y', b: 'x' }]);
      expect(await find('x', 'x')).toEqual([]);
    });

    it('uses a value as often as the query names it', async () => {
      const either = reusable<[string], { a: string; b: string }>((v) =>
        db
          .selectFrom('pairs')
          .selectAll()
          .where((eb) => eb.or([eb('a', '=', v), eb('b', '=', v)]))
          .orderBy('a')
          .orderBy('b'),
      );
      expect(await either('x')).toEqual([
        { a: 'x', b: 'y' },
        { a: 'x', b: 'z' },
        { a: 'y', b: 'x' },
      ]);
      expect(await either('z')).toEqual([{ a: 'x', b: 'z' }]);
    });

    it('refuses a query that leaves one of its values out', async () => {
      const broken = reusable<[string, string], unknown>((a) => db.selectFrom('pairs').selectAll().where('a', '=', a));
      await expect(broken('x', 'y')).rejects.toThrow(/leaves one of its values out/);
    });
  });
}

suite(
  'SQLite',
  async () => ({
    db: new Kysely<Pairs>({ dialect: new NodeSqliteDialect({ database: openSqliteDatabase(':memory:') }) }),
    cleanup: async () => {},
  }),
  false,
);

suite(
  'PostgreSQL',
  async () => {
    const database = (await pgTestDatabase()) as TestDatabase;
    return {
      db: new Kysely<Pairs>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }) }),
      cleanup: database.cleanup,
    };
  },
  !pgAvailable(),
);
