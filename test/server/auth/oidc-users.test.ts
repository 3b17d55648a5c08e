/**
 * The Gantry user behind an OIDC identity, on a real SQLite store: the first sign-in creates the
 * person, a later one keeps the name but takes the display name and e-mail the provider gives
 * now, and a claim the provider leaves out keeps what Gantry has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userOfIdentity } from '../../../src/server/auth/oidc-users.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';

const identity = {
  issuer: 'https://idp.example.test',
  subject: 'u-42',
  username: 'maria',
  displayName: 'Maria Lopez',
  email: 'maria@old.example.test',
  groups: ['developers'],
};

describe('userOfIdentity', () => {
  let database: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.cleanup();
  });

  it('updates the name shown and the e-mail on later sign-ins, never the user name', async () => {
    const first = await userOfIdentity(store, identity);
    expect(first).toMatchObject({ created: true, user: { name: 'maria', displayName: 'Maria Lopez', email: 'maria@old.example.test' } });

    const later = await userOfIdentity(store, {
      ...identity,
      username: 'maria.g',
      displayName: 'Maria García',
      email: 'maria@new.example.test',
    });
    expect(later).toMatchObject({ created: false, user: { name: 'maria', displayName: 'Maria García', email: 'maria@new.example.test' } });
    expect(await store.access.findUser('maria')).toMatchObject({ displayName: 'Maria García', email: 'maria@new.example.test' });

    await userOfIdentity(store, { ...identity, displayName: undefined, email: undefined });
    expect(await store.access.findUser('maria')).toMatchObject({ displayName: 'Maria García', email: 'maria@new.example.test' });
  });
});
