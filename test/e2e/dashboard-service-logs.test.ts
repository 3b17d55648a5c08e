/**
 * The log explorer in a real browser (Debian's Chromium) against a real `gantry up`: lines written
 * where the supervisor writes them (the service-logs layout, RotatingLog) are shown, filtered by
 * regex and JSON field on the server, followed live, and a line's link opens it highlighted.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../src/executor/index.ts';
import { RotatingLog } from '../../src/runtime/rotating-log.ts';
import { instanceLogDir } from '../../src/server/logs/index.ts';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';

describe.runIf(browserAvailable())('the log explorer in a browser', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  let log: RotatingLog;
  const problems: string[] = [];

  beforeAll(async () => {
    [server, browser, repo] = await Promise.all([
      startGantryUp(),
      launchBrowser(),
      makeRepo({ 'gantry.yaml': 'pipeline: { jobs: { a: { steps: ["true"] } } }\n' }),
    ]);
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    const project = (await server.api<{ project: { id: string } }>('GET', '/api/projects/shop')).body.project;
    log = new RotatingLog({
      file: join(instanceLogDir(server.dataDir, project.id, 'production', 'R1', 'shop.production.r1.a'), 'instance.log'),
      capBytes: 1 << 20,
      keep: Number.POSITIVE_INFINITY,
      masker: createMasker([]),
      now: Date.now,
    });
    for (let i = 0; i < 300; i++)
      log.lines('o', `${JSON.stringify({ level: i % 50 === 7 ? 'error' : 'info', msg: `request ${i} handled` })}\n`);
    log.lines('e', 'plain stderr: connection refused\n');
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await signIn(page, server);
  }, 60_000);
  afterAll(async () => {
    log?.close();
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  const rows = () => page.locator('.service-log-row');

  it('shows the newest lines, filters on the server, follows live and opens a linked line', async () => {
    await page.goto(`${server.url}/projects/shop/environments/production/logs`);
    await page.getByText('plain stderr: connection refused').waitFor();
    // Virtualised: far fewer rows in the DOM than lines.
    expect(await rows().count()).toBeLessThan(150);
    await expect.poll(() => page.getByText('301 lines').count()).toBe(1);

    await page.getByLabel('fields').fill('level=error');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('6 lines').waitFor();
    expect(await rows().locator('.text').allTextContents()).toEqual([7, 57, 107, 157, 207, 257].map((i) => `request ${i} handled`));
    expect(await rows().first().locator('.field-level').textContent()).toBe('level=error');
    await screenshot(page, 'service-logs');

    // Live: a new error line appears without reloading.
    log.lines('o', `${JSON.stringify({ level: 'error', msg: 'payment declined' })}\n`);
    await page.getByText('payment declined').waitFor({ timeout: 15_000 });
    log.lines('o', `${JSON.stringify({ level: 'info', msg: 'not an error' })}\n`);

    // A line's link opens the minutes around it with the line highlighted.
    const href = await rows().filter({ hasText: 'request 157 handled' }).locator('a.time').getAttribute('href');
    expect(href).toMatch(/^\/projects\/shop\/environments\/production\/logs\?instance=shop\.production\.r1\.a&at=[^&]+&line=[0-9a-f]{8}$/);
    await page.goto(`${server.url}${href}`);
    await page.locator('.service-log-row.target').first().waitFor();
    // That line, in view and the only one marked, although a batch of lines shares its millisecond.
    await page.getByText('request 157 handled').waitFor();
    expect(await page.locator('.service-log-row.target .text').allTextContents()).toEqual(['request 157 handled']);

    await page.getByLabel('regular expression').fill('refused$');
    await page.getByLabel('fields').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 lines').waitFor();
    expect(await rows().locator('.text').allTextContents()).toEqual(['plain stderr: connection refused']);
    expect(problems).toEqual([]);
  });
});
