/**
 * Progressive delivery end to end: a commit → pipeline → release → staging (automatic) → a
 * canary in production that is promoted, a bad canary that analysis rolls back, and a manual
 * rollback — real processes, real HTTP through Gantry's proxy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo } from '../support/repo.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');

function gantryYaml(version: string, failRate = 0): string {
  return `
pipeline:
  on: { push: { branches: [main] } }
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: "${version}", FAIL_RATE: "${failRate}" }
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 2s }
environments:
  staging:
    auto: true
    strategy: { blue-green: { keep-old: 0s } }
  production:
    strategy:
      canary:
        steps: [{ weight: 20, pause: 3s }, { weight: 50, pause: 2s }]
        match: [{ header: x-canary, value: "1" }]
        analysis:
          error-rate: { max: 2% }
          min-requests: 20
          window: 5s
`;
}

interface RolloutView {
  rollout: { id: string; phase: string; state: { reason: string | null; weights: { stable: number; canary: number } } } | null;
  live: { port: number | null; weights: { stable: number; canary: number } };
}

describe('progressive delivery', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': gantryYaml('v1') });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  const rollout = async (env: string) => (await server.api<RolloutView>('GET', `/api/projects/shop/environments/${env}/rollout`)).body;
  const settled = (env: string, id?: string) =>
    waitFor(
      async () => {
        const view = await rollout(env);
        return view.rollout &&
          (!id || view.rollout.id === id) &&
          ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(view.rollout.phase)
          ? view
          : undefined;
      },
      { what: `the rollout in ${env} to settle`, timeoutMs: 60_000 },
    );
  const get = async (port: number, path = '/') => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: (await response.text()).trim() };
  };

  it('releases a successful push on the default branch and deploys it to the automatic environment', async () => {
    const sha = await repo.commit({ 'README.md': 'v1\n' }, 'v1');
    const run = await waitFor(
      async () =>
        (await server.api<{ runs: { id: string; event: { sha: string } }[] }>('GET', '/api/runs')).body.runs.find(
          (r) => r.event.sha === sha,
        ),
      { what: 'the run', timeoutMs: 15_000 },
    );
    expect((await waitForRunEnd(server, run.id)).status).toBe('success');
    const staging = await settled('staging');
    expect(staging.rollout?.phase).toBe('succeeded');
    expect(await get(staging.live.port!)).toEqual({ status: 200, body: 'v1' });
    // What an instance learns about itself: the environment by its name, the project, the release.
    const own = JSON.parse((await get(staging.live.port!, '/gantry-env')).body) as Record<string, string>;
    expect(own).toMatchObject({ GANTRY_ENVIRONMENT: 'staging', GANTRY_PROJECT: 'shop' });
    expect(own.GANTRY_RELEASE_ID).toMatch(/^\w+$/);
    const releases = await server.api<{ releases: { number: number }[] }>('GET', '/api/projects/shop/releases');
    expect(releases.body.releases.map((r) => r.number)).toEqual([1]);
  });

  it('canaries a release into production and promotes it when the analysis passes', async () => {
    const first = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/deploy', {
      release: '1',
    });
    expect(first.status).toBe(201);
    await settled('production', first.body.rollout.id);

    await repo.commit({ 'gantry.yaml': gantryYaml('v2') }, 'v2');
    const release2 = await waitFor(
      async () =>
        (await server.api<{ releases: { id: string; number: number }[] }>('GET', '/api/projects/shop/releases')).body.releases.find(
          (r) => r.number === 2,
        ),
      { what: 'release 2', timeoutMs: 30_000 },
    );
    const deployed = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/deploy', {
      release: release2.id,
    });
    expect(deployed.status).toBe(201);
    const port = (await rollout('production')).live.port!;
    // Testers who ask for the new version get it as soon as its instances are ready, whatever the weights.
    await waitFor(
      async () => (await (await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-canary': '1' } })).text()).trim() === 'v2' || undefined,
      { what: 'the header rule to reach the canary', timeoutMs: 20_000 },
    );
    const seen = new Set<string>();
    let failures = 0;
    const load = (async () => {
      for (;;) {
        const view = await rollout('production');
        if (view.rollout && ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(view.rollout.phase)) return view;
        const answers = await Promise.all(Array.from({ length: 10 }, () => get(port)));
        for (const a of answers) {
          seen.add(a.body);
          if (a.status !== 200) failures++;
        }
      }
    })();
    const final = await load;
    expect(final.rollout?.phase).toBe('succeeded');
    expect(seen).toEqual(new Set(['v1', 'v2']));
    expect(failures).toBe(0);
    expect(await get(port)).toEqual({ status: 200, body: 'v2' });
  });

  it('rolls a failing canary back by itself, with the reason and its numbers', async () => {
    await repo.commit({ 'gantry.yaml': gantryYaml('v3', 0.25) }, 'v3 (bad)');
    const release3 = await waitFor(
      async () =>
        (await server.api<{ releases: { id: string; number: number }[] }>('GET', '/api/projects/shop/releases')).body.releases.find(
          (r) => r.number === 3,
        ),
      { what: 'release 3', timeoutMs: 30_000 },
    );
    const deployed = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/deploy', {
      release: release3.id,
    });
    const port = (await rollout('production')).live.port!;
    const load = (async () => {
      for (;;) {
        const view = await rollout('production');
        if (
          view.rollout &&
          view.rollout.id === deployed.body.rollout.id &&
          ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(view.rollout.phase)
        )
          return view;
        await Promise.all(Array.from({ length: 10 }, () => get(port)));
      }
    })();
    const final = await load;
    expect(final.rollout?.phase).toBe('rolled-back');
    expect(final.rollout?.state.reason).toMatch(/error/i);
    expect(final.live.weights).toEqual({ stable: 100, canary: 0 });
    for (let i = 0; i < 20; i++) expect(await get(port)).toEqual({ status: 200, body: 'v2' });
    const events = await server.api<{ events: { type: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/api/events?subject=rollout:${deployed.body.rollout.id}`,
    );
    expect(events.body.events.map((e) => e.type)).toContain('rollout.phase.rolled-back');
  });

  it("judges a redeployed release by this rollout's requests only", async () => {
    const releases = (await server.api<{ releases: { id: string; number: number }[] }>('GET', '/api/projects/shop/releases')).body.releases;
    const bad = releases.find((r) => r.number === 3)!;
    const again = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/deploy', {
      release: bad.id,
    });
    expect(again.status).toBe(201);
    // No traffic now: the errors release 3 made in its last rollout must not fail this one.
    await waitFor(async () => (await rollout('production')).live.weights.canary === 20 || undefined, {
      what: 'the canary to take its first step',
      timeoutMs: 20_000,
    });
    const waited = Date.now();
    await waitFor(() => Date.now() - waited > 2_500 || undefined, { what: 'a few analysis rounds', timeoutMs: 5_000 });
    const view = await rollout('production');
    expect(view.rollout?.id).toBe(again.body.rollout.id);
    expect(['progressing', 'paused']).toContain(view.rollout?.phase);
    await server.api('POST', '/api/projects/shop/environments/production/rollout/abort');
    expect((await settled('production', again.body.rollout.id)).rollout?.phase).toBe('aborted');
  });

  it('rolls back to the previous release on request', async () => {
    const back = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/rollback');
    expect(back.status).toBe(201);
    const view = await settled('production', back.body.rollout.id);
    expect(view.rollout?.phase).toBe('succeeded');
    expect(await get(view.live.port!)).toEqual({ status: 200, body: 'v1' });
  });
});
