/**
 * Traces through a real deploy: a release of a service instrumented with the OpenTelemetry SDK
 * from npm, whose gantry.yaml says nothing about tracing, goes to production on a real server;
 * the runtime hands its instance OTEL_EXPORTER_OTLP_* with the environment's ingest token and
 * the release as service.version. Requests through the proxy come back as traces of that
 * release; the deploys API lists the rollout. Then the dashboard, in Chromium: the deploys
 * page with the verdict, the environment page's latency by route, a trace's waterfall.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploysAnswer } from '../../src/server/impact/index.ts';
import type { RouteLatencyRow, TraceSummary, Waterfall } from '../../src/traces/index.ts';
import { browserAvailable, launchBrowser } from '../support/browser.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SERVICE = readFileSync(join(import.meta.dirname, '..', 'server', 'traces', 'fixtures', 'traced-service.mjs'), 'utf8');
// Where the release resolves the SDK from: this checkout's node_modules.
const MODULES = join(import.meta.dirname, '..', '..', 'package.json');

const yaml = `
pipeline:
  on: { manual: {} }
  jobs:
    build: { steps: ["true"] }
service:
  run: node server.mjs
  env: { TRACED_SERVICE_MODULES: "${MODULES}", OTEL_SERVICE_NAME: shop-api }
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    strategy: { recreate: {} }
`;

describe('traces from a deployed service', () => {
  let server: TestServer;
  let repo: TestRepo;

  beforeAll(async () => {
    [server, repo] = await Promise.all([startTestServer(), makeRepo({ 'server.mjs': SERVICE, 'gantry.yaml': yaml })]);
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('reach the server from the instance with no tracing config, as the deployed release', async () => {
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    const release = (await server.api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run })).body.release.id;
    const deploy = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/deploy', { release });
    expect(deploy.status).toBeLessThan(300);
    const live = await waitFor(
      async () => {
        const view = (
          await server.api<{ rollout: { phase: string } | null; live: { port: number | null } }>(
            'GET',
            '/api/projects/shop/environments/production/rollout',
          )
        ).body;
        return view.rollout?.phase === 'succeeded' && view.live.port !== null && view.live;
      },
      { what: 'the rollout to succeed', timeoutMs: 60_000 },
    );

    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${live.port}/items/${i}?ms=0`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${live.port}/items/slow?ms=300`)).status).toBe(200);

    const rows = await waitFor(
      async () => {
        const { rows } = (await server.api<{ rows: RouteLatencyRow[] }>('GET', '/api/projects/shop/environments/production/route-latency'))
          .body;
        return rows.find((r) => r.route === '/items/:id' && r.count >= 6) && rows;
      },
      { what: "the instance's six request spans", timeoutMs: 30_000 },
    );
    expect(rows.map((r) => [r.version, r.route, r.count])).toEqual([[release, '/items/:id', 6]]);

    const { traces } = (
      await server.api<{ traces: TraceSummary[] }>('GET', '/api/projects/shop/environments/production/traces?from=0&le=500')
    ).body;
    expect(traces[0]).toMatchObject({ version: release, service: 'shop-api', route: '/items/:id' });
    // Node's timers count from the loop's clock, read before the span started: a 300 ms
    // setTimeout can end 299.99 ms after the span's start (seen in CI).
    expect(traces[0]?.durationMs).toBeGreaterThanOrEqual(299);
    const trace = (
      await server.api<{ waterfall: Waterfall }>('GET', `/api/projects/shop/environments/production/traces/${traces[0]?.traceId}`)
    ).body;
    expect(trace.waterfall.rows.map((r) => r.name)).toEqual(['GET /items/:id', 'load item']);

    const deploys = (await server.api<DeploysAnswer>('GET', '/api/projects/shop/deploys')).body;
    expect(deploys.deploys.map((d) => [d.rolloutId, d.releaseId, d.phase])).toEqual([[deploy.body.rollout.id, release, 'succeeded']]);
    // A first deploy has no traffic before it: never a verdict.
    expect(deploys.deploys[0]?.impact.verdict).toMatch(/not enough traffic/);
  }, 120_000);

  it.runIf(browserAvailable())(
    'shows the deploys, latency by route and a waterfall in the dashboard',
    async () => {
      const browser = await launchBrowser();
      try {
        const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        await page.goto((await server.api<{ url: string }>('POST', '/api/login-links')).body.url);
        await page.waitForURL(`${server.url}/`);

        await page.goto(`${server.url}/projects/shop/deploys`);
        await page.locator('[data-verdict]').first().waitFor();
        expect(await page.locator('[data-verdict]').first().textContent()).toMatch(/not enough traffic/);

        await page.goto(`${server.url}/projects/shop/environments/production`);
        const routes = page.locator('table.route-latency tbody tr');
        await routes.first().waitFor({ timeout: 20_000 });
        expect(await routes.first().textContent()).toContain('/items/:id');

        await page.goto(`${server.url}/projects/shop/environments/production/traces?from=0&le=500`);
        await page.locator('.trace-list a').first().click();
        const spans = page.locator('ol.waterfall li');
        await spans.nth(1).waitFor();
        expect(await spans.locator('.span-name').allTextContents()).toEqual([
          expect.stringContaining('GET /items/:id'),
          expect.stringContaining('load item'),
        ]);
        expect(await spans.nth(1).getAttribute('data-depth')).toBe('1');
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
