/** The AgentStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.ts';
import type { Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`AgentStore: ${name}`, () => {
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

    it('registers agents by unique name, finds them by token hash and revokes them once', async () => {
      const a = await store.agents.create({ name: 'builder-1', tokenHash: 'h1', labels: ['linux', 'large'] });
      expect(a).toMatchObject({ name: 'builder-1', labels: ['linux', 'large'], revokedAt: null, lastSeenAt: null });
      await expect(store.agents.create({ name: 'builder-1', tokenHash: 'h2', labels: [] })).rejects.toBeInstanceOf(ConflictError);
      expect((await store.agents.findByTokenHash('h1'))?.id).toBe(a.id);
      expect(await store.agents.findByTokenHash('nope')).toBeUndefined();
      await store.agents.touch('builder-1', '2026-12-06T10:00:00.000Z');
      expect((await store.agents.findByName('builder-1'))?.lastSeenAt).toBe('2026-12-06T10:00:00.000Z');
      expect(await store.agents.revoke('builder-1', '2026-12-06T11:00:00.000Z')).toBe(true);
      expect(await store.agents.revoke('builder-1', '2026-12-06T12:00:00.000Z')).toBe(false);
      expect((await store.agents.list()).map((x) => [x.name, x.revokedAt])).toEqual([['builder-1', '2026-12-06T11:00:00.000Z']]);
    });

    it('keeps fencing tokens monotonic per job and ends an attempt only once', async () => {
      expect(await store.agents.lastFence('run-1', 'build')).toBe(0);
      await store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 1, agentId: 'a', startedAt: '2026-12-06T10:00:00.000Z' });
      await store.agents.beginAttempt({ runId: 'run-1', jobKey: 'test', fence: 1, agentId: 'b', startedAt: '2026-12-06T10:00:00.000Z' });
      await expect(
        store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 1, agentId: 'b', startedAt: '2026-12-06T10:00:01.000Z' }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await store.agents.endAttempt('run-1', 'build', 1, 'lease-lost', '2026-12-06T10:00:10.000Z')).toBe(true);
      expect(await store.agents.endAttempt('run-1', 'build', 1, 'finished', '2026-12-06T10:00:11.000Z')).toBe(false);
      await store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 2, agentId: 'b', startedAt: '2026-12-06T10:00:10.500Z' });
      await expect(
        store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 2, agentId: 'a', startedAt: '2026-12-06T10:00:12.000Z' }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await store.agents.lastFence('run-1', 'build')).toBe(2);
      expect(await store.agents.endAttempt('run-1', 'build', 2, 'finished', '2026-12-06T10:00:20.000Z')).toBe(true);
      expect((await store.agents.attempts('run-1')).map((x) => [x.jobKey, x.fence, x.agentId, x.outcome])).toEqual([
        ['build', 1, 'a', 'lease-lost'],
        ['build', 2, 'b', 'finished'],
        ['test', 1, 'b', null],
      ]);
    });
  });
}

contract('SQLite', sqliteTestDatabase, false);
contract('PostgreSQL', pgTestDatabase, !pgAvailable());
