/** The SearchIndexStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent, SearchIndexMatch, Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24.0.0', host: 'test-host' };

const event = (type: string, at: string, data: NewEvent['data'] = {}): NewEvent => ({
  type,
  subject: `x:${type}`,
  actor: 'api:alice',
  at,
  data,
  env: ENV,
});
const match = (m: Partial<SearchIndexMatch>): SearchIndexMatch => ({ all: [], phrases: [], since: null, until: null, limit: 100, ...m });
const exact = (...terms: string[]) => terms.map((term) => ({ term, prefix: false }));

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`SearchIndexStore: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;
    const ids: number[] = [];

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
      // The third event is stored late: its time is earlier than the second's.
      const events = [
        event('run.created', '2026-12-01T10:00:00.000Z', { reason: 'Deploy failed: disk full' }),
        event('job.failure', '2026-12-02T10:00:00.000Z'),
        event('job.success', '2026-12-01T12:00:00.000Z'),
        event('rollout.created', '2026-12-03T10:00:00.000Z'),
      ];
      for (const e of events) ids.push((await store.events.append(e)).id);
      await store.search.add([
        { eventId: ids[0] as number, at: '2026-12-01T10:00:00.000Z', lexemes: ['k_run', 'deploy', 'failed', 'c_abcdef12'] },
        { eventId: ids[1] as number, at: '2026-12-02T10:00:00.000Z', lexemes: ['k_job', 'failure', 'c_abcd9999'] },
        { eventId: ids[2] as number, at: '2026-12-01T12:00:00.000Z', lexemes: ['k_job', 'success', 'p__7368'] },
      ]);
      await store.search.add([{ eventId: ids[3] as number, at: '2026-12-03T10:00:00.000Z', lexemes: ['k_deploy', 'p__7368'] }]);
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    it('remembers the last event indexed', async () => {
      expect(await store.search.lastIndexed()).toBe(ids[3]);
    });

    it('matches every group, any term of a group, newest first', async () => {
      const found = await store.search.match(match({ all: [exact('k_job', 'k_deploy')] }));
      expect(found.map((e) => e.type)).toEqual(['rollout.created', 'job.success', 'job.failure']);
      const both = await store.search.match(match({ all: [exact('k_job'), exact('p__7368')] }));
      expect(both.map((e) => e.type)).toEqual(['job.success']);
      expect(await store.search.match(match({ all: [exact('k_incident')] }))).toEqual([]);
    });

    it('matches prefixes, and phrases on the stored event', async () => {
      const byCommit = await store.search.match(match({ all: [[{ term: 'c_abcd', prefix: true }]] }));
      expect(byCommit.map((e) => e.type)).toEqual(['job.failure', 'run.created']);
      const phrase = await store.search.match(match({ all: [exact('deploy'), exact('failed')], phrases: ['deploy failed'] }));
      expect(phrase.map((e) => e.id)).toEqual([ids[0]]);
      expect(await store.search.match(match({ all: [exact('deploy')], phrases: ['failed deploy'] }))).toEqual([]);
    });

    it('limits, pages on with beforeId, and filters by time even out of id order', async () => {
      expect((await store.search.match(match({ limit: 2 }))).map((e) => e.id)).toEqual([ids[3], ids[2]]);
      expect((await store.search.match(match({ beforeId: ids[2] }))).map((e) => e.id)).toEqual([ids[1], ids[0]]);
      const window = await store.search.match(match({ since: '2026-12-01T11:00:00.000Z', until: '2026-12-02T23:00:00.000Z' }));
      expect(window.map((e) => e.type)).toEqual(['job.success', 'job.failure']);
    });

    it('gives the first id an event since a time can have, accounting for late events', async () => {
      expect(await store.search.firstIdSince('2026-12-01T11:00:00.000Z')).toBe(ids[1]);
      expect(await store.search.firstIdSince('2026-11-01T00:00:00.000Z')).toBe(ids[0]);
      expect(await store.search.firstIdSince('2027-01-01T00:00:00.000Z')).toBeNull();
    });

    it('answers the same after compacting', async () => {
      const before = await store.search.match(match({ all: [[{ term: 'c_abcd', prefix: true }]] }));
      await store.search.compact();
      expect(await store.search.match(match({ all: [[{ term: 'c_abcd', prefix: true }]] }))).toEqual(before);
    });

    it('empties, and takes the same documents again', async () => {
      await store.search.clear();
      expect(await store.search.lastIndexed()).toBe(0);
      expect(await store.search.match(match({ all: [exact('k_job')] }))).toEqual([]);
      await store.search.add([{ eventId: ids[1] as number, at: '2026-12-02T10:00:00.000Z', lexemes: ['k_job'] }]);
      expect((await store.search.match(match({ all: [exact('k_job')] }))).map((e) => e.id)).toEqual([ids[1]]);
    });
  });
}

contract('SQLite', sqliteTestDatabase, false);
contract('PostgreSQL', pgTestDatabase, !pgAvailable());
