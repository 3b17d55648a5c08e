/** openStore's URL handling and its STORE_UNAVAILABLE errors, which must say what failed and where. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, parseStoreUrl, StoreUnavailableError } from '../../src/store/index.ts';
import { PG_URL } from '../support/requirements.ts';
import { pgAvailable } from '../support/databases.ts';

/** The error a promise rejects with; fails the test when it resolves instead. */
async function rejectionOf(promise: Promise<unknown>): Promise<StoreUnavailableError> {
  try {
    await promise;
  } catch (err) {
    return err as StoreUnavailableError;
  }
  throw new Error('expected the promise to reject');
}

describe('parseStoreUrl', () => {
  it('reads SQLite URLs and bare paths as files', () => {
    expect(parseStoreUrl('sqlite:/var/lib/gantry/gantry.db')).toEqual({ dialect: 'sqlite', path: '/var/lib/gantry/gantry.db' });
    expect(parseStoreUrl('sqlite:///var/lib/gantry.db')).toEqual({ dialect: 'sqlite', path: '/var/lib/gantry.db' });
    expect(parseStoreUrl('sqlite:data/gantry.db')).toEqual({ dialect: 'sqlite', path: resolve('data/gantry.db') });
    expect(parseStoreUrl('/srv/gantry.db')).toEqual({ dialect: 'sqlite', path: '/srv/gantry.db' });
    expect(parseStoreUrl('sqlite::memory:')).toEqual({ dialect: 'sqlite', path: ':memory:' });
  });

  it('reads PostgreSQL URLs and keeps the password out of the display form', () => {
    const parsed = parseStoreUrl('postgres://gantry:s3cret@db.internal:6543/ci');
    expect(parsed).toEqual({ dialect: 'postgres', url: 'postgres://gantry:s3cret@db.internal:6543/ci', display: 'db.internal:6543/ci' });
    expect(parseStoreUrl('postgresql://u@h/d')).toMatchObject({ dialect: 'postgres', display: 'h:5432/d' });
  });

  it('refuses other schemes and an empty SQLite path', () => {
    expect(() => parseStoreUrl('mysql://u:p@h/d')).toThrow(StoreUnavailableError);
    expect(() => parseStoreUrl('mysql://u:p@h/d')).toThrow(/unsupported store URL scheme in "mysql:\/\/…"/);
    expect(() => parseStoreUrl('sqlite:')).toThrow(/names no file/);
  });
});

describe('openStore', () => {
  it('works in memory for throwaway use', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    try {
      const p = await store.projects.create({ name: 'm', source: { kind: 'local', path: '/m' }, webhookSecret: '' });
      expect(await store.projects.get('m')).toEqual(p);
    } finally {
      await store.close();
    }
  });

  it('says it cannot connect to PostgreSQL at host:port, without the password', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const err = await rejectionOf(openStore({ url: 'postgres://gantry:hunter2@127.0.0.1:1/gantry' }));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err.code).toBe('STORE_UNAVAILABLE');
    expect(err.httpStatus).toBe(503);
    expect(err.message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1\/gantry: .*ECONNREFUSED/);
    expect(err.message).not.toContain('hunter2');
  });

  it.skipIf(!pgAvailable())('says so when PostgreSQL refuses the credentials', async () => {
    const url = new URL(PG_URL);
    url.password = 'definitely-wrong-password';
    const err = await rejectionOf(openStore({ url: url.toString() }));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err.message).toMatch(/^cannot connect to PostgreSQL at .*: .*password authentication failed/);
    expect(err.message).not.toContain('definitely-wrong-password');
  });
});
