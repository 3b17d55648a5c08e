/** The AgentStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL. */
import { expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.ts';
import { describeOnEachStore } from '../support/store-contract.ts';

describeOnEachStore('AgentStore', (db) => {
  it('registers agents by unique name, finds them by token hash and revokes them once', async () => {
    const a = await db.store.agents.create({ name: 'builder-1', tokenHash: 'h1', labels: ['linux', 'large'] });
    expect(a).toMatchObject({ name: 'builder-1', labels: ['linux', 'large'], revokedAt: null, lastSeenAt: null });
    await expect(db.store.agents.create({ name: 'builder-1', tokenHash: 'h2', labels: [] })).rejects.toBeInstanceOf(ConflictError);
    expect((await db.store.agents.findByTokenHash('h1'))?.id).toBe(a.id);
    expect(await db.store.agents.findByTokenHash('nope')).toBeUndefined();
    await db.store.agents.touch('builder-1', '2026-12-06T10:00:00.000Z');
    expect((await db.store.agents.findByName('builder-1'))?.lastSeenAt).toBe('2026-12-06T10:00:00.000Z');
    expect(await db.store.agents.revoke('builder-1', '2026-12-06T11:00:00.000Z')).toBe(true);
    expect(await db.store.agents.revoke('builder-1', '2026-12-06T12:00:00.000Z')).toBe(false);
    expect((await db.store.agents.list()).map((x) => [x.name, x.revokedAt])).toEqual([['builder-1', '2026-12-06T11:00:00.000Z']]);
  });

  it('keeps fencing tokens monotonic per job and ends an attempt only once', async () => {
    expect(await db.store.agents.lastFence('run-1', 'build')).toBe(0);
    await db.store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 1, agentId: 'a', startedAt: '2026-12-06T10:00:00.000Z' });
    await db.store.agents.beginAttempt({ runId: 'run-1', jobKey: 'test', fence: 1, agentId: 'b', startedAt: '2026-12-06T10:00:00.000Z' });
    await expect(
      db.store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 1, agentId: 'b', startedAt: '2026-12-06T10:00:01.000Z' }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await db.store.agents.endAttempt('run-1', 'build', 1, 'lease-lost', '2026-12-06T10:00:10.000Z')).toBe(true);
    expect(await db.store.agents.endAttempt('run-1', 'build', 1, 'finished', '2026-12-06T10:00:11.000Z')).toBe(false);
    await db.store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 2, agentId: 'b', startedAt: '2026-12-06T10:00:10.500Z' });
    await expect(
      db.store.agents.beginAttempt({ runId: 'run-1', jobKey: 'build', fence: 2, agentId: 'a', startedAt: '2026-12-06T10:00:12.000Z' }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await db.store.agents.lastFence('run-1', 'build')).toBe(2);
    expect(await db.store.agents.endAttempt('run-1', 'build', 2, 'finished', '2026-12-06T10:00:20.000Z')).toBe(true);
    expect((await db.store.agents.attempts('run-1')).map((x) => [x.jobKey, x.fence, x.agentId, x.outcome])).toEqual([
      ['build', 1, 'a', 'lease-lost'],
      ['build', 2, 'b', 'finished'],
      ['test', 1, 'b', null],
    ]);
  });
});
