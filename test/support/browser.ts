/**
 * The dashboard's browser tests: a real `gantry up` as a child process on loopback and Debian's
 * Chromium driven through playwright-core (never a downloaded browser).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CLI_MAIN, cliEnv, NODE } from './cli.ts';
import { killInstances } from './instances.ts';
import { freePort } from './net.ts';
import { requirement } from './requirements.ts';

export const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/** True when Chromium is installed (else the test is skipped, or fails under GANTRY_REQUIRE_ALL). */
export function browserAvailable(): boolean {
  return requirement('Chromium (/usr/bin/chromium)', existsSync(CHROMIUM));
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export interface GantryUp {
  url: string;
  dataDir: string;
  token: string;
  readonly child: ChildProcess;
  output(): string;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A one-time login link, as `gantry open` prints it. */
  loginLink(): Promise<string>;
  /** Stops the server process only (data and instances stay), and starts it again on the same port. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Stops everything and removes the data directory. */
  stop(): Promise<void>;
}

/** `gantry up` on a free loopback port with a fresh data directory; resolves once it is healthy. */
export async function startGantryUp(env: Record<string, string> = {}): Promise<GantryUp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gantry-web-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let process_ = await spawnUp(dataDir, port, env);
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T,
    };
  };
  const handle: GantryUp = {
    url,
    dataDir,
    token,
    api,
    get child() {
      return process_.child;
    },
    output: () => process_.output(),
    loginLink: async () => (await api<{ url: string }>('POST', '/api/login-links')).body.url,
    stopServer: async () => {
      await process_.stop();
    },
    startServer: async () => {
      process_ = await spawnUp(dataDir, port, env);
    },
    stop: async () => {
      await process_.stop();
      killInstances(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

async function spawnUp(
  dataDir: string,
  port: number,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output(): string; stop(): Promise<void> }> {
  const child = spawn(NODE, [CLI_MAIN, '--data', dataDir, 'up', '--port', String(port)], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gantry up exited: ${output}`);
    const healthy = await fetch(`http://127.0.0.1:${port}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy && existsSync(join(dataDir, 'admin.token'))) break;
    if (Date.now() > deadline) throw new Error(`gantry up did not become healthy: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.pid === undefined) return;
      process.kill(child.pid, 'SIGTERM');
      const killTimer = setTimeout(() => {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

/** Signs the page in the way a person does: by opening the one-time link. */
export async function signIn(page: Page, server: GantryUp): Promise<void> {
  await page.goto(await server.loginLink());
  await page.waitForURL(`${server.url}/`);
}

/**
 * The README's screenshots come from the tests: written under docs/screenshots when
 * GANTRY_UPDATE_SCREENSHOTS=1, so a normal test run leaves the checkout unchanged.
 */
export async function screenshot(page: Page, name: string, o: { fullPage?: boolean } = {}): Promise<void> {
  if (process.env.GANTRY_UPDATE_SCREENSHOTS !== '1') return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: o.fullPage ?? false });
}
