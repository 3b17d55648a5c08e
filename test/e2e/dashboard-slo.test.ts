/**
 * The dashboard's SLO and incident pages in a real browser (Debian's Chromium) against a real
 * `gantry up`: a service deployed twice with a 1-hour availability SLO (the workbook's fast page
 * rule then watches 5 s and 0.4 s windows), real failing requests through its proxy that burn the
 * budget and page, then the pages people look at: the environment's SLO card and charts, the
 * projects overview's budget, an incident acknowledged, noted and rolled back by clicks, and the
 * notification delivery log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AXE } from '../support/axe.ts';
import { browserAvailable, type FileBrowser, openBrowser, screenshot, signIn } from '../support/browser.ts';
import { OUTAGE_SERVICE, outageServiceYaml } from '../support/outage-service.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startGantryUp, waitForRunEnd, type GantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

interface SloView {
  budget: { total: number; remaining: number };
  alerts: Record<string, { status: string }>;
}

describe.runIf(browserAvailable())('SLO and incident pages in a browser', () => {
  let server: GantryUp;
  let repo: TestRepo;
  let browser: FileBrowser;
  let context: BrowserContext;
  let page: Page;
  let projectId = '';
  let port = 0;
  const problems: string[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let load: NodeJS.Timeout | undefined;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end());
  });

  const request = (method: string, path: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  const slo = async () => (await server.api<{ slos: SloView[] }>('GET', '/api/projects/shop/slos?env=production')).body.slos[0];
  const deployed = (releaseId: string) =>
    waitFor(
      async () => {
        const view = (
          await server.api<{ rollout: { phase: string; releaseId: string } | null; live: { port: number | null } }>(
            'GET',
            '/api/projects/shop/environments/production/rollout',
          )
        ).body;
        return view.rollout?.releaseId === releaseId && view.rollout.phase === 'succeeded' ? view.live.port : undefined;
      },
      { what: 'the deploy to finish', timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    server = await startGantryUp();
    browser = await openBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused/.test(message.text())) problems.push(message.text());
    });

    repo = await makeRepo({ 'server.js': OUTAGE_SERVICE, 'gantry.yaml': outageServiceYaml('99%') });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    projectId = (await server.api<{ project: { id: string } }>('GET', '/api/projects/shop')).body.project.id;
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const channel = await server.api('POST', '/api/notify/channels', {
      name: 'oncall',
      kind: 'webhook',
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      events: ['slo.alert.*', 'incident.*'],
    });
    expect(channel.status).toBe(201);

    // Two releases deployed, so that the incident page has a deploy to roll back.
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    for (let i = 0; i < 2; i++) {
      const release = (await server.api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run })).body.release.id;
      expect((await server.api('POST', '/api/projects/shop/environments/production/deploy', { release })).status).toBe(201);
      port = await deployed(release);
    }
    // 50 requests a second through the proxy for the whole file.
    load = setInterval(() => void request('GET', '/'), 20);
    await signIn(page, server);
  }, 60_000);

  afterAll(async () => {
    clearInterval(load);
    agent.destroy();
    receiver.closeAllConnections();
    receiver.close();
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  it('shows the budget burning on the environment page and the projects page as failing requests page', async () => {
    // The fast page rule's 5-second window must be measured before it may page.
    await waitFor(async () => ((await slo())?.budget.total ?? 0) > 300, { what: 'measured traffic', timeoutMs: 20_000 });
    expect(await request('POST', '/outage/on')).toBe(200);
    await waitFor(async () => (await slo())?.alerts.page?.status === 'firing' || undefined, { what: 'the page alert', timeoutMs: 20_000 });
    expect(await request('POST', '/outage/off')).toBe(200);

    await page.goto(`${server.url}/projects/${projectId}/environments/production`);
    const card = page.locator('[data-slo="availability"]');
    // A few seconds of 100 % errors against a 1 % objective: the budget is spent.
    await card.locator('.budget-bar[data-budget-level="exhausted"]').waitFor({ timeout: 15_000 });
    const shown = Number(await card.locator('.budget-bar').getAttribute('data-remaining'));
    expect(shown).toBeLessThan(0);
    expect(await card.getByRole('meter', { name: 'Error budget of availability' }).getAttribute('aria-valuenow')).toBe('0');
    // The charts: drawn on canvases, the alert and the deploys in their summaries (the first made
    // the SLO's release current: it is drawn only if a roll-up began before it ended).
    const charts = card.locator('[data-slo-chart="availability"]');
    await charts.locator('canvas').first().waitFor();
    expect(await charts.locator('canvas').count()).toBe(2);
    expect(await charts.getByRole('img').first().getAttribute('aria-label')).toMatch(/1 alert interval and [12] deploys? marked/);
    await card.locator('[data-alert="page"]').first().waitFor();
    expect(await card.locator('tr[data-rule="page"]').count()).toBe(2);
    await card.scrollIntoViewIfNeeded();
    await screenshot(page, 'slo');

    await page.goto(server.url);
    const budget = page.locator('[data-env-budget="production"]');
    await budget.locator('[data-budget-level="exhausted"]').waitFor();
    expect(await budget.getByRole('meter').getAttribute('aria-label')).toBe('Error budget of production (availability, the lowest)');
  }, 60_000);

  it('acknowledges an incident, adds a note and rolls back the deploy before it, all by clicks', async () => {
    const opened = await server.api<{ incident: { number: number } }>('POST', '/api/projects/shop/incidents', {
      title: 'checkout answers 500',
      environment: 'production',
      severity: 'sev1',
    });
    expect(opened.status).toBe(201);
    const number = opened.body.incident.number;

    await page.goto(`${server.url}/incidents?state=active`);
    const row = page.locator(`tr[data-incident="${number}"]`);
    await row.waitFor();
    expect(await row.locator('[data-incident-state]').getAttribute('data-incident-state')).toBe('open');
    await row.getByRole('link', { name: /checkout answers 500/ }).click();
    await page.waitForURL(`${server.url}/projects/${projectId}/incidents/${number}`);

    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Acknowledge' }).click();
    await page.locator('.incident-meta [data-incident-state="acknowledged"]').waitFor();
    expect(await page.getByTestId('incident-owner').textContent()).toMatch(/^dashboard:/);
    expect(await page.getByTestId('tta').textContent()).not.toBe('not yet');

    // Reassign and lower the severity; both are recorded.
    await page.locator('#incident-owner-input').fill('carol');
    await page.locator('#incident-severity-input').selectOption('sev2');
    await page.getByRole('form', { name: 'Owner and severity' }).getByRole('button', { name: 'Save' }).click();
    await waitFor(async () => ((await page.getByTestId('incident-owner').textContent()) === 'carol' ? true : undefined), {
      what: 'the new owner',
    });
    // The owner shows once its change is stored; the severity's may land a moment later.
    const changes = await waitFor(
      async () => {
        const types = (await server.api<{ events: { type: string }[] }>('GET', '/api/events?type=incident.*')).body.events.map(
          (e) => e.type,
        );
        return types.includes('incident.severity') ? types : undefined;
      },
      { what: 'the severity change to be recorded' },
    );
    expect(changes).toEqual(expect.arrayContaining(['incident.assigned', 'incident.severity']));

    await page.getByLabel('Add a note').fill('500s started right after release 2');
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.locator('.tl-note', { hasText: 'note: 500s started right after release 2' }).waitFor();
    // The alert and the deploys before it are drawn on the same timeline, in order.
    const kinds = await page.locator('.incident-timeline > li').evaluateAll((items) => items.map((i) => i.getAttribute('data-kind')));
    expect(kinds.indexOf('deploy')).toBeGreaterThanOrEqual(0);
    expect(kinds.indexOf('deploy')).toBeLessThan(kinds.indexOf('alert'));
    expect(kinds.indexOf('alert')).toBeLessThan(kinds.indexOf('note'));

    const rollback = page.getByRole('button', { name: 'Roll back production' });
    await waitFor(async () => (await rollback.isEnabled()) || undefined, { what: 'the rollback suggestion' });
    await rollback.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back now' }).click();
    await page.locator('.tl-note', { hasText: 'rolled back production from the incident page' }).waitFor();
    const rollouts = (
      await server.api<{ events: { actor: string; data: { releaseNumber: number } }[] }>('GET', '/api/events?type=rollout.created')
    ).body.events;
    expect(rollouts.at(-1)).toMatchObject({ actor: expect.stringMatching(/^dashboard:/), data: { releaseNumber: 1 } });

    await page.getByRole('button', { name: 'Show the draft' }).click();
    await page.getByLabel('Postmortem draft (Markdown)').getByText('# Postmortem: checkout answers 500').waitFor();
    await page.getByRole('heading', { name: 'Timeline' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'incident');
  }, 60_000);

  it('lists the channel and its deliveries with their state and attempts', async () => {
    await waitFor(
      async () =>
        (await server.api<{ deliveries: { status: string }[] }>('GET', '/api/notify/deliveries?status=delivered')).body.deliveries.length >
          0 || undefined,
      { what: 'a delivered notification', timeoutMs: 15_000 },
    );
    await page.goto(`${server.url}/notifications`);
    await page.locator('tr[data-channel="oncall"]').waitFor();
    const delivered = page.locator('tr[data-delivery][data-status="delivered"]').first();
    await delivered.waitFor();
    expect(await delivered.locator('td').nth(4).textContent()).toBe('1');
  });

  it('has no serious accessibility problem in the SLO card and on the incident page (axe, WCAG 2.1 AA)', async () => {
    // axe is injected, which the app's CSP refuses: it checks in a context that allows it, only
    // the richest of what this file adds (the rest of the environment page is dashboard.test.ts's;
    // the notification page's two tables are built like the other pages' tables).
    const checker = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    try {
      const other = await checker.newPage();
      await signIn(other, server);
      const pages: [string, string][] = [
        [`/projects/${projectId}/environments/production`, '.slo-list canvas'],
        [`/projects/${projectId}/incidents/1`, '.incident-timeline'],
      ];
      for (const [path, ready] of pages) {
        await other.goto(`${server.url}${path}`);
        await other.locator(ready).first().waitFor();
        await other.addScriptTag({ content: AXE });
        const violations = await other.evaluate(
          async (scope) => {
            type Result = { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
            const axe = (window as unknown as { axe: { run(c: Element, o: object): Promise<Result> } }).axe;
            const result = await axe.run(document.querySelector(scope) as Element, {
              runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
              // Only the violations are read: axe need not gather every passing node.
              resultTypes: ['violations'],
            });
            return result.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
          },
          path.endsWith('production') ? '.slo-list' : 'main',
        );
        expect(violations, path).toEqual([]);
      }
    } finally {
      await checker.close();
    }
  });

  it('raised no uncaught error and no Content-Security-Policy refusal', () => {
    expect(problems).toEqual([]);
  });
});
