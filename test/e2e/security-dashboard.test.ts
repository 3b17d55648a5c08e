/**
 * The security page in a real browser (Debian's Chromium) against a real `gantry up`: two real
 * runs whose job leaves a SARIF log where the pipeline's scan step does, a release of the second;
 * the page shows its findings new vs existing vs fixed, that production would refuse it, no SBOM,
 * the trend, and a person suppresses the new critical finding with a reason, which lifts the gate.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Finding, toSarif } from '../../src/security/index.ts';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const found = (id: string, level: Finding['level'], path: string, line: number): Finding => ({
  scanner: 'dependencies',
  ruleId: `GHSA-${id}`,
  ruleName: `Advisory ${id}`,
  level,
  message: `a vulnerable package (${id})`,
  location: { path, startLine: line },
  fingerprint: `fp-${id}`,
});
const sarif = (findings: Finding[]) => JSON.stringify(toSarif(findings, { name: 'gantry', version: '0.1.0' }));

describe.runIf(browserAvailable())('the security page in a browser', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  const problems: string[] = [];

  const yaml = (dataDir: string) => `
pipeline:
  on: { manual: {} }
  jobs:
    scan:
      steps:
        - cp sarif.json "${dataDir}/runs/$GANTRY_RUN_ID/jobs/scan/sarif.json"
service:
  run: node -e "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)"
environments:
  production: {}
`;

  async function scannedRun(findings: Finding[]): Promise<{ id: string; number: number }> {
    await repo.commit({ 'sarif.json': sarif(findings) }, 'findings');
    const { body } = await server.api<{ run: { id: string; number: number } }>('POST', '/api/projects/web/runs', {});
    const status = await waitFor(
      async () => {
        const { status: now } = (await server.api<{ status: string }>('GET', `/api/runs/${body.run.id}`)).body;
        return ['success', 'failure', 'cancelled'].includes(now) ? now : undefined;
      },
      { what: 'the run', timeoutMs: 30_000 },
    );
    expect(status).toBe('success');
    await waitFor(
      async () =>
        (await server.api<{ run: { number: number } | null }>('GET', '/api/projects/web/findings')).body.run?.number === body.run.number,
      { what: 'its findings', timeoutMs: 15_000 },
    );
    return body.run;
  }

  beforeAll(async () => {
    // No sandbox: the job writes into the server's data directory, as the pipeline's own scan step does.
    [server, browser] = await Promise.all([startGantryUp({ env: { GANTRY_SANDBOX: 'off' } }), launchBrowser()]);
    repo = await makeRepo({ 'gantry.yaml': yaml(server.dataDir), 'sarif.json': sarif([]) });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
  });

  it('shows a release with a new critical finding refused for production, and lifts the gate with a suppression', {
    timeout: 120_000,
  }, async () => {
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'web' })).status).toBe(201);
    await scannedRun([found('old', 'medium', 'package-lock.json', 1), found('gone', 'high', 'yarn.lock', 3)]);
    const second = await scannedRun([found('old', 'medium', 'package-lock.json', 1), found('leak', 'critical', 'package-lock.json', 42)]);
    const made = await server.api<{ release: { number: number } }>('POST', '/api/projects/web/releases', { run: second.id });
    expect(made.status).toBe(201);

    await signIn(page, server);
    // The run's own page says what its findings would do to a release, and why.
    await page.goto(`${server.url}/runs/${second.id}`);
    const verdict = page.locator('.run-security');
    await verdict.waitFor();
    expect(await verdict.textContent()).toMatch(/^1 new, 1 existing, 1 fixed · a release: block \(1 critical new finding/);

    await page.goto(`${server.url}/projects/web`);
    await page.getByRole('link', { name: 'findings' }).click();
    await page.waitForURL(`${server.url}/projects/web/security?release=${made.body.release.number}`);
    await page.getByRole('heading', { name: `Release #${made.body.release.number} (run #${second.number})` }).waitFor();

    const row = (fingerprint: string) => page.locator(`tr[data-fingerprint="${fingerprint}"]`);
    expect(await row('fp-leak').locator('.finding-status').textContent()).toBe('new');
    expect(await row('fp-old').locator('.finding-status').textContent()).toBe('existing');
    expect(await row('fp-gone').locator('.finding-status').textContent()).toBe('fixed');
    const line = row('fp-leak').getByRole('link', { name: 'package-lock.json:42' });
    expect(await line.getAttribute('href')).toBe(`/runs/${second.id}/jobs/scan`);
    const gates = page.getByRole('list', { name: 'What the policy says' });
    expect(await gates.textContent()).toMatch(/production: block — 1 critical new finding/);
    // Every release is made with its SBOM (here of a tree without lockfiles), downloadable from the page.
    const sbom = page.locator('.sbom').getByRole('link', { name: 'Download the SBOM (CycloneDX)' });
    expect(await sbom.getAttribute('href')).toMatch(/\/api\/projects\/[^/]+\/releases\/\d+\/sbom$/);
    expect(await page.locator('.advisory-age').textContent()).toContain('Advisory database: empty');
    expect(await page.getByRole('img', { name: 'findings per scanned run, the last 2' }).count()).toBe(1);
    await screenshot(page, 'security', { fullPage: true });

    await row('fp-leak').getByRole('button', { name: 'Suppress…' }).click();
    const form = page.getByRole('form', { name: 'Suppress GHSA-leak' });
    await form.getByLabel('Reason').fill('not reachable: the dev-only tool');
    await form.getByRole('button', { name: 'Suppress' }).click();
    await row('fp-leak').getByText('not reachable: the dev-only tool').waitFor();
    await waitFor(async () => /production: pass/.test((await gates.textContent()) ?? ''), { what: 'the gate to pass' });
    expect(await page.locator('ul.suppressions').textContent()).toMatch(
      /fp-leak — not reachable: the dev-only tool \(dashboard:\w+, until \d{4}-\d{2}-\d{2}\)/,
    );
    expect(problems).toEqual([]);
  });
});
