/**
 * The experiment run page shows where each instance fault ran and what it did, from the record:
 * a CPU pressure's workers inside the instance's sandbox, and how much of /tmp a disk-full
 * filled. A real `gantry up` with bubblewrap and a real instance, read in Debian's Chromium.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxAvailable } from '../../src/executor/index.ts';
import { browserAvailable, launchBrowser, signIn } from '../support/browser.ts';
import { deployShopToStaging } from '../support/chaos-deploy.ts';
import { OK_SERVICE } from '../support/chaos-service.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

// okServiceYaml() without the in-memory /tmp a disk-full needs.
const YAML = `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  tmp-size: 1MiB
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging: { strategy: { recreate: {} } }
experiments:
  squeeze:
    environment: staging
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - cpu: { workers: 1 }
      - disk-full: {}
    duration: 60s
    before: 1s
    after: 1s
`;

interface Run {
  running?: boolean;
  instanceFaults: { kind: string; instanceId: string; inside?: boolean; filledBytes?: number }[];
}

describe.runIf(browserAvailable() && sandboxAvailable())('where instance faults ran, on the run page', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  const problems: string[] = [];

  beforeAll(async () => {
    [server, browser, repo] = await Promise.all([
      startGantryUp(),
      launchBrowser(),
      makeRepo({ 'server.js': OK_SERVICE, 'gantry.yaml': YAML }),
    ]);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  it('shows the CPU pressure inside the sandbox and the bytes disk-full filled, as recorded', async () => {
    const api = async <T>(method: string, path: string, body?: unknown) => (await server.api<T>(method, path, body)).body;
    await deployShopToStaging(server, repo.dir);
    const id = (await api<{ experiment: { experimentId: string } }>('POST', '/api/projects/shop/experiments/squeeze/run', {})).experiment
      .experimentId;
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

    await signIn(page, server);
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
  }, 120_000);
});
