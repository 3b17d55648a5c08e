/**
 * The event-log query behind the replay of a missed slot (src/server/chaos/scheduled-starts.ts),
 * on a real SQLite file and on PostgreSQL: only the schedule's starts of that experiment in that
 * very environment count, the newest wins, and a store without one says never.
 */
import { expect, it } from 'vitest';
import { lastScheduledStart } from '../../../src/server/chaos/scheduled-starts.ts';
import { describeOnEachStore } from '../../support/store-contract.ts';

const ENV = { gantryVersion: 'test', nodeVersion: process.version, host: 'test' };

describeOnEachStore('lastScheduledStart', (db) => {
  const started = (subject: string, actor: string, experiment: string, at: string) =>
    db.store.events.append({
      type: 'experiment.started',
      subject,
      actor,
      at,
      data: { experimentId: `${experiment}-${at}`, name: experiment },
      env: ENV,
    });

  it('is null when the schedule never started the experiment there', async () => {
    expect(await lastScheduledStart(db.store.events, 'p0', 'prod', 'game-day')).toBeNull();
  });

  it("returns the schedule's newest start of that experiment in that environment, ignoring the rest", async () => {
    await started('environment:p1/prod', 'schedule', 'game-day', '2026-12-01T09:00:00.000Z');
    await started('environment:p1/prod', 'schedule', 'game-day', '2026-12-02T09:00:00.000Z');
    // Newer, but not a scheduled start of game-day in p1/prod: a run by hand, another
    // experiment, an environment whose subject starts with `prod`, another project.
    await started('environment:p1/prod', 'user:alice', 'game-day', '2026-12-03T09:00:00.000Z');
    await started('environment:p1/prod', 'schedule', 'monkey', '2026-12-03T10:00:00.000Z');
    await started('environment:p1/prod-eu', 'schedule', 'game-day', '2026-12-03T11:00:00.000Z');
    await started('environment:p10/prod', 'schedule', 'game-day', '2026-12-03T12:00:00.000Z');
    await db.store.events.append({
      type: 'experiment.finished',
      subject: 'environment:p1/prod',
      actor: 'schedule',
      at: '2026-12-03T13:00:00.000Z',
      data: { experimentId: 'x', name: 'game-day' },
      env: ENV,
    });

    expect(await lastScheduledStart(db.store.events, 'p1', 'prod', 'game-day')).toBe(Date.parse('2026-12-02T09:00:00.000Z'));
    expect(await lastScheduledStart(db.store.events, 'p1', 'prod', 'monkey')).toBe(Date.parse('2026-12-03T10:00:00.000Z'));
    expect(await lastScheduledStart(db.store.events, 'p1', 'prod-eu', 'game-day')).toBe(Date.parse('2026-12-03T11:00:00.000Z'));
    expect(await lastScheduledStart(db.store.events, 'p1', 'staging', 'game-day')).toBeNull();
  });
});
