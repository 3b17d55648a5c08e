/**
 * The SloStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL, and
 * MetricStore.after, the cursor the SLO histories read roll-ups by.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricRollup, NewEvent, Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24.0.0', host: 'test-host', configHash: 'cafe' };

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`SloStore: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;
    let projectId = '';

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
      projectId = (await store.projects.create({ name: 'slo-shop', source: { kind: 'local', path: '/srv/x' }, webhookSecret: 'w' })).id;
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    const key = (slo: string) => ({ projectId, environment: 'production', slo });

    it('starts empty, then keeps buckets, alert states, the cursor and events of one change together', async () => {
      expect(await store.slos.load()).toEqual([]);
      expect(await store.slos.cursor()).toBe(0);
      const event: NewEvent = {
        type: 'slo.alert.fired',
        subject: `environment:${projectId}/production`,
        actor: 'server',
        data: { slo: 'availability', burnRate: 20.5 },
        env: ENV,
      };
      await store.slos.apply({
        cursor: 42,
        buckets: [
          { ...key('availability'), startMs: 20_000, endMs: 30_000, good: 99.5, total: 100 },
          { ...key('availability'), startMs: 10_000, endMs: 20_000, good: 50, total: 50 },
          { ...key('latency'), startMs: 10_000, endMs: 20_000, good: 7, total: 9 },
        ],
        removed: [],
        alerts: [{ ...key('availability'), alerts: { page: { status: 'firing', sinceMs: 25_000, peakBurnRate: 20.5 } } }],
        events: [event],
      });
      const loaded = await store.slos.load();
      expect(loaded.find((r) => r.slo === 'availability')).toEqual({
        ...key('availability'),
        buckets: [
          { startMs: 10_000, endMs: 20_000, good: 50, total: 50 },
          { startMs: 20_000, endMs: 30_000, good: 99.5, total: 100 },
        ],
        alerts: { page: { status: 'firing', sinceMs: 25_000, peakBurnRate: 20.5 } },
      });
      expect(loaded.find((r) => r.slo === 'latency')?.alerts).toEqual({});
      expect(await store.slos.cursor()).toBe(42);
      const events = await store.events.list({ type: 'slo.alert.fired' });
      expect(events.map((e) => e.data)).toEqual([{ slo: 'availability', burnRate: 20.5 }]);
    });

    it('replaces a bucket by its start, removes merged ones, and keeps the cursor when a change has none', async () => {
      await store.slos.apply({
        buckets: [{ ...key('availability'), startMs: 10_000, endMs: 30_000, good: 149.5, total: 150 }],
        removed: [{ ...key('availability'), startMs: 20_000 }],
        alerts: [],
        events: [],
      });
      const record = (await store.slos.load()).find((r) => r.slo === 'availability');
      expect(record?.buckets).toEqual([{ startMs: 10_000, endMs: 30_000, good: 149.5, total: 150 }]);
      expect(await store.slos.cursor()).toBe(42);
    });

    it('stores nothing of a change that fails', async () => {
      const before = await store.slos.load();
      await expect(
        store.slos.apply({
          cursor: 99,
          buckets: [{ projectId: 'no-such-project', environment: 'production', slo: 'x', startMs: 0, endMs: 1, good: 1, total: 1 }],
          removed: [],
          alerts: [],
          events: [],
        }),
      ).rejects.toThrow();
      expect(await store.slos.load()).toEqual(before);
      expect(await store.slos.cursor()).toBe(42);
    });

    it('forgets removed SLOs, history and state', async () => {
      await store.slos.remove([key('availability')]);
      expect((await store.slos.load()).map((r) => r.slo)).toEqual(['latency']);
    });

    it('reads roll-ups after an id, in append order, with their ids', async () => {
      const rollup = (startMs: number): MetricRollup => ({
        projectId,
        environment: 'production',
        version: 'r1',
        pool: 'stable',
        startMs,
        endMs: startMs + 10_000,
        requests: 10,
        errors: 1,
        data: {},
      });
      await store.metrics.append([rollup(50_000), rollup(40_000)]);
      await store.metrics.append([rollup(60_000)]);
      const all = await store.metrics.after(0, 100);
      expect(all.map((r) => r.startMs)).toEqual([50_000, 40_000, 60_000]);
      const [first, second] = all;
      expect(await store.metrics.after(first?.id ?? 0, 1)).toEqual([second]);
    });
  });
}

contract('SQLite', sqliteTestDatabase, false);
contract('PostgreSQL', pgTestDatabase, !pgAvailable());
