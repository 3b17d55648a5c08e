/**
 * A server on PostgreSQL that loses the background-loops lease while it lives (another server
 * took it: this one was paused or cut off past the expiry) stops, so that the loops never run
 * on two servers at once; `gantry up` then exits non-zero (src/cli/commands/up.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BACKGROUND_LEASE } from '../../../src/server/start.ts';
import { openStore } from '../../../src/store/index.ts';
import { pgAvailable, pgTestDatabase, type TestDatabase } from '../../support/databases.ts';
import { startTestServer, type TestServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';

describe.skipIf(!pgAvailable())('losing the background-loops lease', () => {
  let database: TestDatabase | null = null;
  let server: TestServer | null = null;
  afterAll(async () => {
    await server?.cleanup();
    await database?.cleanup();
  });

  it('stops the server that lost it', async () => {
    database = await pgTestDatabase();
    server = await startTestServer({ options: { store: database!.url, leaseMs: 1_000 } });
    expect((await server.store.leases.get(BACKGROUND_LEASE))?.holderUrl).toBe(server.url);
    const other = await openStore({ url: database!.url });
    try {
      // Another server whose clock is past the expiry takes the lease.
      const stolen = await other.leases.claim({
        name: BACKGROUND_LEASE,
        holder: 'another-server',
        holderUrl: 'http://another.test',
        nowMs: Date.now() + 60_000,
        ttlMs: 60_000,
      });
      expect(stolen.granted).toBe(true);
      let lost = false;
      void server.leaseLost.then(() => {
        lost = true;
      });
      await waitFor(() => lost, { what: 'the server to notice the lost lease and stop', timeoutMs: 10_000 });
      const health = await fetch(`${server.url}/api/health`).then(
        (r) => r.status,
        () => 'closed',
      );
      expect(health).toBe('closed');
      expect((await other.leases.get(BACKGROUND_LEASE))?.holder).toBe('another-server');
    } finally {
      await other.close();
    }
  });
});
