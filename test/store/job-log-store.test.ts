/**
 * The JobLogStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL: chunks read
 * back contiguous from any offset, a re-sent chunk is a no-op, a gap ends a read, and a read is
 * bounded by its byte budget (whole chunks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`JobLogStore: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    it('reads back the bytes from any chunk start, ignores a re-sent chunk and stops at a gap', async () => {
      const { jobLogs } = store;
      await jobLogs.append('r1', 'build', 0, Buffer.from('one\n'));
      await jobLogs.append('r1', 'build', 4, Buffer.from('two\n\xff', 'latin1'));
      await jobLogs.append('r1', 'build', 4, Buffer.from('XXXX'));
      await jobLogs.append('r1', 'test', 0, Buffer.from('other job\n'));
      expect((await jobLogs.read('r1', 'build', 0, 1024)).toString('latin1')).toBe('one\ntwo\n\xff');
      expect((await jobLogs.read('r1', 'build', 4, 1024)).toString('latin1')).toBe('two\n\xff');
      expect((await jobLogs.read('r1', 'build', 9, 1024)).length).toBe(0);
      await jobLogs.append('r1', 'build', 20, Buffer.from('after a gap'));
      expect((await jobLogs.read('r1', 'build', 0, 1024)).toString('latin1')).toBe('one\ntwo\n\xff');
      expect((await jobLogs.read('r1', 'build', 0, 1)).toString()).toBe('one\n');
    });
  });
}

contract('sqlite', sqliteTestDatabase, false);
contract('postgres', pgTestDatabase, !pgAvailable());
