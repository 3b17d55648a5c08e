/**
 * A store contract run on both stores: a SQLite file and, when a server is available, PostgreSQL.
 * `body` declares the tests against `db`, whose `store` and `url` are set before the first test.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { openStore, type Store } from '../../src/store/index.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase, type TestDatabase } from './databases.ts';

export interface StoreUnderTest {
  /** Known when the tests are declared, for a case only one store can have. */
  kind: 'sqlite' | 'postgres';
  store: Store;
  /** The store's URL, for a test that opens more handles on the same database. */
  url: string;
}

export function describeOnEachStore(title: string, body: (db: StoreUnderTest) => void): void {
  const stores: [string, StoreUnderTest['kind'], () => Promise<TestDatabase | null>, boolean][] = [
    ['SQLite', 'sqlite', sqliteTestDatabase, false],
    ['PostgreSQL', 'postgres', pgTestDatabase, !pgAvailable()],
  ];
  for (const [name, kind, factory, skip] of stores) {
    describe.skipIf(skip)(`${title}: ${name}`, () => {
      let database: TestDatabase | undefined;
      const db = { kind } as StoreUnderTest;
      beforeAll(async () => {
        const made = await factory();
        if (made === null) throw new Error(`${name}: no test database`);
        database = made;
        db.url = made.url;
        db.store = await openStore({ url: made.url });
      });
      afterAll(async () => {
        await db.store?.close();
        await database?.cleanup();
      });
      body(db);
    });
  }
}
