/**
 * The first minute of a new user, end to end with real processes: `gantry up --example` (what
 * `npm start` runs) registers the example service, runs its pipeline, deploys it to staging and
 * prints a working login link; `gantry demo` then canaries 2.0.0 into production (promoted) and
 * 3.0.0, a faulty version, which the analysis rolls back.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, openBrowser, screenshot } from '../support/browser.ts';
import { type CliResult, runCli, startCli, type RunningCli } from '../support/cli.ts';
import { killLeftovers } from '../support/instances.ts';
import { waitFor } from '../support/wait.ts';
import { git } from '../support/repo.ts';

interface Rollout {
  id: string;
  releaseId: string;
  phase: string;
  state: { reason: string | null };
}
interface RolloutView {
  environment: { currentReleaseId: string | null } | null;
  rollout: Rollout | null;
  live: { port: number | null };
}
interface Release {
  id: string;
  number: number;
  sha: string;
  runId: string;
}
interface JobView {
  key: string;
  status: string;
  tests: { passed: number; failed: number } | null;
}

describe('the first minute', () => {
  let home: string;
  let dataDir: string;
  let server: RunningCli;
  let baseUrl = '';
  let token = '';
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };
  const getJson = async (url: string) => {
    const response = await fetch(url);
    return { status: response.status, body: (await response.json()) as { version: string; environment: string } };
  };

  /**
   * The stages the tests share, each run once by whichever test needs it first, so every test
   * passes alone and in any order: the first `gantry up --example` being ready, then the demo.
   */
  let firstUp: Promise<{ out: string; err: string; baseUrl: string }> | undefined;
  const upReady = () =>
    (firstUp ??= (async () => {
      await waitFor(() => server.stdout().includes('Open the dashboard') || server.child.exitCode !== null, {
        what: 'the login link',
        timeoutMs: 90_000,
      });
      baseUrl = /Gantry is up at (http:\/\/\S+)/.exec(server.stdout())?.[1] ?? '';
      token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
      return { out: server.stdout(), err: server.stderr(), baseUrl };
    })());
  let demoRun: Promise<{ result: CliResult; baseUrl: string }> | undefined;
  const demoDone = () =>
    (demoRun ??= (async () => {
      await upReady();
      // Canary steps of 3 s instead of the example's 10 s (the demo's documented `--pause`), with
      // enough load that a 20 % canary still sees the analysis's 20 requests within a step.
      const result = await runCli(home, ['--data', dataDir, 'demo', '--quiet', '--pause', '3s', '--rate', '40'], { timeoutMs: 150_000 });
      return { result, baseUrl };
    })());

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'gantry-first-minute-'));
    dataDir = join(home, '.gantry');
    // No sandbox: the test's cleanup stops instances by the PIDs the supervisor recorded, which
    // under bubblewrap are the outer bwrap processes only.
    server = startCli(home, ['--data', dataDir, 'up', '--port', '0', '--example'], { env: { GANTRY_SANDBOX: 'off' }, timeoutMs: 170_000 });
  });
  afterAll(async () => {
    if (server?.child.pid) process.kill(server.child.pid, 'SIGTERM');
    await server?.result.catch(() => undefined);
    killLeftovers(dataDir);
    await rm(home, { recursive: true, force: true });
  });

  it("`gantry up --example` runs the example's pipeline, deploys it to staging and prints a login link", async () => {
    const { out, err, baseUrl: firstUrl } = await upReady();
    expect(err).not.toMatch(/could not be set up|no login link/);

    const stagingUrl = /staging of hello answers at (http:\/\/\S+)/.exec(out)?.[1];
    expect(stagingUrl, out).toBeDefined();
    const staging = await getJson(stagingUrl as string);
    expect(staging).toMatchObject({ status: 200, body: { environment: 'staging' } });
    // The example's 1.0.0 — unless the demo ran already (tests in any order): its releases reach staging too.
    if (demoRun === undefined) expect(staging.body.version).toBe('1.0.0');
    else expect(staging.body.version).toMatch(/^[123]\.0\.0$/);

    // The example's first run (the demo, when it ran already, adds more).
    const { runs } = await api<{ runs: { id: string; number: number; status: string; event: { kind: string } }[] }>(
      '/api/runs?project=hello',
    );
    const first = runs.reduce((a, b) => (a.number < b.number ? a : b));
    expect([first.status, first.event.kind]).toEqual(['success', 'push']);
    const { jobs } = await api<{ jobs: JobView[] }>(`/api/runs/${first.id}`);
    expect(jobs.map((j) => [j.key, j.status])).toEqual([
      ['build', 'success'],
      ['test', 'success'],
    ]);
    expect(jobs[1]?.tests?.passed).toBeGreaterThan(0);
    expect(jobs[1]?.tests?.failed).toBe(0);

    const link = /Open the dashboard: (http:\/\/\S+)/.exec(out)?.[1] as string;
    expect(link.startsWith(`${firstUrl}/auth/login?token=`)).toBe(true);
    // The server now running (a test may have restarted it on another port) honours the link.
    const { pathname, search } = new URL(link);
    const signedIn = await fetch(`${baseUrl}${pathname}${search}`, { redirect: 'manual' });
    expect(signedIn.status).toBeLessThan(400);
    expect(signedIn.headers.get('set-cookie')).toMatch(/gantry_session=/);
  }, 170_000);

  it('`gantry demo` promotes 2.0.0 and rolls the faulty 3.0.0 back', async () => {
    const { result: demo, baseUrl: demoUrl } = await demoDone();
    expect(demo.code, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stdout).toMatch(/2\.0\.0 was promoted/);
    expect(demo.stdout).toMatch(/3\.0\.0 was rolled back/);
    expect(demo.stdout).toContain(`${demoUrl}/projects/`);

    // The versions are commits of the example's repository, each released by its own run.
    const repo = join(dataDir, 'examples', 'hello');
    const shaOf = async (subject: string) => git(repo, 'log', '--format=%H', '--fixed-strings', `--grep=${subject}`, '-n', '1');
    const [v2, v3] = [await shaOf('hello 2.0.0'), await shaOf('hello 3.0.0')];
    const { releases } = await api<{ releases: Release[] }>('/api/projects/hello/releases');
    const release2 = releases.find((r) => r.sha === v2);
    const release3 = releases.find((r) => r.sha === v3);
    expect(release2?.sha).toBe(v2);
    expect(release3?.sha).toBe(v3);

    const production = await api<RolloutView>('/api/projects/hello/environments/production/rollout');
    expect(production.environment?.currentReleaseId).toBe(release2?.id);
    expect(production.rollout).toMatchObject({ releaseId: release3?.id, phase: 'rolled-back' });
    expect(production.rollout?.state.reason).toMatch(/error-rate/);
    const answer = await getJson(`http://127.0.0.1:${production.live.port}/`);
    expect(answer).toMatchObject({ status: 200, body: { version: '2.0.0', environment: 'production' } });
  }, 250_000);

  it.runIf(browserAvailable())(
    'the dashboard shows the demo: the faulty canary rolled back, its decisions and charts',
    async () => {
      expect((await demoDone()).result.code).toBe(0);
      const browser = await openBrowser();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
        const { url: link } = (await (
          await fetch(`${baseUrl}/api/login-links`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
        ).json()) as { url: string };
        await page.goto(link);
        await page.waitForURL(`${baseUrl}/`);
        const { project } = await api<{ project: { id: string } }>('/api/projects/hello');
        await page.goto(`${baseUrl}/projects/${project.id}/environments/production`);
        await page.locator('.env-rollout [data-status="rolled-back"]').first().waitFor();
        await page.locator('.rollout-history li[data-event$="rolling-back"]').waitFor();
        expect(await page.locator('.rollout-history').textContent()).toMatch(/error-rate/);
        await page.locator('[data-testid="traffic-split"][data-canary="0"]').waitFor();
        // Both analysis charts and both heatmaps drew (ECharts renders to canvas).
        await page
          .waitForFunction(() => document.querySelectorAll('canvas').length >= 4, undefined, { timeout: 20_000 })
          .catch(async (error: Error) => {
            const charts = await page.locator('section[aria-labelledby="charts-title"]').innerText();
            throw new Error(`${error.message}\n${await page.locator('canvas').count()} canvases; the charts' section reads: ${charts}`);
          });
        await screenshot(page, 'deployment', { fullPage: true });
      } finally {
        await browser.close();
      }
    },
    300_000,
  );

  it('a restart with --example changes nothing and reports the example', async () => {
    await upReady();
    const { runs: before } = await api<{ runs: unknown[] }>('/api/runs?project=hello');
    if (server.child.pid) process.kill(server.child.pid, 'SIGTERM');
    expect((await server.result).code).toBe(0);
    server = startCli(home, ['--data', dataDir, 'up', '--port', '0', '--example'], { env: { GANTRY_SANDBOX: 'off' }, timeoutMs: 60_000 });
    await waitFor(() => server.stdout().includes('Open the dashboard') || server.child.exitCode !== null, {
      what: 'the login link',
      timeoutMs: 30_000,
    });
    expect(server.stdout()).toContain('the example project hello is registered already');
    expect(server.stdout()).toMatch(/staging of hello answers at http:\/\/127\.0\.0\.1:\d+\//);
    baseUrl = /Gantry is up at (http:\/\/\S+)/.exec(server.stdout())?.[1] ?? '';
    const { runs: after } = await api<{ runs: unknown[] }>('/api/runs?project=hello');
    expect(after).toHaveLength(before.length);
  }, 170_000);
});
