/**
 * The experiment pages in a real browser (Debian's Chromium) against a real `gantry up` with a
 * deployed service under load, one server and one browser for the file:
 * - the experiments of the environment, Start (confirmed) opens the run's page with the hypothesis
 *   chart and the fault's window shaded, Abort (confirmed) ends it, and the record says who
 *   aborted it;
 * - where each instance fault ran and what it did, from the record: a CPU pressure's workers
 *   inside the instance's sandbox (bubblewrap), and how much of /tmp a disk-full filled.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxAvailable } from '../../src/executor/index.ts';
import { browserAvailable, type FileBrowser, openBrowser, screenshot, signIn } from '../support/browser.ts';
import { deployShopToStaging } from '../support/chaos-deploy.ts';
import { OK_SERVICE } from '../support/chaos-service.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SANDBOX = sandboxAvailable();

// The in-memory /tmp a disk-full fills exists only inside the sandbox: without bubblewrap the
// instance-fault case is skipped, and neither its /tmp nor its experiment is declared.
const YAML = `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
${SANDBOX ? '  tmp-size: 1MiB\n' : ''}  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging: { strategy: { recreate: {} } }
experiments:
  pay-outage:
    environment: staging
    hypothesis: { error-rate: { max: 90% } }
    faults:
      - abort: { status: 503, match: { path: /pay } }
    duration: 60s
    before: 1s
    after: 1s
${
  SANDBOX
    ? `  squeeze:
    environment: staging
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - cpu: { workers: 1 }
      - disk-full: {}
    duration: 60s
    before: 1s
    after: 1s
`
    : ''
}`;

interface Run {
  running?: boolean;
  instanceFaults: { kind: string; instanceId: string; inside?: boolean; filledBytes?: number }[];
}

describe.runIf(browserAvailable())('the experiment pages in a browser', () => {
  let server: GantryUp;
  let browser: FileBrowser;
  let context: BrowserContext;
  let page: Page;
  let repo: TestRepo;
  let deployed: Promise<number> | undefined;
  const problems: string[] = [];
  const api = async <T>(method: string, path: string, body?: unknown) => (await server.api<T>(method, path, body)).body;

  beforeAll(async () => {
    [server, browser, repo] = await Promise.all([
      startGantryUp(),
      openBrowser(),
      makeRepo({ 'server.js': OK_SERVICE, 'gantry.yaml': YAML }),
    ]);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  /** The service both cases need, deployed once (inside a case: the deploy needs a case's time, not a hook's). */
  const staging = () => {
    deployed ??= deployShopToStaging(server, repo.dir);
    return deployed;
  };

  /** Each case stands alone: it signs in unless an earlier one did. */
  async function signedIn(): Promise<void> {
    if (!(await context.cookies()).some((c) => c.name === 'gantry_session')) await signIn(page, server);
  }

  it('starts an experiment, shows its hypothesis chart with the fault window, and aborts it, confirmed and recorded', async () => {
    const port = await staging();
    let i = 0;
    const load = setInterval(() => {
      void fetch(`http://127.0.0.1:${port}${i++ % 2 === 0 ? '/pay' : '/'}`).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
    }, 50);
    try {
      await signedIn();
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
    } finally {
      clearInterval(load);
    }
  }, 120_000);

  it.runIf(SANDBOX)(
    'shows the CPU pressure inside the sandbox and the bytes disk-full filled, as recorded',
    async () => {
      await staging();
      // An aborted run ends its last phase after the abort answers; until then a new run is refused (409).
      const id = await waitFor(
        async () => {
          const r = await server.api<{ experiment?: { experimentId: string } }>('POST', '/api/projects/shop/experiments/squeeze/run', {});
          if (r.status === 409) return undefined;
          if (r.status !== 201 || r.body.experiment === undefined) throw new Error(`run refused: ${r.status} ${JSON.stringify(r.body)}`);
          return r.body.experiment.experimentId;
        },
        { what: 'the squeeze experiment to start', timeoutMs: 20_000 },
      );
      const run = await waitFor(
        async () => {
          const r = (await api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).run;
          return r.instanceFaults?.length === 2 ? r : undefined;
        },
        { what: 'the instance faults to be applied', timeoutMs: 20_000 },
      );
      const cpu = run.instanceFaults.find((f) => f.kind === 'cpu');
      const disk = run.instanceFaults.find((f) => f.kind === 'disk-full');
      expect(cpu?.inside).toBe(true);
      expect(disk?.filledBytes).toBeGreaterThan(512 * 1024);

      await signedIn();
      await page.goto(`${server.url}/projects/shop/experiment-runs/${id}`);
      const faults = page.locator('ul.instance-faults li');
      const shown = () =>
        expect
          .poll(async () => faults.allTextContents(), { timeout: 20_000 })
          .toEqual(
            expect.arrayContaining([
              expect.stringMatching(new RegExp(`^cpu on instance ${cpu?.instanceId} \\(release \\w+\\) · inside the sandbox$`)),
              expect.stringMatching(new RegExp(`^disk-full on instance ${disk?.instanceId} .* · filled [\\d.]+ (KB|MB) of /tmp$`)),
            ]),
          );
      await shown();

      await api('POST', `/api/projects/shop/experiment-runs/${id}/abort`, {});
      // The record read back after the end says the same.
      await page.getByText('Verdict: aborted').waitFor({ timeout: 20_000 });
      await shown();
      expect(problems).toEqual([]);
    },
    120_000,
  );
});
