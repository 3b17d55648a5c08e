/**
 * The experiment pages in a real browser (Debian's Chromium) against a real `gantry up` with a
 * deployed service under load: the experiments of the environment, Start (confirmed) opens the
 * run's page with the hypothesis chart and the fault's window shaded, Abort (confirmed) ends it,
 * and the record says who aborted it.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { deployShopToStaging } from '../support/chaos-deploy.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { OK_SERVICE, okServiceYaml } from '../support/chaos-service.ts';

const YAML = `${okServiceYaml()}  pay-outage:
    environment: staging
    hypothesis: { error-rate: { max: 90% } }
    faults:
      - abort: { status: 503, match: { path: /pay } }
    duration: 60s
    before: 1s
    after: 1s
`;

describe.runIf(browserAvailable())('the experiment pages in a browser', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  let load: NodeJS.Timeout | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    [server, browser, repo] = await Promise.all([
      startGantryUp({ env: { GANTRY_SANDBOX: 'off' } }),
      launchBrowser(),
      makeRepo({ 'server.js': OK_SERVICE, 'gantry.yaml': YAML }),
    ]);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    if (load) clearInterval(load);
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  it('starts an experiment, shows its hypothesis chart with the fault window, and aborts it, confirmed and recorded', async () => {
    const api = async <T>(method: string, path: string, body?: unknown) => (await server.api<T>(method, path, body)).body;
    const port = await deployShopToStaging(server, repo.dir);
    let i = 0;
    load = setInterval(() => {
      void fetch(`http://127.0.0.1:${port}${i++ % 2 === 0 ? '/pay' : '/'}`).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
    }, 50);

    await signIn(page, server);
    await page.goto(`${server.url}/projects/shop`);
    await page.getByRole('link', { name: 'Experiments' }).click();
    await page.waitForURL(`${server.url}/projects/shop/experiments`);
    await page.getByRole('heading', { name: 'staging' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Start pay-outage' }).click();
    await page.getByRole('dialog', { name: 'Start pay-outage' }).getByRole('button', { name: 'Start' }).click();
    await page.waitForURL(new RegExp(`${server.url}/projects/shop/experiment-runs/\\w+`));
    const id = page.url().split('/').at(-1) as string;

    // The chart: the looks as a line, the fault's window shaded, the bound dashed.
    const chart = page.locator('svg.hypothesis-chart');
    await chart.locator('rect.fault-window').waitFor({ timeout: 20_000 });
    await waitFor(async () => ((await chart.locator('polyline.looks').getAttribute('points')) ?? '').split(' ').length >= 2, {
      what: 'two looks on the chart',
    });
    expect(await chart.getAttribute('aria-label')).toMatch(/error-rate over the run: \d+ looks, the fault's window shaded, bound 0.9/);
    await page.getByText(/requests affected, \d+ unaffected/).waitFor();
    await screenshot(page, 'experiment-run');

    await page.getByRole('button', { name: 'Abort' }).click();
    await page.getByRole('dialog', { name: 'Abort' }).getByRole('button', { name: 'Abort experiment' }).click();
    await page.getByText('Verdict: aborted').waitFor({ timeout: 20_000 });
    const record = (
      await api<{ run: { verdict: string; reason: string; affected: number } }>('GET', `/api/projects/shop/experiment-runs/${id}`)
    ).run;
    expect(record.verdict).toBe('aborted');
    expect(record.reason).toMatch(/^aborted by /);
    expect(record.affected).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'shop experiments' }).click();
    await page.locator('table.experiment-runs td.verdict.aborted').waitFor();
    expect(problems).toEqual([]);
  }, 120_000);
});
