/**
 * Pages of the dashboard in a real browser (Debian's Chromium) against a real `gantry up` (no
 * sandbox, see the security section), one server and one browser for the file (each section used
 * to start its own), sections in an order where none sees another's state:
 * - DORA, first (the page opens on the first project): two releases built from real commits go to
 *   production, an incident is opened on the second and it is rolled back by hand. The page shows
 *   each number with its tier, the four charts, and the rollouts behind the numbers with the
 *   commits each deployment put live (the only section that deploys: the page counts deployments).
 * - "New service": a platform team's template (added under the data directory) is offered with its
 *   field, the form creates the service on the server — a repository under `<data>/services/`,
 *   registered, its first commit running its first pipeline — and the page links to the project.
 * - Search: a real run of a real commit, found by a prefix of its commit and by words of its job,
 *   each result a link to its page; a query that does not parse says where.
 * - The log explorer: lines written where the supervisor writes them (the service-logs layout,
 *   RotatingLog) are shown, filtered by regex and JSON field on the server, followed live, and a
 *   line's link opens it highlighted.
 * - Security: two real runs whose job leaves a SARIF log where the pipeline's scan step does, a
 *   release of the second; the page shows its findings new vs existing vs fixed, that production
 *   would refuse it, no SBOM, the trend, and a person suppresses the new critical finding with a
 *   reason, which lifts the gate.
 * - Agents, last (its agent keeps a job until the file ends): a connected `gantry agent` with its
 *   labels, a capacity bar of its slots (one busy) and the job it runs, linked to that job's page;
 *   an agent registered but never started (lost); a revoked one; once the run is cancelled, idle.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../src/executor/index.ts';
import { type Finding, toSarif } from '../../src/security/index.ts';
import { RotatingLog } from '../../src/runtime/rotating-log.ts';
import { instanceLogDir } from '../../src/server/logs/index.ts';
import { browserAvailable, type FileBrowser, openBrowser, screenshot, signIn } from '../support/browser.ts';
import { CLI_MAIN, cliEnv, NODE } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

describe.runIf(browserAvailable())('pages of the dashboard in a browser', () => {
  let server: GantryUp;
  let browser: FileBrowser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    // No sandbox: the security section's job writes into the server's data directory, as the
    // pipeline's own scan step does; no other section looks at where its jobs ran.
    [server, browser] = await Promise.all([startGantryUp({ env: { GANTRY_SANDBOX: 'off' } }), openBrowser()]);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  describe('DORA', () => {
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
    let repo: TestRepo;

    beforeAll(async () => {
      repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': serviceYaml('v1') });
    });
    afterAll(async () => {
      await repo?.cleanup();
    });

    const rolloutPhase = async () =>
      (await server.api<{ rollout: { id: string; phase: string } | null }>('GET', '/api/projects/web/environments/production/rollout')).body
        .rollout;

    /** Runs the pipeline on the repository's head, makes a release of it and deploys it; resolves once it is live. */
    async function release(): Promise<{ id: string; number: number }> {
      const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/web/runs', {})).body.run;
      await waitFor(
        async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'success' || undefined,
        {
          what: 'the build',
          timeoutMs: 30_000,
        },
      );
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
      await page.setViewportSize({ width: 1280, height: 900 });
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
        (await server.api<{ events: { data: Record<string, unknown> }[] }>('GET', `/api/events?type=${type}`)).body.events.map(
          (e) => e.data,
        );
      expect((await events('rollout.created')).map((d) => d.kind)).toEqual(['deploy', 'deploy', 'rollback']);
      const releases = await events('release.created');
      expect(releases[1]).toMatchObject({
        baseReleaseId: first.id,
        commitsTruncated: false,
        commits: [{ sha: v2, at: expect.any(String) }],
      });

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

  describe('New service', () => {
    const TEMPLATE_YAML = `description: "A greeter: one job that says hello"
fields:
  greeting:
    description: what the job says
    default: hi
`;
    const GANTRY_YAML = `name: {{name}}
pipeline:
  on:
    push: { branches: [main] }
  jobs:
    greet: { steps: ["echo '{{greeting}}' > greeting.txt && cat greeting.txt"] }
`;

    beforeAll(async () => {
      const template = join(server.dataDir, 'templates', 'greeter');
      await mkdir(template, { recursive: true });
      await writeFile(join(template, 'template.yaml'), TEMPLATE_YAML);
      await writeFile(join(template, 'gantry.yaml'), GANTRY_YAML);
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    it("creates a service from a template's form and links to its project, whose first pipeline runs", async () => {
      await signIn(page, server);
      await page.getByRole('link', { name: 'New service' }).click();
      await page.getByRole('radio', { name: /greeter/ }).check();
      const greeting = page.getByRole('textbox', { name: /^greeting/ });
      expect(await greeting.inputValue()).toBe('hi');
      await greeting.fill('hello from the dashboard');
      await page.getByRole('textbox', { name: /^Name/ }).fill('hello3');
      await screenshot(page, 'new-service');
      await page.getByRole('button', { name: 'Create service' }).click();

      const link = page.getByRole('link', { name: 'Open hello3' });
      await link.waitFor({ timeout: 30_000 });
      expect(await page.getByRole('status').textContent()).toContain(join(server.dataDir, 'services', 'hello3'));
      await link.click();
      await page.waitForURL(`${server.url}/projects/hello3`);

      const run = await waitFor(
        async () => {
          const { runs } = (await server.api<{ runs: { status: string; trigger: string }[] }>('GET', '/api/runs?project=hello3')).body;
          return runs[0]?.status === 'success' ? runs[0] : undefined;
        },
        { what: 'the first pipeline of hello3', timeoutMs: 60_000 },
      );
      expect(run.status).toBe('success');
      expect(await readFile(join(server.dataDir, 'services', 'hello3', 'gantry.yaml'), 'utf8')).toContain(
        "echo 'hello from the dashboard'",
      );
      expect(problems).toEqual([]);
    }, 120_000);
  });

  /** Project `shop`: searched for, then the project whose (written) service logs are explored. */
  describe('search and the log explorer', () => {
    const PIPELINE = `
pipeline:
  on: { manual: {} }
  jobs:
    unit-tests: { steps: ["echo testing"] }
`;
    let repo: TestRepo;
    let log: RotatingLog | undefined;

    beforeAll(async () => {
      repo = await makeRepo({ 'gantry.yaml': PIPELINE });
      expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    });
    afterAll(async () => {
      log?.close();
      await repo?.cleanup();
    });

    it('finds a run by its commit and its job by a word, and opens each from its link', async () => {
      await page.setViewportSize({ width: 1280, height: 800 });
      const run = (await server.api<{ run: { id: string; event: { sha: string } } }>('POST', '/api/projects/shop/runs', {})).body.run;
      await waitFor(
        async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'success' || undefined,
        {
          what: 'the run',
          timeoutMs: 30_000,
        },
      );

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

    it('shows the newest lines, filters on the server, follows live and opens a linked line', async () => {
      const project = (await server.api<{ project: { id: string } }>('GET', '/api/projects/shop')).body.project;
      const written = new RotatingLog({
        file: join(instanceLogDir(server.dataDir, project.id, 'production', 'R1', 'shop.production.r1.a'), 'instance.log'),
        capBytes: 1 << 20,
        keep: Number.POSITIVE_INFINITY,
        masker: createMasker([]),
        now: Date.now,
      });
      log = written;
      for (let i = 0; i < 300; i++)
        written.lines('o', `${JSON.stringify({ level: i % 50 === 7 ? 'error' : 'info', msg: `request ${i} handled` })}\n`);
      written.lines('e', 'plain stderr: connection refused\n');
      await page.setViewportSize({ width: 1280, height: 900 });
      await signIn(page, server);
      const rows = () => page.locator('.service-log-row');

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
      written.lines('o', `${JSON.stringify({ level: 'error', msg: 'payment declined' })}\n`);
      await page.getByText('payment declined').waitFor({ timeout: 15_000 });
      written.lines('o', `${JSON.stringify({ level: 'info', msg: 'not an error' })}\n`);

      // A line's link opens the minutes around it with the line highlighted.
      const href = await rows().filter({ hasText: 'request 157 handled' }).locator('a.time').getAttribute('href');
      expect(href).toMatch(
        /^\/projects\/shop\/environments\/production\/logs\?instance=shop\.production\.r1\.a&at=[^&]+&line=[0-9a-f]{8}$/,
      );
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
    }, 60_000);
  });

  describe('security', () => {
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
    let repo: TestRepo;

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
      const { body } = await server.api<{ run: { id: string; number: number } }>('POST', '/api/projects/scanned/runs', {});
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
          (await server.api<{ run: { number: number } | null }>('GET', '/api/projects/scanned/findings')).body.run?.number ===
          body.run.number,
        { what: 'its findings', timeoutMs: 15_000 },
      );
      return body.run;
    }

    beforeAll(async () => {
      repo = await makeRepo({ 'gantry.yaml': yaml(server.dataDir), 'sarif.json': sarif([]) });
    });
    afterAll(async () => {
      await repo?.cleanup();
    });

    it('shows a release with a new critical finding refused for production, and lifts the gate with a suppression', {
      timeout: 120_000,
    }, async () => {
      await page.setViewportSize({ width: 1280, height: 900 });
      expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'scanned' })).status).toBe(201);
      await scannedRun([found('old', 'medium', 'package-lock.json', 1), found('gone', 'high', 'yarn.lock', 3)]);
      const second = await scannedRun([found('old', 'medium', 'package-lock.json', 1), found('leak', 'critical', 'package-lock.json', 42)]);
      const made = await server.api<{ release: { number: number } }>('POST', '/api/projects/scanned/releases', { run: second.id });
      expect(made.status).toBe(201);

      await signIn(page, server);
      // The run's own page says what its findings would do to a release, and why.
      await page.goto(`${server.url}/runs/${second.id}`);
      const verdict = page.locator('.run-security');
      await verdict.waitFor();
      expect(await verdict.textContent()).toMatch(/^1 new, 1 existing, 1 fixed · a release: block \(1 critical new finding/);

      await page.goto(`${server.url}/projects/scanned`);
      await page.getByRole('link', { name: 'findings' }).click();
      await page.waitForURL(`${server.url}/projects/scanned/security?release=${made.body.release.number}`);
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

  describe('the agents page', () => {
    let repo: TestRepo;
    let work: string;
    let agent: ChildProcess | undefined;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'gantry-agents-page-'));
      repo = await makeRepo({
        'gantry.yaml': `
pipeline:
  on: { manual: {} }
  jobs:
    compile:
      runs-on: [linux]
      steps: ["sleep 600"]
`,
      });
    });
    afterAll(async () => {
      if (agent?.pid !== undefined && agent.exitCode === null && agent.signalCode === null) {
        const gone = new Promise((resolve) => agent?.once('exit', resolve));
        process.kill(agent.pid, 'SIGKILL');
        await gone;
      }
      await repo?.cleanup();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('shows each agent’s state, labels, capacity and running job, linked to the job', async () => {
      await page.setViewportSize({ width: 1280, height: 800 });
      const add = (name: string, labels: string[]) => server.api<{ token: string }>('POST', '/api/agents', { name, labels });
      const builder = await add('builder', ['linux', 'large']);
      expect(builder.status).toBe(201);
      expect((await add('spare', ['linux'])).status).toBe(201);
      expect((await add('retired', ['linux'])).status).toBe(201);
      expect((await server.api('DELETE', '/api/agents/retired')).status).toBe(200);
      agent = spawn(
        NODE,
        [CLI_MAIN, 'agent', '--server', server.url, '--capacity', '2', '--labels', 'bwrap', '--work-dir', join(work, 'builder')],
        {
          env: cliEnv({ GANTRY_AGENT_TOKEN: builder.body.token }),
          stdio: 'ignore',
        },
      );
      expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'farm' })).status).toBe(201);
      const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/farm/runs', {})).body.run;
      await waitFor(
        async () => {
          const agents = (await server.api<{ agents: { name: string; leases: unknown[] }[] }>('GET', '/api/agents')).body.agents;
          return agents.find((a) => a.name === 'builder')?.leases.length === 1;
        },
        { what: 'the agent to hold the job', timeoutMs: 30_000 },
      );

      await signIn(page, server);
      await page.getByRole('link', { name: 'Agents', exact: true }).click();
      await page.waitForURL(`${server.url}/agents`);
      const row = (name: string) => page.locator(`tr[data-agent="${name}"]`);
      await row('builder').getByRole('img', { name: '1 of 2 slots busy' }).waitFor();
      expect(await row('builder').locator('[data-status]').textContent()).toContain('connected');
      expect(await row('builder').locator('code.label').allTextContents()).toEqual(['linux', 'large', 'bwrap']);
      expect(await row('builder').locator('.capacity-cells .cell.busy').count()).toBe(1);
      expect(await row('spare').locator('[data-status]').textContent()).toContain('lost');
      expect(await row('spare').textContent()).toContain('never');
      expect(await row('retired').locator('[data-status]').textContent()).toContain('revoked');
      await screenshot(page, 'agents');

      await row('builder')
        .getByRole('link', { name: /compile/ })
        .click();
      await page.waitForURL(`${server.url}/runs/${run.id}/jobs/compile`);

      // The run is cancelled: the agent stops the job and is idle again, its slots free.
      expect((await server.api('POST', `/api/runs/${run.id}/cancel`, {})).status).toBeLessThan(300);
      await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).body.status === 'cancelled', {
        what: 'the run to be cancelled',
        timeoutMs: 30_000,
      });
      await page.goto(`${server.url}/agents`);
      await row('builder').getByRole('img', { name: '0 of 2 slots busy' }).waitFor();
      expect(await row('builder').textContent()).toContain('idle');
      expect(problems).toEqual([]);
    }, 60_000);
  });
});
