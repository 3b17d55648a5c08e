/**
 * A server frozen inside a transaction (SIGSTOP, a VM paused, a stalled event loop) must not hold
 * the other servers up for ever. Every claim of the loops' lease reads its row FOR UPDATE, and so
 * does every renewal: a holder stopped between the read and the commit keeps the row locked, and
 * before PostgreSQL ended such sessions the next claim waited until the frozen process woke. A real
 * process renewing in a loop (its sessions ended after 1 s idle in a transaction instead of the
 * default 10 s) is stopped until PostgreSQL shows it idle in a transaction holding the row.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.ts';
import { pgAvailable, pgTestDatabase, type TestDatabase } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';

describe.skipIf(!pgAvailable())('a lease holder frozen inside a transaction', () => {
  let database: TestDatabase;
  let store: Store;
  let holder: ChildProcess | undefined;
  let watcher: pg.Client;

  beforeAll(async () => {
    database = (await pgTestDatabase())!;
    store = await openStore({ url: database.url });
    watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
  });
  afterAll(async () => {
    if (holder?.pid !== undefined && holder.exitCode === null) {
      process.kill(holder.pid, 'SIGCONT');
      process.kill(holder.pid, 'SIGKILL');
    }
    await watcher?.end();
    await store?.close();
    await database?.cleanup();
  });

  it('loses its session, so another server takes the lease over once it expired', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'renew-forever.ts'), database.url, '1000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    holder = child;
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    await waitFor(() => output.includes('ready'), { what: 'the holder to claim the lease', timeoutMs: 30_000 });
    const pid = child.pid as number;
    // Stopped until the stop lands inside a renewal that holds the lease row (FOR UPDATE, then UPDATE).
    const holdingTheRow = async () =>
      (
        await watcher.query<{ n: string }>(
          `select count(*) as n from pg_stat_activity a
             join pg_locks l on l.pid = a.pid join pg_class c on c.oid = l.relation
           where a.datname = current_database() and a.state = 'idle in transaction'
             and c.relname = 'leases' and l.mode in ('RowShareLock', 'RowExclusiveLock')`,
        )
      ).rows[0]?.n !== '0';
    await waitFor(
      async () => {
        process.kill(pid, 'SIGSTOP');
        if (await holdingTheRow()) return true;
        process.kill(pid, 'SIGCONT');
        return false;
      },
      { what: 'a stop inside a renewal', timeoutMs: 30_000, intervalMs: 1 },
    );
    const claim = store.leases.claim({
      name: 'loops',
      holder: 'next',
      holderUrl: 'http://next.test',
      nowMs: Date.now() + 60_000,
      ttlMs: 5_000,
    });
    const outcome = await Promise.race([claim, new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 20_000))]);
    expect(outcome, 'the claim waited for the frozen holder').not.toBe('blocked');
    expect(outcome).toMatchObject({ granted: true, lease: { holder: 'next' } });
    // Woken, the holder finds its session gone: that renewal fails, the process carries on.
    process.kill(pid, 'SIGCONT');
    const stderr: string[] = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
    await waitFor(() => output.includes('answered after a failure') || child.exitCode !== null, {
      what: 'the woken holder to renew again',
      timeoutMs: 30_000,
    }).catch((error: Error) => {
      // What the holder said since it was woken: why its renewals kept failing, or that none ended.
      throw new Error(
        `${error.message}; the holder printed: ${JSON.stringify(output.slice(-2000))}, stderr ${JSON.stringify(stderr.join('').slice(-2000))}`,
      );
    });
    expect(child.exitCode, 'the woken holder crashed').toBeNull();
  }, 60_000);
});
