/**
 * The old owner's commands to proxies and instances are fenced (docs/decisions/0037). Two real
 * servers on one PostgreSQL and one runtime dir: A owns the background loops and stops itself
 * (SIGSTOP, test/support/held-server.ts) just before it sends a canary's route table; B takes
 * the loops over, resumes the rollout and, told to, aborts it (100 % stable, the canary's
 * instances stopped); then A wakes with its table still under way. The proxy refuses A's table
 * (its token is older than B's), the instance records stay as B's supervisor wrote them, and A
 * steps down. Before the fence, A's table went through: the proxy sent half the traffic to the
 * canary B had stopped.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_FILES, type RouteTable } from '../../src/proxy/index.ts';
import { HELD_CANARY, SERVICE_JS, serviceYaml } from './fixtures/service-config.ts';
import { pgAvailable, pgTestDatabase, type TestDatabase } from '../support/databases.ts';
import { type HeldServer, startHeldServer } from '../support/held-server.ts';
import { killLeftovers } from '../support/instances.ts';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { apiOk as api, releaseOf, type RolloutView, type StoredEvent } from '../support/server-group.ts';
import { waitFor } from '../support/wait.ts';

const yaml = (version: string) => serviceYaml({ version, environments: HELD_CANARY, instances: 1 });
const ENV = '/api/projects/web/environments/production';

/** The table the environment's proxy routes by, asked on its control socket. */
function proxyTable(runtimeDir: string): Promise<RouteTable> {
  const [dir] = readdirSync(join(runtimeDir, 'proxies'));
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(runtimeDir, 'proxies', dir!, PROXY_FILES.socket), path: '/routes' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve(JSON.parse(text) as RouteTable));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The instance records in the shared runtime dir, as the supervisors wrote them. */
function instanceRecords(runtimeDir: string): { id: string; desired: string; state: string; spec: { releaseId: string } }[] {
  const dir = join(runtimeDir, 'instances');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map(
      (f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; desired: string; state: string; spec: { releaseId: string } },
    );
}

describe.skipIf(!pgAvailable())('commands of an owner paused past its lease', () => {
  let database: TestDatabase;
  let runtimeDir: string;
  const dirs: string[] = [];
  let a: HeldServer;
  let b: GantryUp;
  let repo: Awaited<ReturnType<typeof makeRepo>>;

  beforeAll(async () => {
    database = (await pgTestDatabase())!;
    runtimeDir = mkdtempSync(join(tmpdir(), 'gantry-runtime-'));
    dirs.push(mkdtempSync(join(tmpdir(), 'gantry-a-')), mkdtempSync(join(tmpdir(), 'gantry-b-')));
    const [dirA, dirB] = dirs as [string, string];
    // The default 5 s lease: a shorter one let A lose it under load (renewals stalled) before it was paused.
    const env = { GANTRY_SANDBOX: 'off', GANTRY_STORE: database.url, GANTRY_RUNTIME_DIR: runtimeDir, GANTRY_LEASE_MS: '5000' };
    a = await startHeldServer({ env, dataDir: dirA });
    for (const file of ['secret.key', 'admin.token']) copyFileSync(join(dirA, file), join(dirB, file));
    b = await startGantryUp({ env, dataDir: dirB });
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
    // Two servers one after the other: ~25 s at a load of 27 on 2 cores.
  }, 90_000);
  afterAll(async () => {
    await b?.stop().catch(() => undefined);
    await a?.stop().catch(() => undefined);
    if (runtimeDir) killLeftovers(runtimeDir);
    await repo?.cleanup();
    for (const dir of [runtimeDir, ...dirs]) if (dir) await rm(dir, { recursive: true, force: true });
    await database?.cleanup();
  });

  it("keeps the new owner's route table and instance records when the old owner wakes with a table under way", async () => {
    const view = (s: GantryUp) => api<RolloutView>(s, 'GET', `${ENV}/rollout`);
    await api(a, 'POST', '/api/projects', { path: repo.dir, name: 'web' });
    const first = await api<{ rollout: { id: string } }>(a, 'POST', `${ENV}/deploy`, { release: await releaseOf(a, 'web') });
    await waitFor(async () => (await view(a)).rollout?.id === first.rollout.id && (await view(a)).rollout?.phase === 'succeeded', {
      what: 'the first deploy',
      timeoutMs: 30_000,
    });
    await repo.commit({ 'gantry.yaml': yaml('v2') }, 'v2');
    const r2 = await releaseOf(a, 'web');

    // A stops itself with the canary's first table in hand (persisted, not yet sent).
    a.holdNextCanaryTable();
    const deploying = a.api('POST', `${ENV}/deploy`, { release: r2 }).catch(() => undefined);
    await waitFor(() => a.isStopped(), { what: "A to stop with the canary's table under way", timeoutMs: 30_000 });

    await waitFor(
      async () =>
        (await api<{ events: StoredEvent[] }>(b, 'GET', '/api/events?type=server.lease.acquired')).events.some((e) => e.data.url === b.url),
      { what: 'B to take the loops over', timeoutMs: 20_000 },
    );
    const rollout = await waitFor(
      async () => {
        const v = await view(b);
        return v.rollout?.phase === 'paused' || v.live.weights.canary > 0 ? v.rollout : undefined;
      },
      { what: 'B to resume the canary', timeoutMs: 30_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nB's output:\n${b.output().slice(-4000)}`);
    });
    await api(b, 'POST', `${ENV}/rollout/abort`);
    await waitFor(
      async () => {
        const v = await view(b);
        return v.rollout?.id === rollout?.id && v.rollout?.phase === 'aborted' && v.live.weights.canary === 0;
      },
      { what: 'B to abort the canary', timeoutMs: 30_000 },
    );
    const bTable = await proxyTable(runtimeDir);
    expect(bTable.weights.canary).toBe(0);
    const canaryRecords = () => instanceRecords(runtimeDir).filter((r) => r.spec.releaseId === r2);
    await waitFor(() => canaryRecords().every((r) => r.desired === 'stopped' && r.state === 'stopped'), {
      what: "B to stop the canary's instances",
      timeoutMs: 30_000,
    });

    const exitCode = await a.kill('SIGCONT');
    await deploying;
    expect(exitCode, `A's output:\n${a.output().slice(-4000)}`).toBe(1);
    expect(await proxyTable(runtimeDir)).toEqual(bTable);
    expect(a.output()).toContain('ProxyFencedError');
    expect(canaryRecords().filter((r) => r.desired !== 'stopped' || r.state !== 'stopped')).toEqual([]);
    const port = (await view(b)).live.port!;
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())));
    expect(new Set(answers.map((t) => t.trim()))).toEqual(new Set(['v1']));
  }, 150_000);
});
