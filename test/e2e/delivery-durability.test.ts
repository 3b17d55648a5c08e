/**
 * kill -9 of `gantry up` in the middle of a canary: the environment's proxy and instances keep
 * serving (no failed request while the server is gone), a new `gantry up` adopts them instead of
 * starting duplicates, and the rollout carries on from where it was.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HELD_CANARY, SERVICE_JS, serviceYaml } from './fixtures/service-config.ts';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { steadyLoad } from '../support/steady-load.ts';

const yaml = (version: string) => serviceYaml({ version, environments: HELD_CANARY });

async function api<T>(s: GantryUp, method: string, path: string, body?: unknown): Promise<T> {
  return (await s.api<T>(method, path, body)).body;
}

interface View {
  rollout: { id: string; phase: string } | null;
  live: {
    port: number | null;
    weights: { stable: number; canary: number };
    instances: { id: string; pid: number | null; state: string; releaseId: string }[];
  };
}

describe('delivery across kill -9 of the server', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('keeps serving while the server is gone and resumes the canary after a restart', async () => {
    const repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
    cleanups.push(() => repo.cleanup());
    const server = await startGantryUp({ env: { GANTRY_SANDBOX: 'off' } });
    cleanups.push(() => server.stop());
    await api(server, 'POST', '/api/projects', { path: repo.dir, name: 'web' });

    const release = async () => {
      const run = (await api<{ run: { id: string } }>(server, 'POST', '/api/projects/web/runs', {})).run.id;
      await waitFor(async () => (await api<{ status: string }>(server, 'GET', `/api/runs/${run}`)).status === 'success', {
        what: 'the run',
        timeoutMs: 30_000,
      });
      return (await api<{ release: { id: string } }>(server, 'POST', '/api/projects/web/releases', { run })).release.id;
    };
    const view = () => api<View>(server, 'GET', '/api/projects/web/environments/production/rollout');
    const r1 = await release();
    const first = await api<{ rollout: { id: string } }>(server, 'POST', '/api/projects/web/environments/production/deploy', {
      release: r1,
    });
    await waitFor(
      async () => {
        const v = await view();
        return (v.rollout?.id === first.rollout.id && v.rollout.phase === 'succeeded') || undefined;
      },
      { what: 'the first deploy', timeoutMs: 30_000 },
    );
    await repo.commit({ 'gantry.yaml': yaml('v2') }, 'v2');
    const r2 = await release();
    await api(server, 'POST', '/api/projects/web/environments/production/deploy', { release: r2 });
    const mid = await waitFor(
      async () => {
        const v = await view();
        return v.live.weights.canary === 50 && v.live.instances.filter((i) => i.state === 'ready').length === 4 ? v : undefined;
      },
      { what: 'the canary at 50 %', timeoutMs: 30_000 },
    );
    const port = mid.live.port!;
    const pidsBefore = mid.live.instances.map((i) => i.pid).sort();

    const load = steadyLoad(port);

    await server.kill('SIGKILL');
    const duringOutage = load.requests;
    await waitFor(() => load.requests > duringOutage + 100, { what: 'requests served while the server is down', timeoutMs: 20_000 });
    await server.startServer();

    const resumed = await waitFor(
      async () => {
        const v = await view();
        return v.rollout && v.live.instances.filter((i) => i.state === 'ready').length === 4 ? v : undefined;
      },
      { what: 'the restarted server to adopt the instances', timeoutMs: 30_000 },
    );
    expect(resumed.rollout?.phase).toBe('progressing');
    expect(resumed.live.weights).toEqual({ stable: 50, canary: 50 });
    expect(resumed.live.instances.map((i) => i.pid).sort()).toEqual(pidsBefore); // adopted, not started again

    await api(server, 'POST', '/api/projects/web/environments/production/rollout/promote');
    await waitFor(async () => (await view()).rollout?.phase === 'succeeded' || undefined, { what: 'the promotion', timeoutMs: 30_000 });
    await load.stop();
    expect(load.failures, load.failureReasons.join('\n')).toBe(0);
    expect(load.bodies).toEqual(new Set(['v1', 'v2']));
    const final = await view();
    expect(final.live.instances.filter((i) => i.state === 'ready').map((i) => i.releaseId)).toEqual([r2, r2]);
  });
});
