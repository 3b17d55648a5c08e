/**
 * The dashboard in a real browser (Debian's Chromium) against a real `gantry up`: sign in with
 * the one-time link, watch a run go green live, find a failing test, and abort a canary.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AXE, seriousViolations } from '../support/axe.ts';
import { browserAvailable, type FileBrowser, openBrowser, screenshot, signIn } from '../support/browser.ts';
import { openInApp } from '../support/in-app-navigation.ts';
import { startGantryUp, type GantryUp } from '../support/server.ts';

import { waitFor } from '../support/wait.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { itemBox } from '../../web/src/graph/geometry.ts';
import { layoutGraph, moveFocus } from '../../web/src/graph/layout.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');

/** A step that waits until the test opens the gate: the browser sees "running" for as long as it needs. */
const gateStep = (port: number) =>
  `node -e "(async()=>{for(;;){try{if((await (await fetch('http://127.0.0.1:${port}/')).text())==='open')return}catch{}await new Promise(r=>setTimeout(r,50))}})()"`;

const pipeline = (gatePort: number) => `
pipeline:
  on: { manual: {} }
  jobs:
    build:
      steps:
        - run: W=app; printf '\\033[32mcompiling the %s\\033[0m\\n' "$W"
        - run: ${JSON.stringify(gateStep(gatePort))}
        - run: echo "built $(echo ok), see https://example.com/build"
    test:
      needs: build
      matrix: { shard: [1, 2] }
      steps: ["echo testing shard \${{ matrix.shard }}"]
    package:
      needs: test
      steps: ["echo packaged"]
`;

const FAILING_PIPELINE = `
pipeline:
  on: { manual: {} }
  jobs:
    unit:
      steps:
        - run: |
            mkdir -p reports
            cat > reports/junit.xml <<'XML'
            <testsuites><testsuite name="checkout" tests="3" failures="1">
              <testcase classname="checkout" name="adds an item" time="0.01"/>
              <testcase classname="checkout" name="rejects an expired card" time="0.02"><failure message="expected 402, got 200">at pay (checkout.js:42)</failure></testcase>
              <testcase classname="checkout" name="applies a coupon" time="0.01"/>
            </testsuite></testsuites>
            XML
            exit 1
      reports: { junit: "reports/*.xml" }
`;

function serviceYaml(version: string): string {
  return `
pipeline:
  on: { manual: {} }
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: "${version}" }
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    strategy:
      canary:
        steps: [{ weight: 20, pause: 10m }, { weight: 50, pause: 10m }]
        analysis:
          error-rate: { max: 5% }
          min-requests: 10
          window: 10s
`;
}

/** A graph with a matrix group, a long name and a job two columns away: what the canvas must draw and hit. */
const GRAPH_PIPELINE = `
pipeline:
  on: { manual: {} }
  jobs:
    build: { steps: ["true"] }
    lint: { steps: ["true"] }
    test:
      needs: build
      matrix: { shard: [1, 2] }
      steps: ["true"]
    a-job-with-a-name-far-too-long-for-its-box: { needs: lint, steps: ["true"] }
    package: { needs: [test, lint], steps: ["true"] }
`;

interface Release {
  id: string;
  number: number;
}

describe.runIf(browserAvailable())('the dashboard in a browser', () => {
  let server: GantryUp;
  let browser: FileBrowser;
  let context: BrowserContext;
  let page: Page;
  const repos: TestRepo[] = [];
  const problems: string[] = [];

  /**
   * Project `web`'s two releases (v1, then v2 from a later commit) for the canary case, built
   * through the API from the file's start while the first cases run: builds are waits.
   */
  let webReleasesMade: Promise<{ first: Release; second: Release }> | undefined;
  const webReleases = () => {
    if (!webReleasesMade) throw new Error("the file's beforeAll did not start web's releases");
    return webReleasesMade;
  };
  async function makeWebReleases(): Promise<{ first: Release; second: Release }> {
    const repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': serviceYaml('v1') });
    repos.push(repo);
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'web' })).status).toBe(201);
    const runAndRelease = async () => {
      const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/web/runs', {})).body.run;
      await waitFor(
        async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'success' || undefined,
        { what: 'the build', timeoutMs: 60_000 },
      );
      const made = await server.api<{ release: Release }>('POST', '/api/projects/web/releases', { run: run.id });
      expect(made.status).toBe(201);
      return made.body.release;
    };
    const first = await runAndRelease();
    await repo.commit({ 'gantry.yaml': serviceYaml('v2') }, 'v2');
    return { first, second: await runAndRelease() };
  }

  beforeAll(async () => {
    server = await startGantryUp();
    webReleasesMade = makeWebReleases();
    // Awaited by the canary case; until then a failure must not count as unhandled.
    webReleasesMade.catch(() => undefined);
    browser = await openBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    // Uncaught errors and Content-Security-Policy refusals fail the file (see the last test).
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused/.test(message.text())) problems.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    for (const repo of repos) await repo.cleanup();
  });

  /** Each test stands alone: it signs in unless an earlier one did. */
  async function signedIn(): Promise<void> {
    if (!(await context.cookies()).some((c) => c.name === 'gantry_session')) await signIn(page, server);
  }

  async function project(name: string, files: Record<string, string>): Promise<TestRepo> {
    await signedIn();
    const repo = await makeRepo(files);
    repos.push(repo);
    const added = await server.api('POST', '/api/projects', { path: repo.dir, name });
    expect(added.status).toBe(201);
    return repo;
  }

  it('signs in with the one-time link, which then no longer works', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Sign in to Gantry' }).waitFor();
    const link = await server.loginLink();
    await page.goto(link);
    await page.waitForURL(`${server.url}/`);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'gantry_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    const other = await browser.newContext();
    const response = await (await other.newPage()).goto(link);
    expect(response?.status()).toBe(401);
    await other.close();
  });

  it('shows a run going from queued to success, its graph and log updating live', async () => {
    let gate = 'closed';
    const gateServer: Server = createServer((_req, res) => res.end(gate));
    await new Promise<void>((resolve) => gateServer.listen(0, '127.0.0.1', resolve));
    const gatePort = (gateServer.address() as { port: number }).port;
    try {
      await project('shop', { 'gantry.yaml': pipeline(gatePort) });
      const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run;
      await page.goto(`${server.url}/runs/${run.id}`);
      const build = page.locator('[data-job="build"]');
      await build.and(page.locator('[data-status="running"]')).waitFor();
      // The matrix is grouped, the downstream job waits.
      await page.locator('[data-job="package"][data-status="waiting"]').waitFor();
      await page.goto(`${server.url}/runs/${run.id}/jobs/build`);
      const log = page.locator('[data-testid="log-scroll"]');
      await log.getByText('compiling the app').waitFor();
      gate = 'open';
      await log.getByText('built ok').waitFor();
      await page.locator('[data-job="package"][data-status="success"]').waitFor({ timeout: 30_000 });
      await page.locator('.run-header [data-status="success"]').first().waitFor();
      expect(await page.locator('a[href="https://example.com/build"]').count()).toBeGreaterThan(0);
      await screenshot(page, 'run');

      // The graph by keyboard: arrows move between jobs, Enter opens one.
      await page.locator('[data-job="build"]').focus();
      await page.keyboard.press('ArrowRight');
      const focused = await page.evaluate(
        () => document.activeElement?.getAttribute('data-job') ?? document.activeElement?.getAttribute('data-group'),
      );
      expect(focused).toMatch(/^test/);
      await page.locator('[data-job="package"]').focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(`${server.url}/runs/${run.id}/jobs/package`);
    } finally {
      gateServer.close();
    }
  });

  it('opens a failing job and shows the failing test first', async () => {
    await project('checkout', { 'gantry.yaml': FAILING_PIPELINE });
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/checkout/runs', {})).body.run;
    await page.goto(`${server.url}/runs/${run.id}`);
    await page.locator('[data-job="unit"][data-status="failure"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-job="unit"]').click();
    await page.getByRole('tab', { name: /Tests/ }).click();
    const first = page.locator('[data-test-status]').first();
    await first.waitFor();
    expect(await first.getAttribute('data-test-status')).toBe('failed');
    expect(await first.textContent()).toContain('rejects an expired card');
    await page.getByText('expected 402, got 200').first().waitFor();
  });

  it('starts a canary, shows the traffic split move, aborts it and shows the rollback on the timeline', async () => {
    const { first, second } = await webReleases();
    // Numbered in the order they were made, as the project's list shows them.
    const listed = await waitFor(
      async () => {
        const { releases } = (await server.api<{ releases: Release[] }>('GET', '/api/projects/web/releases')).body;
        return releases.length >= 2 ? releases : undefined;
      },
      { what: "web's two releases", timeoutMs: 30_000 },
    );
    expect(listed.find((r) => r.number === 1)?.id).toBe(first.id);
    expect(listed.find((r) => r.number === 2)?.id).toBe(second.id);
    await signedIn();
    const projectId = (await server.api<{ project: { id: string } }>('GET', '/api/projects/web')).body.project.id;
    // The first deploy from the project page, of release 1: production is listed before anything ran there.
    await page.goto(`${server.url}/projects/${projectId}`);
    // Production has no `auto`: its card says deploys there are by hand.
    await page.locator('[data-environment="production"]').getByText('by hand').waitFor();
    await page.locator('tr', { hasText: /^#1\D/ }).getByRole('button', { name: 'Deploy to production' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Deploy' }).click();
    await page.waitForURL(`${server.url}/projects/${projectId}/environments/production`);
    await waitFor(
      async () =>
        (await server.api<{ rollout: { phase: string } | null }>('GET', '/api/projects/web/environments/production/rollout')).body.rollout
          ?.phase === 'succeeded' || undefined,
      { what: 'v1 in production', timeoutMs: 30_000 },
    );

    await page.goto(`${server.url}/projects/${projectId}/environments/production`);
    const split = page.locator('[data-testid="traffic-split"]');
    await split.waitFor();
    expect(await split.getAttribute('data-canary')).toBe('0');

    await server.api('POST', '/api/projects/web/environments/production/deploy', { release: second.id });
    await page.locator('[data-testid="traffic-split"][data-canary="20"]').waitFor({ timeout: 30_000 });
    // A second page, opened before any request was stored, on a clock the test moves: the heatmaps
    // come from the stored roll-ups alone, so the page must fetch them again as they are stored.
    const watching = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await watching.addCookies(await context.cookies());
    await watching.clock.install();
    const watcher = await watching.newPage();
    await watcher.goto(`${server.url}/projects/${projectId}/environments/production`);
    await watcher.getByText('No requests in this span yet.').waitFor({ timeout: 30_000 });

    // Light traffic through the environment's proxy, so the charts and numbers have something to show.
    const port = (await server.api<{ live: { port: number } }>('GET', '/api/projects/web/environments/production/rollout')).body.live.port;
    const load = new AbortController();
    const traffic = (async () => {
      while (!load.signal.aborted) {
        await Promise.all(
          Array.from({ length: 5 }, () =>
            fetch(`http://127.0.0.1:${port}/`, { signal: load.signal }).then(
              (r) => r.text(),
              () => '',
            ),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      await page.waitForFunction(
        () => {
          const canary = [...document.querySelectorAll('dl[aria-label^="Requests in the last"] dt')].find((dt) =>
            dt.textContent?.startsWith('canary'),
          );
          return Number(/^(\d+) req/.exec(canary?.nextElementSibling?.textContent ?? '')?.[1] ?? 0) >= 30;
        },
        undefined,
        { timeout: 30_000 },
      );
      // The proxy stores a roll-up every 10 s; once one with requests is stored, one refresh period on the page's clock shows it.
      await waitFor(
        async () => {
          const series = await server.api<{ totalHeatmap: { cells: unknown[] } }>(
            'GET',
            '/api/projects/web/environments/production/series?seconds=900&step=10',
          );
          return series.body.totalHeatmap.cells.length > 0 || undefined;
        },
        { what: 'a stored roll-up with requests', timeoutMs: 30_000 },
      );
      await watcher.clock.fastForward(10_000);
      await watcher.locator('.heatmaps').waitFor({ timeout: 10_000 });
      await watching.close();
    } finally {
      load.abort();
      await traffic;
    }

    await page.getByRole('button', { name: 'Abort' }).click();
    await page.getByRole('dialog').getByRole('button', { name: /Abort/ }).click();
    await page.locator('[data-testid="traffic-split"][data-canary="0"]').waitFor({ timeout: 30_000 });

    await page.goto(`${server.url}/events?project=${projectId}&environment=production`);
    await page.locator('[data-event-type^="rollout."]').first().waitFor();
    const types = await page.locator('[data-event-type]').evaluateAll((items) => items.map((item) => item.getAttribute('data-event-type')));
    expect(types.some((type) => /abort|rolled-back|rollback/.test(type ?? ''))).toBe(true);

    // Stopping the environment from its page: the port stops answering.
    await page.goto(`${server.url}/projects/${projectId}/environments/production`);
    await page.getByRole('button', { name: 'Stop environment' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Stop everything here' }).click();
    await waitFor(
      async () =>
        fetch(`http://127.0.0.1:${port}/`).then(
          () => undefined,
          () => true,
        ),
      { what: 'the port to close', timeoutMs: 30_000 },
    );
    const stopped = (await server.api<{ events: { actor: string }[] }>('GET', '/api/events?type=environment.stopped')).body.events;
    expect(stopped.at(-1)?.actor).toMatch(/^dashboard:/);
  });

  it('reconnects after the server restarts and catches up on what happened meanwhile', async () => {
    await project('late', { 'gantry.yaml': FAILING_PIPELINE });
    await page.goto(`${server.url}/events`);
    const status = page.locator('.live-indicator');
    await status.getByText('live').waitFor();
    await server.stopServer();
    await status.getByText('reconnecting…').waitFor();
    await server.startServer();
    // Happens while the page may still be waiting to reconnect: it must show up either way.
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/late/runs', {})).body.run;
    await status.getByText('live').waitFor({ timeout: 40_000 });
    await page.locator('[data-event-type="server.started"]').first().waitFor();
    await page.locator(`[data-event-type="run.created"] a[href="/runs/${run.id}"]`).waitFor({ timeout: 30_000 });
  });

  it('draws a big graph on a canvas: hover, click, keys, zoom, and the job list for assistive technology', async () => {
    await project('wide', { 'gantry.yaml': GRAPH_PIPELINE });
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/wide/runs', {})).body.run;
    await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'success' || undefined, {
      what: 'the run',
      timeoutMs: 30_000,
    });
    const { jobs } = (await server.api<{ jobs: { key: string; id: string; needs: string[] }[] }>('GET', `/api/runs/${run.id}`)).body;
    // Where the dashboard puts each job: the same pure layout and grid the page uses. The page
    // opens on a matrix instance, so its group is open.
    const layout = layoutGraph(jobs, { expanded: new Set(['test']) });
    const boxOf = (id: string) => {
      const item = layout.items.find((i) => i.id === id);
      if (!item) throw new Error(`no item ${id}`);
      return itemBox(item.column, item.row);
    };

    // Forced by the URL (a graph this small is DOM by default); kept while moving between jobs.
    await page.goto(`${server.url}/runs/${run.id}/jobs/${encodeURIComponent('test (2)')}?graph=canvas`);
    const canvas = page.locator('canvas[data-painted]');
    await canvas.waitFor();
    await page.locator('canvas button[data-group][aria-expanded="true"]').waitFor({ state: 'attached' });
    expect(await page.locator('.graph-node').count()).toBe(0);
    const origin = (await canvas.boundingBox())!;
    const at = (id: string, dx = 20, dy = 19) => ({ x: origin.x + boxOf(id).x + dx, y: origin.y + boxOf(id).y + dy });

    // Drawn: the status stripe of a job in the theme's success colour.
    const stripeColour = () =>
      page.evaluate(
        ({ x, y }) => {
          const element = document.querySelector('canvas') as HTMLCanvasElement;
          const dpr = element.width / element.clientWidth;
          const [r, g, b] = element.getContext('2d')?.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data ?? [];
          const probe = document.createElement('span');
          probe.style.color = 'var(--ok)';
          document.body.append(probe);
          const ok = getComputedStyle(probe).color;
          probe.remove();
          return `rgb(${r}, ${g}, ${b})` === ok || undefined;
        },
        { x: boxOf('job:lint').x + 2, y: boxOf('job:lint').y + 19 },
      );
    await waitFor(stripeColour, { what: "lint's stripe in the success colour" });

    // Hover: the pointer over a job shows its whole name; over a gap, nothing.
    const long = 'a-job-with-a-name-far-too-long-for-its-box';
    await page.mouse.move(at(`job:${long}`).x, at(`job:${long}`).y);
    await waitFor(async () => (await canvas.getAttribute('title')) === long || undefined, { what: 'the hover title' });
    expect(await canvas.evaluate((c) => getComputedStyle(c).cursor)).toBe('pointer');
    await page.mouse.move(at('job:build', 212 + 20).x, at('job:build').y);
    await waitFor(async () => (await canvas.getAttribute('title')) === '' || undefined, { what: 'no title over a gap' });

    // Click: opens the job under the pointer; the list marks it as the current one.
    await page.mouse.click(at('job:package').x, at('job:package').y);
    await page.waitForURL(`${server.url}/runs/${run.id}/jobs/package?graph=canvas`);
    await page.locator('canvas a[data-job="package"][aria-current="page"]').waitFor({ state: 'attached' });
    // A click on the group header folds it: its instances leave the list.
    await page.mouse.click(at('group:test').x, at('group:test').y);
    await page.locator('canvas button[data-group][aria-expanded="false"]').waitFor({ state: 'attached' });
    expect(await page.locator('canvas a[data-job^="test ("]').count()).toBe(0);

    // Keyboard: the list's links are the graph's tab stops; arrows move, Enter opens or expands.
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-item'));
    await page.locator('canvas a[data-job="build"]').focus();
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe(moveFocus(layoutGraph(jobs), 'job:build', 'right'));
    await page.locator('canvas button[data-group]').focus();
    await page.keyboard.press('Enter');
    await page.locator('canvas button[data-group][aria-expanded="true"]').waitFor({ state: 'attached' });
    await page.keyboard.press('ArrowDown');
    expect(await focused()).toBe('instance:test (1)');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.url}/runs/${run.id}/jobs/${encodeURIComponent('test (1)')}?graph=canvas`);

    // Zoom: keys and buttons resize what scrolls; a click still finds its job at the new scale.
    const spacerWidth = () => page.locator('.job-graph-spacer').evaluate((e) => Number.parseFloat((e as HTMLElement).style.width));
    const full = await spacerWidth();
    await page.getByRole('button', { name: 'Zoom out' }).click();
    await page.getByRole('button', { name: /^Zoom 80 %/ }).waitFor();
    expect(await spacerWidth()).toBeCloseTo(full * 0.8, 0);
    const scaled = boxOf('job:lint');
    await page.mouse.click(origin.x + (scaled.x + 20) * 0.8, origin.y + (scaled.y + 19) * 0.8);
    await page.waitForURL(`${server.url}/runs/${run.id}/jobs/lint?graph=canvas`);

    // axe is injected, which the app's CSP refuses: it checks the same page in a context that allows it.
    const checker = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
    try {
      const other = await checker.newPage();
      await signIn(other, server);
      await other.goto(`${server.url}/runs/${run.id}/jobs/build?graph=canvas`);
      await other.locator('canvas[data-painted]').waitFor();
      await other.addScriptTag({ content: AXE });
      expect(await seriousViolations(other)).toEqual([]);
    } finally {
      await checker.close();
    }
  });

  it.each([
    { name: 'a phone in the dark', viewport: { width: 360, height: 740 }, colorScheme: 'dark' as const, mobile: true },
    { name: 'a laptop in the light', viewport: { width: 1280, height: 800 }, colorScheme: 'light' as const, mobile: false },
  ])('works on $name, and axe finds no serious accessibility problem', async ({ viewport, colorScheme, mobile }) => {
    // bypassCSP: only so the test can inject axe; the app itself runs under its strict policy.
    const phone = await browser.newContext({ viewport, colorScheme, isMobile: mobile, hasTouch: mobile, bypassCSP: true });
    try {
      const small = await phone.newPage();
      await signIn(small, server);
      const projectId = (await server.api<{ project: { id: string } }>('GET', '/api/projects/web')).body.project.id;
      const runId = (await server.api<{ runs: { id: string }[] }>('GET', '/api/runs?project=shop&limit=1')).body.runs[0]!.id;
      const pages = [
        '/',
        `/projects/${projectId}`,
        `/runs/${runId}/jobs/build`,
        `/projects/${projectId}/environments/production`,
        '/events',
      ];
      for (const [index, path] of pages.entries()) {
        // The first page loads in full; the others open inside the app as its links do (no reload).
        if (index === 0) {
          await small.goto(`${server.url}${path}`);
          await small.locator('main h1').first().waitFor();
          await small.waitForLoadState('networkidle').catch(() => undefined);
        } else {
          await openInApp(small, path);
        }
        const layout = await small.evaluate(() => ({
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          background: getComputedStyle(document.body).backgroundColor,
        }));
        expect(layout.overflow, `${path} scrolls sideways`).toBeLessThanOrEqual(1);
        const [r, g, b] = (layout.background.match(/\d+/g) ?? []).map(Number);
        const brightness = (r! + g! + b!) / 3;
        if (colorScheme === 'dark') expect(brightness, `${path} is dark`).toBeLessThan(60);
        else expect(brightness, `${path} is light`).toBeGreaterThan(200);
        // Injected once: in-app navigation keeps it loaded.
        if (index === 0) await small.addScriptTag({ content: AXE });
        const violations = await seriousViolations(small);
        expect(violations, path).toEqual([]);
      }
    } finally {
      await phone.close();
    }
  });

  it('filters the event log by type and project, and keeps the filter in the address', async () => {
    await signedIn();
    await page.goto(`${server.url}/events`);
    const types = () => page.locator('li[data-event-type]').evaluateAll((items) => items.map((i) => i.getAttribute('data-event-type')));
    const filters = page.getByRole('search', { name: 'Filter events' });
    await filters.getByRole('combobox', { name: 'Type' }).selectOption('run.*');
    await page.waitForURL(/[?&]type=run\.\*/);
    // The list shows the unfiltered events until the filtered ones arrive.
    await expect
      .poll(async () => {
        const shown = await types();
        return shown.length > 0 && shown.every((type) => type?.startsWith('run.'));
      })
      .toBe(true);
    const project = filters.getByRole('combobox', { name: 'Project' });
    await project.selectOption({ label: 'web' });
    await page.waitForURL(/[?&]project=/);
    await filters.getByRole('combobox', { name: 'Type' }).selectOption('all');
    await page.waitForURL((url) => !url.searchParams.has('type') && url.searchParams.has('project'));
    await expect.poll(async () => new Set((await types()).map((type) => type?.split('.')[0])).size).toBeGreaterThan(1);
  });

  it('signs out', async () => {
    await signedIn();
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Gantry' }).waitFor();
    expect((await context.cookies()).some((c) => c.name === 'gantry_session')).toBe(false);
  });

  it('raised no uncaught error and no Content-Security-Policy refusal on any page', () => {
    expect(problems).toEqual([]);
  });
});
