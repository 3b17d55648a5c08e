/**
 * The deployment page's endpoints on a real server: chart series from stored roll-ups, and the
 * environment stream against a really deployed service (real instances, real proxy, real HTTP).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';
import { makeRepo } from '../../support/repo.ts';

const SERVICE = readFileSync(join(import.meta.dirname, '..', '..', 'e2e', 'fixtures', 'service.js'), 'utf8');

const YAML = `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: v1 }
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    strategy:
      canary:
        steps: [{ weight: 30, pause: until-promoted }]
`;

interface SseEvent {
  event: string;
  data: any;
}

/** A live SSE connection read event by event (fetch + a tiny parser: what EventSource does). */
async function openStream(server: TestServer, path: string) {
  const controller = new AbortController();
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` }, signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = '';
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    response,
    events,
    next: (predicate: (e: SseEvent) => boolean, after = 0, what = 'an event') =>
      waitFor(() => events.slice(after).find(predicate), { what: what, timeoutMs: 20_000 }),
    close: async () => {
      controller.abort();
      await pump;
    },
  };
}

describe('environment view routes', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let projectId: string;
  const releases: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': YAML });
    projectId = (await server.api<{ project: { id: string } }>('POST', '/api/projects', { path: repo.dir, name: 'view' })).body.project.id;
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/view/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    for (let i = 0; i < 2; i++)
      releases.push((await server.api<{ release: { id: string } }>('POST', '/api/projects/view/releases', { run })).body.release.id);
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('answers series per release and in total from the stored roll-ups', async () => {
    const now = Date.now();
    const start = Math.floor(now / 10_000) * 10_000 - 60_000;
    const row = (
      version: string,
      pool: string,
      offset: number,
      requests: number,
      errors: number,
      latency: { valueMs: number; count: number }[],
    ) => ({
      projectId,
      environment: 'staging',
      version,
      pool,
      startMs: start + offset,
      endMs: start + offset + 10_000,
      requests,
      errors,
      data: { latency },
    });
    await server.store.metrics.append([
      row('r-stable', 'stable', 0, 100, 1, [
        { valueMs: 5, count: 99 },
        { valueMs: 80, count: 1 },
      ]),
      row('r-canary', 'canary', 0, 10, 2, [{ valueMs: 40, count: 10 }]),
      row('r-stable', 'stable', 10_000, 50, 0, [{ valueMs: 5, count: 50 }]),
      // Another environment's traffic stays out.
      { ...row('r-stable', 'stable', 0, 999, 999, []), environment: 'production' },
    ]);
    const { status, body } = await server.api<any>('GET', '/api/projects/view/environments/staging/series?seconds=120&step=10');
    expect(status).toBe(200);
    expect(body.stepSeconds).toBe(10);
    // 120 s back from a time that is not on a step boundary: 12 whole steps and maybe a partial one.
    expect(body.total.length).toBeGreaterThanOrEqual(12);
    expect(body.total.length).toBeLessThanOrEqual(13);
    const at = (points: { t: number }[], t: number) => points.find((p) => p.t === t);
    expect(at(body.total, start)).toMatchObject({ requests: 110, errors: 3, rps: 11, p50: 5, p99: 40 });
    expect(at(body.total, start + 10_000)).toMatchObject({ requests: 50, errorRate: 0 });
    expect(at(body.releases['r-canary'].points, start)).toMatchObject({ requests: 10, errorRate: 0.2, p50: 40, p95: 40 });
    expect(at(body.releases['r-canary'].points, start + 10_000)).toMatchObject({ requests: 0, errorRate: null, p50: null });
    expect(body.releases['r-stable'].heatmap.bucketsMs).toEqual([5, 10, 20, 50, 100]);
    expect(body.releases['r-stable'].heatmap.cells).toEqual(
      expect.arrayContaining([[body.total.findIndex((p: { t: number }) => p.t === start), 0, 99]]),
    );
    expect(body.dataUntilMs).toBe(start + 20_000);

    const defaults = await server.api<any>('GET', '/api/projects/view/environments/staging/series');
    expect(defaults.body.stepSeconds).toBe(60);
    expect(defaults.body.total.length).toBeGreaterThanOrEqual(60);
    for (const query of ['seconds=90000', 'step=5', 'seconds=abc']) {
      const bad = await server.api<{ error: { code: string } }>('GET', `/api/projects/view/environments/staging/series?${query}`);
      expect(bad.status, query).toBe(400);
    }
    expect((await server.api('GET', '/api/projects/nope/environments/staging/series')).status).toBe(404);
  });

  it('needs a token for the stream, and streams an environment with nothing deployed as empty', async () => {
    const response = await fetch(`${server.url}/api/projects/view/environments/production/stream`);
    expect(response.status).toBe(401);
    await response.body?.cancel();
    expect((await server.api('GET', '/api/projects/nope/environments/qa/stream')).status).toBe(404);

    const stream = await openStream(server, '/api/projects/view/environments/qa/stream');
    try {
      const first = await stream.next((e) => e.event === 'rollout', 0, 'the rollout event');
      expect(first.data).toEqual({
        environment: null,
        rollout: null,
        live: { port: null, weights: { stable: 100, canary: 0 }, instances: [] },
      });
      const metrics = await stream.next((e) => e.event === 'metrics', 0, 'a metrics event');
      expect(metrics.data).toMatchObject({
        seconds: 60,
        pools: {},
        points: { seconds: 10, releases: {}, total: { requests: 0, errorRate: null } },
      });
    } finally {
      await stream.close();
    }
  });

  it("streams the rollout as GET …/rollout has it, every change to it, and the proxy's live metrics each second", async () => {
    const first = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/view/environments/production/deploy', {
      release: releases[0],
    });
    expect(first.status).toBe(201);
    const settled = await waitFor(
      async () => {
        const v = (await server.api<any>('GET', '/api/projects/view/environments/production/rollout')).body;
        return v.rollout?.phase === 'succeeded' && v.live.instances.some((i: { state: string }) => i.state === 'ready') ? v : undefined;
      },
      { what: 'the first deploy', timeoutMs: 30_000 },
    );
    const port = settled.live.port as number;
    for (let i = 0; i < 5; i++) expect((await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim()).toBe('v1');

    const stream = await openStream(server, '/api/projects/view/environments/production/stream');
    try {
      expect(stream.response.headers.get('content-type')).toMatch(/text\/event-stream/);
      const hello = await stream.next((e) => e.event === 'rollout', 0, 'the first rollout event');
      expect(stream.events[0]?.event).toBe('rollout');
      const rest = (await server.api<any>('GET', '/api/projects/view/environments/production/rollout')).body;
      expect(hello.data.rollout).toEqual(rest.rollout);
      expect(hello.data.environment).toEqual(rest.environment);
      expect(hello.data.live.port).toBe(port);

      const metrics = await stream.next(
        (e) => e.event === 'metrics' && e.data.pools.stable?.requests >= 5,
        0,
        'metrics with the requests made',
      );
      expect(metrics.data.seconds).toBe(60);
      expect(metrics.data.pools.stable).toMatchObject({ releaseId: releases[0], errors: 0 });
      expect(metrics.data.pools.stable.latency).toBeUndefined();
      expect(metrics.data.points.releases[releases[0]!]).toMatchObject({ requests: 5, rps: 0.5, errorRate: 0 });
      expect(metrics.data.points.total.requests).toBe(5);
      expect(metrics.data.live.instances[0]).toMatchObject({ releaseId: releases[0], state: 'ready' });
      // Every second, not once.
      const count = stream.events.length;
      await stream.next((e) => e.event === 'metrics', count, 'a second metrics event');

      // A canary of the second release: the stream follows each persisted transition.
      const seen = stream.events.length;
      const second = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/view/environments/production/deploy', {
        release: releases[1],
      });
      expect(second.status).toBe(201);
      const stepped = await stream.next(
        (e) => e.event === 'rollout' && e.data.rollout?.id === second.body.rollout.id && e.data.rollout.state.weights.canary === 30,
        seen,
        'the canary at its first step',
      );
      expect(stepped.data.rollout.phase).toBe('progressing');
      const withCanary = await stream.next(
        (e) => e.event === 'metrics' && e.data.pools.canary?.releaseId === releases[1],
        seen,
        'the canary pool in the metrics',
      );
      expect(withCanary.data.live.weights).toEqual({ stable: 70, canary: 30 });

      // Only changes are sent: rollout events never repeat the one before.
      const rollouts = stream.events.filter((e) => e.event === 'rollout').map((e) => JSON.stringify(e.data));
      expect(rollouts.every((json, i) => i === 0 || json !== rollouts[i - 1])).toBe(true);

      const beforeAbort = stream.events.length;
      expect((await server.api('POST', '/api/projects/view/environments/production/rollout/abort')).status).toBe(200);
      const ended = await stream.next(
        (e) => e.event === 'rollout' && e.data.rollout?.phase === 'aborted',
        beforeAbort,
        'the aborted rollout',
      );
      expect(ended.data.rollout.state.history.map((h: { event: string }) => h.event)).toContain('rollout.rolling-back');
    } finally {
      await stream.close();
    }
  }, 60_000);
});
