/**
 * Stopping an environment, with real processes: a stop mid-canary aborts the rollout, its
 * instances and its proxy process are gone (by PID) and the port refuses connections; the stop
 * is in the event log; a restarted server leaves it stopped, also when the previous one died
 * between persisting the stop and carrying it out; a new deploy starts it afresh; and the CLI.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTimeOf } from '../../src/platform/proc.ts';
import { PROXY_FILES } from '../../src/proxy/index.ts';
import { openStore } from '../../src/store/index.ts';
import { runCli } from '../support/cli.ts';
import { killInstances } from '../support/instances.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { HELD_CANARY, SERVICE_JS, serviceYaml } from './fixtures/service-config.ts';

import { waitFor } from '../support/wait.ts';
import { makeRepo } from '../support/repo.ts';

const yaml = (version: string) => serviceYaml({ version, environments: HELD_CANARY });

interface EnvironmentRecord {
  projectId: string;
  name: string;
  currentReleaseId: string | null;
  previousReleaseId: string | null;
  port: number | null;
  updatedAt: string;
}
interface View {
  environment: EnvironmentRecord | null;
  rollout: { id: string; phase: string; finishedAt: string | null; state: { reason: string | null } } | null;
  live: {
    port: number | null;
    weights: { stable: number; canary: number };
    instances: { id: string; pid: number | null; state: string; releaseId: string }[];
  };
}

const gone = (pid: number) => startTimeOf(pid) === null;

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// One story, in order: each test starts from the state the previous one left (a stopped
// environment, a restarted server), so the suite is never shuffled.
describe('gantry env stop', { shuffle: false }, () => {
  let dataDir: string;
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let r1: string;
  let r2: string;
  const proxyPids = new Set<number>();

  /** Starts (again) on the same data dir: the restart tests need the previous server's state. */
  const start = async () => {
    server = await startTestServer({ dataDir });
  };
  const api = <T>(method: string, path: string, body?: unknown) => server.api<T>(method, path, body);
  const view = async () => (await api<View>('GET', '/api/projects/web/environments/production/rollout')).body;
  /** Pids of the live proxy processes of web/production (their host.json), remembered for clean-up. */
  const liveProxies = () => {
    const dir = join(dataDir, 'proxies');
    if (!existsSync(dir)) return [];
    const pids = readdirSync(dir)
      .filter((name) => existsSync(join(dir, name, PROXY_FILES.host))) // a proxy that shut down removed it
      .map(
        (name) => JSON.parse(readFileSync(join(dir, name, PROXY_FILES.host), 'utf8')) as { pid: number; startTime: string; label: string },
      )
      .filter((r) => r.label === 'web/production' && startTimeOf(r.pid) === r.startTime)
      .map((r) => r.pid);
    for (const pid of pids) proxyPids.add(pid);
    return pids;
  };
  /** Pids of instance processes still alive, by the supervisor's records (pid and start time): every instance here is web/production's. */
  const liveInstances = () => {
    const dir = join(dataDir, 'instances');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number | null; startTime: string | null })
      .filter((r) => r.pid !== null && startTimeOf(r.pid) === r.startTime)
      .map((r) => r.pid as number);
  };
  const release = async () => {
    const run = (await api<{ run: { id: string } }>('POST', '/api/projects/web/runs', {})).body.run.id;
    await waitFor(async () => (await api<{ status: string }>('GET', `/api/runs/${run}`)).body.status === 'success', {
      what: 'the run',
      timeoutMs: 30_000,
    });
    return (await api<{ release: { id: string } }>('POST', '/api/projects/web/releases', { run })).body.release.id;
  };
  const deploy = async (releaseId: string) => {
    const { status, body } = await api<{ rollout: { id: string } }>('POST', '/api/projects/web/environments/production/deploy', {
      release: releaseId,
    });
    expect(status, JSON.stringify(body)).toBe(201);
    return body.rollout.id;
  };
  const deployed = async (releaseId: string) => {
    const id = await deploy(releaseId);
    return waitFor(
      async () => {
        const v = await view();
        return v.rollout?.id === id && v.rollout.phase === 'succeeded' && v.live.instances.filter((i) => i.state === 'ready').length === 2
          ? v
          : undefined;
      },
      { what: `release ${releaseId} to run`, timeoutMs: 20_000 },
    );
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-env-stop-'));
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
    await start();
    expect((await api('POST', '/api/projects', { path: repo.dir, name: 'web' })).status).toBe(201);
    r1 = await release();
    await repo.commit({ 'gantry.yaml': yaml('v2') }, 'v2');
    r2 = await release();
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    if (dataDir) killInstances(dataDir);
    for (const pid of proxyPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await repo?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stops an environment mid-canary: the rollout ends aborted, instances and proxy are gone, the port is free, the stop is recorded', async () => {
    await deployed(r1);
    const canary = await deploy(r2);
    const mid = await waitFor(
      async () => {
        const v = await view();
        return v.live.weights.canary === 50 && v.live.instances.filter((i) => i.state === 'ready').length === 4 ? v : undefined;
      },
      { what: 'the canary at 50 %', timeoutMs: 20_000 },
    );
    const port = mid.live.port!;
    const pids = mid.live.instances.map((i) => i.pid!);
    const proxies = liveProxies();
    expect(proxies).toHaveLength(1);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toMatch(/^v[12]\n$/);

    const stopped = await api<{ environment: EnvironmentRecord }>('POST', '/api/projects/web/environments/production/stop');
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    expect(stopped.body.environment).toMatchObject({ name: 'production', currentReleaseId: null, previousReleaseId: r1, port });

    // All of it is gone once the call answered: no waiting.
    expect(pids.filter((pid) => !gone(pid))).toEqual([]);
    expect(liveInstances()).toEqual([]);
    expect(proxies.filter((pid) => !gone(pid))).toEqual([]);
    expect(await accepts(port)).toBe(false);

    const after = await view();
    expect(after.rollout?.id).toBe(canary);
    expect(after.rollout?.phase).toBe('aborted');
    expect(after.rollout?.finishedAt).not.toBeNull();
    expect(after.rollout?.state.reason).toMatch(/environment was stopped/);
    expect(after.live).toMatchObject({ port: null, instances: [] });
    // The environment is still listed, with nothing current: its history stays.
    const listed = await api<{ environments: { name: string; currentReleaseId: string | null; previousReleaseId: string | null }[] }>(
      'GET',
      '/api/projects/web/environments',
    );
    expect(listed.body.environments.find((e) => e.name === 'production')).toMatchObject({ currentReleaseId: null, previousReleaseId: r1 });
    const releases = (await api<{ releases: { id: string }[] }>('GET', '/api/projects/web/releases')).body.releases.map((r) => r.id);
    expect(releases).toEqual(expect.arrayContaining([r1, r2]));

    const events = await api<{ events: { type: string; actor: string; subject: string; data: Record<string, unknown> }[] }>(
      'GET',
      '/api/events?type=environment.stopped',
    );
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0]).toMatchObject({
      actor: 'api:admin',
      data: { environment: 'production', releaseId: r1, rolloutId: canary, port },
    });
    expect((events.body.events[0]!.data.instances as string[]).sort()).toEqual(mid.live.instances.map((i) => i.id).sort());
    const rolloutEvents = await api<{ events: { type: string }[] }>('GET', `/api/events?subject=rollout:${canary}`);
    expect(rolloutEvents.body.events.map((e) => e.type)).toContain('rollout.phase.aborted');

    // Nothing to roll back to, nothing to steer: say so.
    const rollback = await api<{ error: { code: string; message: string } }>('POST', '/api/projects/web/environments/production/rollback');
    expect(rollback.status).toBe(409);
    expect(rollback.body.error.message).toMatch(/production is stopped: deploy a release/);
    expect((await api('POST', '/api/projects/web/environments/staging/stop')).status).toBe(404);
    expect((await api('POST', '/api/projects/nope/environments/production/stop')).status).toBe(404);
  }, 40_000);

  it('stays stopped across a restart, and a new deploy starts it afresh', async () => {
    const port = (await view()).environment!.port!;
    await server.close();
    await start();
    // Adoption (which revives instances meant to run) is over once the server started.
    expect(liveInstances()).toEqual([]);
    const v = await view();
    expect(v.live).toMatchObject({ port: null, instances: [] });
    expect(v.environment).toMatchObject({ currentReleaseId: null, previousReleaseId: r1 });
    expect(liveProxies()).toEqual([]);
    expect(await accepts(port)).toBe(false);

    const fresh = await deployed(r2);
    expect(fresh.live.port).toBe(port);
    expect(fresh.environment).toMatchObject({ currentReleaseId: r2, previousReleaseId: null });
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('v2\n');
  }, 30_000);

  it('finishes a stop the server died in: what was persisted wins on the next start', async () => {
    const running = await view();
    const pids = running.live.instances.filter((i) => i.state === 'ready').map((i) => i.pid!);
    expect(pids).toHaveLength(2);
    expect(liveInstances().sort()).toEqual([...pids].sort());
    const proxies = liveProxies();
    expect(proxies).toHaveLength(1);
    const port = running.live.port!;
    // The server goes away (instances and proxy keep serving) right after the stop was committed.
    await server.close();
    const store = await openStore({ url: `sqlite:${join(dataDir, 'gantry.db')}` });
    await store.rollouts.setEnvironment({
      projectId: running.environment!.projectId,
      name: 'production',
      currentReleaseId: null,
      previousReleaseId: r2,
      port,
    });
    await store.close();
    expect(await accepts(port)).toBe(true);

    await start();
    await waitFor(() => [...pids, ...proxies].every(gone), { what: 'the leftover instances and proxy to be stopped', timeoutMs: 10_000 });
    expect(await accepts(port)).toBe(false);
    expect(liveInstances()).toEqual([]);
  }, 30_000);

  it('gantry env stop: one line on success, one line and a non-zero exit on an error', async () => {
    const running = await deployed(r1);
    const pids = running.live.instances.map((i) => i.pid!);
    const port = running.live.port!;
    const ok = await runCli(repo.dir, ['--data', dataDir, 'env', 'stop', 'web', 'production']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`stopped web/production: release ${r1} no longer runs, port ${port} is free\n`);
    expect(pids.filter((pid) => !gone(pid))).toEqual([]);
    expect(await accepts(port)).toBe(false);

    const unknown = await runCli(repo.dir, ['--data', dataDir, 'env', 'stop', 'web', 'staging']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/no environment 'staging'/);
  }, 30_000);
});
