/**
 * Failover of the background loops between two `gantry up` on one PostgreSQL: kill -9 of the
 * server that holds the `background-loops` lease, then the time until the survivor took the
 * lease and started the loops (its `server.lease.acquired` event, appended just before they
 * start), against the lease period in the same run (`GANTRY_LEASE_MS`): the floor of any
 * lease-based takeover is the expiry, so the ratio says how close to it the survivor comes (1.0 =
 * the instant the lease expired; the claim interval, a fifth of the lease, bounds it at ~1.2).
 * The killed server is started again as a follower and the roles alternate, `KILLS` times.
 *
 * PostgreSQL: `GANTRY_BENCH_PG_URL` (a database is created there and dropped), else a throwaway
 * cluster where PostgreSQL is installed (test/support/global-setup.ts).
 */
import { copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayPostgres } from '../test/support/global-setup.ts';
import { atCleanup, benchMain, progress, round, type ServerHandle, spread, startServer, tempDir, waitFor } from './lib.ts';

const LEASE_MS = Number(process.env.LEASE_MS ?? 5_000);
const KILLS = Number(process.env.KILLS ?? 3);

interface LeaseEvent {
  id: number;
  at: string;
  data: { url?: string; token?: number };
}

async function database(): Promise<string> {
  let adminUrl = process.env.GANTRY_BENCH_PG_URL ?? '';
  if (adminUrl === '') {
    const cluster = await startThrowawayPostgres();
    if (cluster === null) throw new Error('no PostgreSQL: set GANTRY_BENCH_PG_URL or install PostgreSQL');
    atCleanup(() => cluster.stop());
    adminUrl = cluster.url;
  }
  const name = `gantry_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  atCleanup(async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const leaseEvents = (s: ServerHandle) => s.api<{ events: LeaseEvent[] }>('GET', '/api/events?type=server.lease.acquired');

await benchMain('failover', 120_000 + KILLS * (LEASE_MS + 20_000), async () => {
  const store = await database();
  const runtimeDir = await tempDir('failover-runtime');
  const dirs = [await tempDir('failover-a'), await tempDir('failover-b')];
  const env = {
    ...process.env,
    GANTRY_STORE: store,
    GANTRY_RUNTIME_DIR: runtimeDir,
    GANTRY_LEASE_MS: String(LEASE_MS),
    GANTRY_SANDBOX: 'off',
    GANTRY_LOG_LEVEL: 'warn',
  };
  const servers: ServerHandle[] = [await startServer({ dataDir: dirs[0]!, env })];
  for (const file of ['secret.key', 'admin.token']) copyFileSync(join(dirs[0]!, file), join(dirs[1]!, file));
  servers.push(await startServer({ dataDir: dirs[1]!, env }));
  let owner = 0;
  const takeovers: number[] = [];
  for (let kill = 0; kill < KILLS; kill++) {
    const survivor = servers[1 - owner]!;
    const seen = (await leaseEvents(survivor)).events.length;
    progress(`kill -9 of the owner (${servers[owner]!.url}), #${kill + 1} of ${KILLS}`);
    const killedAt = Date.now();
    process.kill(servers[owner]!.pid, 'SIGKILL');
    const took = await waitFor(
      'the survivor to take the lease',
      async () => (await leaseEvents(survivor)).events.slice(seen).find((e) => e.data.url === survivor.url),
      LEASE_MS * 3 + 10_000,
      20,
    );
    takeovers.push(Date.parse(took.at) - killedAt);
    progress(`taken over after ${takeovers.at(-1)} ms`);
    await servers[owner]!.stop();
    servers[owner] = await startServer({ dataDir: dirs[owner]!, env });
    owner = 1 - owner;
  }
  for (const server of servers) await server.stop();
  const failover = spread(takeovers, 0);
  return {
    what: 'kill -9 of the lease owner → the survivor starts the background loops (its server.lease.acquired event), vs the lease period',
    kills: KILLS,
    failover_ms: failover,
    lease_ms: LEASE_MS,
    ratio_median_to_lease: round(failover.median / LEASE_MS),
    ratio_max_to_lease: round(failover.max / LEASE_MS),
    target: 'takeover within 10 s',
    within_target: failover.max < 10_000,
  };
});
