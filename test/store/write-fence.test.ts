/**
 * A fenced view of the store (Store.fenced, src/store/write-fence.ts) on PostgreSQL: its writes —
 * in a transaction or alone — commit while the fence's lease token is current and are refused
 * with LEASE_FENCED once another holder took the lease; reads pass; a fence with no token checks
 * nothing. On SQLite the view is the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseClaim, Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

const claim = (holder: string, nowMs: number): LeaseClaim => ({
  name: 'loops',
  holder,
  holderUrl: `http://${holder}.test`,
  nowMs,
  ttlMs: 5_000,
});
const event = (subject: string) => ({
  type: 'test.write',
  subject,
  actor: 'test',
  data: {},
  env: { gantryVersion: 'test', nodeVersion: 'test', host: 'test' },
});

describe.skipIf(!pgAvailable())('fenced writes on PostgreSQL', () => {
  let database: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    database = (await pgTestDatabase())!;
    store = await openStore({ url: database.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.cleanup();
  });

  it('commits writes while the token is current and refuses them once the lease changed hands', async () => {
    expect(await store.leases.claim(claim('old', 1_000))).toMatchObject({ granted: true, lease: { token: 1 } });
    const oldOwner = store.fenced({ lease: 'loops', token: () => 1 });
    await oldOwner.events.append(event('before'));
    const project = await oldOwner.projects.create({ name: 'fenced', source: { kind: 'local', path: '/srv/repo' }, webhookSecret: 'w' });

    expect(await store.leases.claim(claim('new', 7_000))).toMatchObject({ granted: true, lease: { token: 2 } });
    // In a transaction (events) and alone (a secret's upsert): both refused, nothing stored.
    await expect(oldOwner.events.append(event('after'))).rejects.toMatchObject({ code: 'LEASE_FENCED' });
    await expect(oldOwner.secrets.set(project.id, 'KEY', 'sealed')).rejects.toMatchObject({ code: 'LEASE_FENCED' });
    expect(await store.secrets.all(project.id)).toEqual({});
    expect((await store.events.list({ subjectPrefix: 'after' })).length).toBe(0);
    // Reads still answer; the new owner's view and an unfenced one write.
    expect((await oldOwner.events.list({ subjectPrefix: 'before' })).length).toBe(1);
    await store.fenced({ lease: 'loops', token: () => 2 }).events.append(event('after'));
    await store.fenced({ lease: 'loops', token: () => null }).secrets.set(project.id, 'KEY', 'sealed');
    expect(await store.secrets.all(project.id)).toEqual({ KEY: 'sealed' });
  });
});

describe('fenced writes on SQLite', () => {
  it('are the store itself: one server owns the file', async () => {
    const database = await sqliteTestDatabase();
    const store = await openStore({ url: database.url });
    try {
      expect(store.fenced({ lease: 'loops', token: () => 7 })).toBe(store);
    } finally {
      await store.close();
      await database.cleanup();
    }
  });
});
