/**
 * The EstateStore and ProtectionStore contracts (src/store/ports.ts) on SQLite and PostgreSQL: an
 * apply is one transaction (a write that fails takes every other write and the event with it),
 * approvals are unique per person, and a deploy waits for approvals once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.ts';
import type { Project, Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`EstateStore and ProtectionStore: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;
    let shop: Project;

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
      shop = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    const applied = { type: 'platform.applied', subject: 'platform', actor: 'user:ops', data: {}, env: ENV };

    it('applies grants, groups (creating their users), protection and policies with the event, and reads them back', async () => {
      await store.estate.apply(
        {
          grants: [{ subject: 'group:release', role: 'maintainer', project: 'shop', environment: 'production' }],
          revokedGrants: [],
          groups: [{ group: 'release', members: ['alice', 'bob'] }],
          protections: [{ projectId: shop.id, environment: 'production', protection: { approvals: { count: 2, group: 'release' } } }],
          channels: [],
          policies: [{ projectId: shop.id, policy: '{"block":["critical"]}' }],
          actor: 'user:ops',
        },
        [applied],
      );
      const snapshot = await store.estate.snapshot();
      expect(snapshot.grants).toEqual([
        expect.objectContaining({ subject: 'group:release', role: 'maintainer', environment: 'production' }),
      ]);
      expect(snapshot.groups).toEqual([
        { group: 'release', user: 'alice' },
        { group: 'release', user: 'bob' },
      ]);
      expect(await store.protection.get(shop.id, 'production')).toEqual({ approvals: { count: 2, group: 'release' } });
      expect(snapshot.policies).toEqual([{ projectId: shop.id, policy: '{"block":["critical"]}' }]);
      expect(await store.events.list({ type: 'platform.applied' })).toHaveLength(1);
    });

    it('writes nothing when one write fails', async () => {
      const before = await store.estate.snapshot();
      await expect(
        store.estate.apply(
          {
            grants: [{ subject: 'user:mallory', role: 'admin', project: 'shop', environment: null }],
            revokedGrants: [{ subject: 'group:release', project: 'shop', environment: 'production' }],
            groups: [{ group: 'release', members: [] }],
            // No such project: the foreign key refuses it, after every other write was made.
            protections: [{ projectId: 'no-such-project', environment: 'production', protection: { approvals: { count: 1 } } }],
            channels: [],
            policies: [],
            actor: 'user:ops',
          },
          [applied],
        ),
      ).rejects.toThrow();
      expect(await store.estate.snapshot()).toEqual(before);
      expect(await store.events.list({ type: 'platform.applied' })).toHaveLength(1);
    });

    it('keeps one waiting deploy per release and one approval per person', async () => {
      const request = {
        projectId: shop.id,
        environment: 'production',
        releaseId: 'r1',
        requestedBy: 'user:alice',
        requestedAt: '2026-01-01T00:00:00.000Z',
      };
      expect(await store.protection.request(request, [])).toBe(true);
      expect(await store.protection.request({ ...request, requestedBy: 'user:carol' }, [])).toBe(false);
      expect(await store.protection.requests(shop.id)).toEqual([request]);
      const approval = { projectId: shop.id, environment: 'production', releaseId: 'r1', by: 'user:bob', at: '2026-01-01T00:01:00.000Z' };
      await store.protection.approve(approval, []);
      await expect(store.protection.approve(approval, [])).rejects.toBeInstanceOf(ConflictError);
      expect(await store.protection.approvals(shop.id, 'production', 'r1')).toEqual([approval]);
      await store.protection.closeRequest(shop.id, 'production', 'r1', []);
      expect(await store.protection.requests(shop.id)).toEqual([]);
    });
  });
}

contract('SQLite', sqliteTestDatabase, false);
contract('PostgreSQL', pgTestDatabase, !pgAvailable());
