/**
 * The dashboard's "New service" in a real browser (Debian's Chromium) against a real `gantry up`:
 * a platform team's template (added under the data directory) is offered with its field, the form
 * creates the service on the server — a repository under `<data>/services/`, registered, its
 * first commit running its first pipeline — and the page links to the new project.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser, screenshot, signIn } from '../support/browser.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

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

describe.runIf(browserAvailable())('New service in the dashboard', () => {
  let server: GantryUp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startGantryUp(), launchBrowser()]);
    const template = join(server.dataDir, 'templates', 'greeter');
    await mkdir(template, { recursive: true });
    await writeFile(join(template, 'template.yaml'), TEMPLATE_YAML);
    await writeFile(join(template, 'gantry.yaml'), GANTRY_YAML);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
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
    expect(await readFile(join(server.dataDir, 'services', 'hello3', 'gantry.yaml'), 'utf8')).toContain("echo 'hello from the dashboard'");
    expect(problems).toEqual([]);
  }, 120_000);
});
