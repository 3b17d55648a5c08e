/**
 * The header's search box in a real browser (Debian's Chromium) against a real `gantry up`: a real
 * run of a real commit, found by a prefix of its commit and by words of its job, each result a
 * link to its page; a query that does not parse says where.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const PIPELINE = `
pipeline:
  on: { manual: {} }
  jobs:
    unit-tests: { steps: ["echo testing"] }
`;

describe.runIf(browserAvailable())('search in the dashboard', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  const problems: string[] = [];

  beforeAll(async () => {
    [server, browser, repo] = await Promise.all([startGantryUp(), launchBrowser(), makeRepo({ 'gantry.yaml': PIPELINE })]);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  it('finds a run by its commit and its job by a word, and opens each from its link', async () => {
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    const run = (await server.api<{ run: { id: string; event: { sha: string } } }>('POST', '/api/projects/shop/runs', {})).body.run;
    await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'success' || undefined, {
      what: 'the run',
      timeoutMs: 30_000,
    });

    await signIn(page, server);
    const box = page.getByRole('searchbox', { name: /search runs/i });
    await box.waitFor();
    await page.keyboard.press('/');
    await expect.poll(() => box.evaluate((el) => el === document.activeElement)).toBe(true);
    await box.fill(`commit:${run.event.sha.slice(0, 8)} type:run`);
    await box.press('Enter');
    await page.waitForURL(/\/search\?q=/);
    const results = page.getByRole('list', { name: 'Results' });
    const runLink = results.getByRole('link', { name: /^Run #1 success — shop/ });
    await runLink.waitFor();
    expect(await results.getByRole('listitem').count()).toBe(1);
    await screenshot(page, 'search');
    await runLink.click();
    await page.waitForURL(`${server.url}/runs/${run.id}`);

    await box.fill('unit tests');
    await box.press('Enter');
    const jobLink = page.getByRole('list', { name: 'Results' }).getByRole('link', { name: /^Job unit-tests success/ });
    await jobLink.waitFor();
    await jobLink.click();
    await page.waitForURL(`${server.url}/runs/${run.id}/jobs/unit-tests`);
    expect(problems).toEqual([]);
  }, 90_000);

  it('says where a query does not parse', async () => {
    const box = page.getByRole('searchbox', { name: /search runs/i });
    await box.fill('deploy colour:red');
    await box.press('Enter');
    await expect.poll(async () => page.getByRole('alert').textContent()).toMatch(/unknown filter "colour:".*at column 8/);
  }, 30_000);
});
