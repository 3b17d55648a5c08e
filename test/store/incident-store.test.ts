/** The IncidentStore and NotificationStore contracts (src/store/ports.ts) on a SQLite file and on PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import type { Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24.0.0', host: 'test-host' };

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`IncidentStore and NotificationStore: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;
    let projectId = '';

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
      projectId = (await store.projects.create({ name: 'inc-shop', source: { kind: 'local', path: '/srv/x' }, webhookSecret: 'w' })).id;
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    const fields = (id: string, alertKey: string | null): Omit<Incident, 'number'> => ({
      id,
      projectId,
      environment: 'production',
      title: 'down',
      severity: 'sev2',
      state: 'open',
      owner: null,
      alertKey,
      openedBy: 'alert',
      openedAt: 1_700_000_000_000,
      acknowledgedAt: null,
      mitigatedAt: null,
      resolvedAt: null,
    });

    it('numbers incidents per project, stores their events and the consumer cursor with them', async () => {
      const opened = { type: 'incident.opened', subject: `environment:${projectId}/production`, actor: 'alert', data: {}, env: ENV };
      const first = await store.incidents.open(fields('i1', 'production/a/page'), [opened], { name: 'incidents', eventId: 17 });
      const second = await store.incidents.open(fields('i2', null), [opened]);
      expect([first.number, second.number]).toEqual([1, 2]);
      expect(await store.incidents.cursor('incidents')).toBe(17);
      expect(await store.incidents.cursor('other')).toBe(0);
      expect((await store.events.list({ type: 'incident.opened' })).map((e) => e.data.number)).toEqual([1, 2]);
      expect(await store.incidents.byNumber(projectId, 1)).toEqual(first);
      expect((await store.incidents.openForAlert(projectId, 'production/a/page'))?.id).toBe('i1');
    });

    it('saves lifecycle changes and notes; a resolved incident no longer covers its alert', async () => {
      const incident = (await store.incidents.get('i1')) as Incident;
      await store.incidents.save({ ...incident, state: 'resolved', owner: 'alice', acknowledgedAt: 1, mitigatedAt: 2, resolvedAt: 3 }, []);
      await store.incidents.addNote('i1', { at: 5, author: 'alice', text: 'ü & <b>' }, []);
      expect(await store.incidents.get('i1')).toMatchObject({ state: 'resolved', owner: 'alice', resolvedAt: 3 });
      expect(await store.incidents.notes('i1')).toEqual([{ at: 5, author: 'alice', text: 'ü & <b>' }]);
      expect(await store.incidents.openForAlert(projectId, 'production/a/page')).toBeUndefined();
      expect((await store.incidents.list({ projectId, states: ['open'], limit: 10 })).map((i) => i.id)).toEqual(['i2']);
      await store.incidents.setCursor('incidents', 20);
      expect(await store.incidents.cursor('incidents')).toBe(20);
    });

    it('queues a delivery once per idempotency key, with its cursor, and records attempts', async () => {
      await store.notifications.addChannel({
        id: 'c1',
        projectId: null,
        name: 'ops',
        kind: 'webhook',
        targetCiphertext: 'enc-url',
        secretCiphertext: 'enc-secret',
        routes: { events: ['slo.alert.*'] },
      });
      await expect(
        store.notifications.addChannel({
          id: 'c2',
          projectId: null,
          name: 'ops',
          kind: 'slack',
          targetCiphertext: 'x',
          secretCiphertext: null,
          routes: { events: ['a'] },
        }),
      ).rejects.toThrow("a channel named 'ops' exists already");
      const delivery = {
        channelId: 'c1',
        eventId: 9,
        idempotencyKey: 'c1:9',
        nextAttemptMs: 100,
        payload: { type: 'slo.alert.fired' },
        createdAt: '2026-12-06T10:00:00.000Z',
      };
      await store.notifications.enqueue(9, [delivery]);
      await store.notifications.enqueue(9, [delivery]);
      expect(await store.notifications.cursor()).toBe(9);
      expect(await store.notifications.due(99, 10)).toEqual([]);
      const [due] = await store.notifications.due(100, 10);
      expect(due).toMatchObject({ idempotencyKey: 'c1:9', status: 'pending', attempts: 0 });
      await store.notifications.record(due?.id ?? 0, { status: 'pending', attempts: 1, nextAttemptMs: 5000, error: 'HTTP 503', at: 'x' });
      await store.notifications.record(due?.id ?? 0, { status: 'delivered', attempts: 2, at: '2026-12-06T10:01:00.000Z' });
      expect(await store.notifications.deliveries({ limit: 10 })).toEqual([
        expect.objectContaining({ status: 'delivered', attempts: 2, lastError: null, deliveredAt: '2026-12-06T10:01:00.000Z' }),
      ]);
      expect(await store.notifications.removeChannel('c1')).toBe(true);
      expect(await store.notifications.deliveries({ limit: 10 })).toEqual([]);
    });
  });
}

contract('SQLite', sqliteTestDatabase, false);
contract('PostgreSQL', pgTestDatabase, !pgAvailable());
