/**
 * Several real `gantry up` on one PostgreSQL, as several servers run (docs/decisions/0037): each
 * its own port and data dir, one runtime dir for instances and proxies, and what servers on one
 * store share besides it — the key that seals secrets and the admin token. The first one started
 * holds the background-loops lease.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgTestDatabase, type TestDatabase } from './databases.ts';
import { killLeftovers } from './instances.ts';
import { type GantryUp, startGantryUp } from './server.ts';
import { waitFor } from './wait.ts';

export interface ServerGroup {
  servers: GantryUp[];
  database: TestDatabase;
  runtimeDir: string;
  /** Stops every server (resumed first, in case a test left one stopped), the database and the dirs. */
  cleanup(): Promise<void>;
}

/**
 * Starts `count` servers: the first, then the others side by side (`servers` keeps that order).
 * The default lease (5 s): a shorter one made the new owner stop itself once at load 22 on 2
 * cores (its renewals stalled past four fifths of the lease while it adopted the environment).
 */
export async function startServerGroup(count: number, o: { leaseMs?: number; env?: Record<string, string> } = {}): Promise<ServerGroup> {
  const database = (await pgTestDatabase())!;
  const runtimeDir = mkdtempSync(join(tmpdir(), 'gantry-runtime-'));
  const dataDirs = Array.from({ length: count }, (_, i) => mkdtempSync(join(tmpdir(), `gantry-${i}-`)));
  const env = {
    GANTRY_SANDBOX: 'off',
    GANTRY_STORE: database.url,
    GANTRY_RUNTIME_DIR: runtimeDir,
    GANTRY_LEASE_MS: String(o.leaseMs ?? 5000),
    ...o.env,
  };
  const servers: GantryUp[] = [];
  const cleanup = async () => {
    for (const s of servers.reverse()) {
      // Not awaited: kill resolves when the process exits, and a resumed one is stopped next.
      void s.kill('SIGCONT').catch(() => undefined);
      await s.stop().catch(() => undefined);
    }
    killLeftovers(runtimeDir);
    for (const dir of [runtimeDir, ...dataDirs]) await rm(dir, { recursive: true, force: true });
    await database.cleanup();
  };
  try {
    const [first, ...rest] = dataDirs as [string, ...string[]];
    servers.push(await startGantryUp({ env, dataDir: first }));
    // The others side by side: the first already migrated the store, made the shared key and token, and holds the lease.
    for (const dataDir of rest) for (const file of ['secret.key', 'admin.token']) copyFileSync(join(first, file), join(dataDir, file));
    const started = await Promise.allSettled(rest.map((dataDir) => startGantryUp({ env, dataDir })));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { servers, database, runtimeDir, cleanup };
}

/** An environment's rollout view (`GET …/environments/:env/rollout`), the parts these tests read. */
export interface RolloutView {
  rollout: { id: string; phase: string } | null;
  live: { port: number | null; weights: { stable: number; canary: number } };
}

/** An event as `GET /api/events` lists it. */
export interface StoredEvent {
  id: number;
  type: string;
  subject: string;
  at: string;
  data: Record<string, unknown>;
}

/** An API call that throws on an error status, with the answer in the message. */
export async function apiOk<T>(s: GantryUp, method: string, path: string, body?: unknown): Promise<T> {
  const { status, body: answer } = await s.api<T>(method, path, body);
  if (status >= 400) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Runs the project's pipeline on `s` and makes a release of it; its id. */
export async function releaseOf(s: GantryUp, project: string): Promise<string> {
  const run = (await apiOk<{ run: { id: string } }>(s, 'POST', `/api/projects/${project}/runs`, {})).run.id;
  await waitFor(async () => (await apiOk<{ status: string }>(s, 'GET', `/api/runs/${run}`)).status === 'success', {
    what: 'the run',
    timeoutMs: 30_000,
  }).catch((error: Error) => {
    throw new Error(`${error.message}\nthe server's output:\n${s.output().slice(-4000)}`);
  });
  return (await apiOk<{ release: { id: string } }>(s, 'POST', `/api/projects/${project}/releases`, { run })).release.id;
}
