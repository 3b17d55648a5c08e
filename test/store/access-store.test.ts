/** The AccessStore and TokenStore contracts (src/store/ports.ts) on a SQLite file and on PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.ts';
import type { Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`AccessStore and TokenStore: ${name}`, () => {
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

    it('keeps users unique by name and by identity-provider subject', async () => {
      const alice = await store.access.createUser({
        name: 'alice',
        kind: 'person',
        displayName: 'Alice',
        email: 'a@example.test',
        externalId: 'https://idp|1',
      });
      expect(alice).toMatchObject({ name: 'alice', kind: 'person', email: 'a@example.test', disabledAt: null });
      await expect(store.access.createUser({ name: 'alice', kind: 'person', displayName: 'Other' })).rejects.toBeInstanceOf(ConflictError);
      await expect(
        store.access.createUser({ name: 'alice2', kind: 'person', displayName: 'A', externalId: 'https://idp|1' }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect((await store.access.findUserByExternalId('https://idp|1'))?.name).toBe('alice');
      await store.access.createUser({ name: 'deploy-bot', kind: 'service', displayName: 'Deploy bot' });
      expect((await store.access.listUsers()).map((u) => [u.name, u.kind])).toEqual([
        ['alice', 'person'],
        ['deploy-bot', 'service'],
      ]);
      expect(await store.access.setUserDisabled('alice', '2026-12-06T00:00:00.000Z')).toBe(true);
      expect((await store.access.findUser('alice'))?.disabledAt).toBe('2026-12-06T00:00:00.000Z');
      expect(await store.access.setUserDisabled('nobody', null)).toBe(false);
    });

    it('updates a user’s display name and e-mail, leaving out what is not given', async () => {
      await store.access.createUser({
        name: 'dora',
        kind: 'person',
        displayName: 'Dora',
        email: 'dora@old.test',
        externalId: 'https://idp|9',
      });
      expect(await store.access.updateUser('dora', { displayName: 'Dora Explorer' })).toBe(true);
      expect(await store.access.findUser('dora')).toMatchObject({ displayName: 'Dora Explorer', email: 'dora@old.test' });
      expect(await store.access.updateUser('dora', { email: 'dora@new.test' })).toBe(true);
      expect(await store.access.findUserByExternalId('https://idp|9')).toMatchObject({
        name: 'dora',
        displayName: 'Dora Explorer',
        email: 'dora@new.test',
      });
      expect(await store.access.updateUser('dora', { email: null })).toBe(true);
      expect((await store.access.findUser('dora'))?.email).toBeNull();
      expect(await store.access.updateUser('dora', {})).toBe(true);
      expect(await store.access.updateUser('nobody', { displayName: 'X' })).toBe(false);
      expect(await store.access.updateUser('nobody', {})).toBe(false);
    });

    it('replaces a user’s groups as a whole', async () => {
      await store.access.createUser({ name: 'bob', kind: 'person', displayName: 'Bob' });
      await store.access.setGroups('bob', ['sre', 'dev', 'sre']);
      expect(await store.access.groupsOf('bob')).toEqual(['dev', 'sre']);
      await store.access.setGroups('bob', ['dev']);
      expect(await store.access.groupsOf('bob')).toEqual(['dev']);
      expect(await store.access.membersOf('dev')).toEqual(['bob']);
    });

    it('holds one role per subject and scope, and finds the grants of several subjects', async () => {
      await store.access.grant({ subject: 'user:carol', role: 'developer', project: 'shop', environment: null, createdBy: 'admin' });
      await store.access.grant({ subject: 'user:carol', role: 'maintainer', project: 'shop', environment: null, createdBy: 'admin' });
      await store.access.grant({
        subject: 'group:sre',
        role: 'maintainer',
        project: 'shop',
        environment: 'production',
        createdBy: 'admin',
      });
      await store.access.grant({ subject: 'user:carol', role: 'viewer', project: null, environment: null, createdBy: 'admin' });
      const grants = await store.access.grantsOf(['user:carol', 'group:sre']);
      expect(grants.map((g) => [g.subject, g.role, g.project, g.environment])).toEqual([
        ['group:sre', 'maintainer', 'shop', 'production'],
        ['user:carol', 'viewer', null, null],
        ['user:carol', 'maintainer', 'shop', null],
      ]);
      expect((await store.access.listGrants({ project: 'shop' })).length).toBe(2);
      expect(await store.access.revokeGrant('user:carol', 'shop', null)).toBe(true);
      expect(await store.access.revokeGrant('user:carol', 'shop', null)).toBe(false);
      expect(await store.access.grantsOf([])).toEqual([]);
    });

    it('finds a user’s groups and every grant it holds, itself or through them, and no one else’s', async () => {
      await store.access.createUser({ name: 'erin', kind: 'person', displayName: 'Erin' });
      await store.access.createUser({ name: 'frank', kind: 'person', displayName: 'Frank' });
      await store.access.setGroups('erin', ['web', 'db']);
      await store.access.setGroups('frank', ['ops']);
      const grant = (subject: string, role: string, project: string | null, environment: string | null = null) =>
        store.access.grant({ subject, role, project, environment, createdBy: 'admin' });
      await grant('user:erin', 'viewer', null);
      await grant('user:erin', 'developer', 'cart', 'staging');
      await grant('group:web', 'maintainer', 'cart');
      await grant('group:db', 'developer', 'ledger', 'production');
      await grant('group:ops', 'admin', null);
      await grant('user:frank', 'viewer', 'cart');
      // A subject that only looks like one of erin's: `user:erin2`, and a group erin is not in.
      await grant('user:erin2', 'admin', null);
      await grant('group:webmasters', 'admin', null);
      const { groups, grants } = await store.access.holdingsOf('erin');
      expect(groups).toEqual(['db', 'web']);
      expect(grants.map((g) => [g.subject, g.role, g.project, g.environment])).toEqual([
        ['group:db', 'developer', 'ledger', 'production'],
        ['group:web', 'maintainer', 'cart', null],
        ['user:erin', 'viewer', null, null],
        ['user:erin', 'developer', 'cart', 'staging'],
      ]);
      expect(grants).toEqual(await store.access.grantsOf(['user:erin', 'group:db', 'group:web']));
      expect(await store.access.holdingsOf('nobody')).toEqual({ groups: [], grants: [] });
    });

    it('stores a token’s owner, scopes and expiry, and revokes it once', async () => {
      const t = await store.tokens.create({
        name: 'ci',
        hash: 'h-ci',
        owner: 'deploy-bot',
        scopes: ['read', 'run.trigger'],
        expiresAt: '2027-01-01T00:00:00.000Z',
      });
      expect(await store.tokens.findByHash('h-ci')).toEqual(t);
      expect((await store.tokens.listByOwner('deploy-bot')).map((x) => x.id)).toEqual([t.id]);
      expect(await store.tokens.revoke(t.id, '2026-12-06T00:00:00.000Z')).toBe(true);
      expect(await store.tokens.revoke(t.id, '2026-12-07T00:00:00.000Z')).toBe(false);
      expect((await store.tokens.findById(t.id))?.revokedAt).toBe('2026-12-06T00:00:00.000Z');
      const plain = await store.tokens.create({ name: 'admin', hash: 'h-admin' });
      expect(plain).toMatchObject({ owner: null, scopes: null, expiresAt: null, revokedAt: null });
    });
  });
}

contract('SQLite', sqliteTestDatabase, false);
contract('PostgreSQL', pgTestDatabase, !pgAvailable());
