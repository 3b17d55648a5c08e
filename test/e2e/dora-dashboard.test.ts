/**
 * The DORA page in a real browser (Debian's Chromium) against a real `gantry up` with real
 * deploys: two releases built from real commits go to production, an incident is opened on the
 * second and it is rolled back by hand. The page shows each number with its tier beside it, the
 * four charts, and the rollouts behind the numbers with the commits each deployment put live.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');

const serviceYaml = (version: string) => `
pipeline:
  on: { manual: {} }
  jobs:
    build: { steps: ["true"] }
service:
  run: node server.js
  env: { VERSION: "${version}" }
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    strategy: { recreate: {} }
`;

describe.runIf(browserAvailable())('the DORA page in a browser', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  const problems: string[] = [];

  beforeAll(async () => {
    [server, browser, repo] = await Promise.all([
      startGantryUp(),
      launchBrowser(),
      makeRepo({ 'server.js': SERVICE, 'gantry.yaml': serviceYaml('v1') }),
    ]);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  const rolloutPhase = async () =>
    (await server.api<{ rollout: { id: string; phase: string } | null }>('GET', '/api/projects/web/environments/production/rollout')).body
      .rollout;

  /** Runs the pipeline on the repository's head, makes a release of it and deploys it; resolves once it is live. */
  async function release(): Promise<{ id: string; number: number }> {
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/web/runs', {})).body.run;
    await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'success' || undefined, {
      what: 'the build',
      timeoutMs: 30_000,
    });
    const made = await server.api<{ release: { id: string; number: number } }>('POST', '/api/projects/web/releases', { run: run.id });
    expect(made.status).toBe(201);
    return made.body.release;
  }
  async function deployed(action: Promise<{ status: number; body: { rollout: { id: string } } }>): Promise<void> {
    const { status, body } = await action;
    expect(status).toBeLessThan(300);
    await waitFor(
      async () => ((await rolloutPhase())?.id === body.rollout.id && (await rolloutPhase())?.phase === 'succeeded') || undefined,
      {
        what: 'the rollout to succeed',
        timeoutMs: 30_000,
      },
    );
  }

  it('shows the numbers with tiers, the four charts and the deployments behind them, from real deploys', async () => {
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'web' })).status).toBe(201);
    const first = await release();
    await deployed(server.api('POST', '/api/projects/web/environments/production/deploy', { release: first.id }));
    const v2 = await repo.commit({ 'gantry.yaml': serviceYaml('v2') }, 'v2');
    const second = await release();
    await deployed(server.api('POST', '/api/projects/web/environments/production/deploy', { release: second.id }));
    const incident = await server.api('POST', '/api/projects/web/incidents', { title: 'v2 answers slowly', environment: 'production' });
    expect(incident.status).toBe(201);
    await deployed(server.api('POST', '/api/projects/web/environments/production/rollback'));

    // What the numbers are made of: each release lists its new commits, each rollout says what it is.
    const events = async (type: string) =>
      (await server.api<{ events: { data: Record<string, unknown> }[] }>('GET', `/api/events?type=${type}`)).body.events.map((e) => e.data);
    expect((await events('rollout.created')).map((d) => d.kind)).toEqual(['deploy', 'deploy', 'rollback']);
    const releases = await events('release.created');
    expect(releases[1]).toMatchObject({ baseReleaseId: first.id, commitsTruncated: false, commits: [{ sha: v2, at: expect.any(String) }] });

    await signIn(page, server);
    await page.getByRole('link', { name: 'DORA' }).click();
    await page.waitForURL(`${server.url}/dora`);
    const summary = page.locator('table.dora-summary');
    await summary.waitFor();
    const row = (name: string) => summary.getByRole('row', { name: new RegExp(`^${name}`) });
    // Two deployments, one failed (an incident, then a rollback by hand); the rollback is no deployment.
    await row('Deployment frequency').waitFor({ timeout: 20_000 });
    expect(await row('Deployment frequency').textContent()).toMatch(/\(2\)/);
    expect(await row('Change failure rate').textContent()).toMatch(/50%\s*\(1 of 2\)\s*low/);
    expect(await row('Lead time for changes').locator('.tier').textContent()).toBe('elite');
    expect(await row('Failed deployment recovery time').textContent()).toMatch(/1 recovered/);

    // The four keys over time, drawn by ECharts on canvases.
    const charts = page.locator('.dora-charts figure');
    await charts.nth(3).waitFor({ timeout: 20_000 });
    expect(await charts.count()).toBe(4);
    await page.locator('.dora-chart canvas').nth(3).waitFor();
    expect(await page.locator('.dora-chart[role="img"]').first().getAttribute('aria-label')).toMatch(
      /2 deployments and 1 incidents marked/,
    );

    // The table behind the numbers: v2's commit with its lead time, the failure and how it recovered.
    const rows = page.locator('table.dora-rollouts tbody tr');
    await rows.nth(2).waitFor();
    expect(await rows.count()).toBe(3);
    const failed = page.locator('table.dora-rollouts tr.counted', { hasText: `#${second.number}` });
    expect(await failed.textContent()).toContain(v2.slice(0, 7));
    expect(await failed.textContent()).toMatch(/incident #1, rolled back by .*restored in/);
    expect(await page.locator('table.dora-rollouts tr.not-counted').textContent()).toMatch(/a rollback restores/);
    await page.getByText(/#1 opened .* failed deployment/).waitFor();
    await screenshot(page, 'dora', { fullPage: true });
    expect(problems).toEqual([]);
  }, 120_000);
});
