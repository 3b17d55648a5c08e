/**
 * The agents page in a real browser (Debian's Chromium) against a real `gantry up` and a real
 * `gantry agent`: a connected agent with its labels, a capacity bar of its slots (one busy) and
 * the job it runs, linked to that job's page; an agent registered but never started (lost); a
 * revoked one; once the run is cancelled, the agent idle again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { CLI_MAIN, cliEnv, NODE } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

describe.runIf(browserAvailable())('the agents page', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  let repo: TestRepo;
  let work: string;
  let agent: ChildProcess | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gantry-agents-page-'));
    [server, browser, repo] = await Promise.all([
      startGantryUp(),
      launchBrowser(),
      makeRepo({
        'gantry.yaml': `
pipeline:
  on: { manual: {} }
  jobs:
    compile:
      runs-on: [linux]
      steps: ["sleep 600"]
`,
      }),
    ]);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    if (agent?.pid !== undefined && agent.exitCode === null && agent.signalCode === null) {
      const gone = new Promise((resolve) => agent?.once('exit', resolve));
      process.kill(agent.pid, 'SIGKILL');
      await gone;
    }
    await browser?.close();
    await server?.stop();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows each agent’s state, labels, capacity and running job, linked to the job', async () => {
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
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run;
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
  });
});
