/**
 * A real Gantry server for tests, the two ways tests start one:
 * - `startTestServer`: in process (`createServer` + listen, as `gantry up` does) on 127.0.0.1 with
 *   a temp data directory: fast, for API and engine tests.
 * - `startGantryUp`: the real `gantry up` as a child process on a free port, for tests that kill
 *   it, restart it, or drive it from a browser.
 * Both stop the service instances and proxies they leave behind (instances.ts) when cleaned up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveServerOptions, type ServerOptions } from '../../src/server/server-options.ts';
import { type RunningServer, type StartOverrides, startServer } from '../../src/server/start.ts';
import { CLI_MAIN, cliEnv, NODE } from './cli.ts';
import { killLeftovers } from './instances.ts';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

/** An authenticated request to the API; a JSON answer is parsed, any other is returned as text. */
export type ApiCall = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<{ status: number; body: T }>;

export function apiClient(url: () => string, token: string): ApiCall {
  return async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T,
    };
  };
}

export interface TestServer extends RunningServer {
  dataDir: string;
  token: string;
  api: ApiCall;
  /** Closes the server, stops its instances and removes the data dir (unless the caller gave it). */
  cleanup(): Promise<void>;
}

export interface TestServerOptions {
  /** Server options over the test defaults (port 0, sandbox off, no drain). */
  options?: Partial<Record<keyof ServerOptions, string | number>>;
  /** An existing data dir, e.g. to start again after `close()`; the caller removes it. */
  dataDir?: string;
  /** Overrides of the composition root; without `logDestination` the server's log is dropped. */
  start?: StartOverrides;
}

/** A Gantry server in this process on 127.0.0.1:<random>, ready when the promise resolves. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'gantry-server-')));
  const options = resolveServerOptions({ dataDir, port: 0, sandbox: 'off', drainMs: 0, securityScans: 'off', ...opts.options }, {});
  const start = opts.start ?? {};
  const server = await startServer(options, start.logDestination ? start : { log: () => undefined, ...start });
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    ...server,
    dataDir,
    token,
    api: apiClient(() => server.url, token),
    cleanup: async () => {
      await server.close();
      killLeftovers(dataDir);
      if (opts.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RunView {
  run: { id: string; number: number; status: string; event: { kind: string; ref: string; sha: string }; parentRunId: string | null };
  status: string;
  jobs: {
    id: string;
    key: string;
    status: string;
    outputs: Record<string, string>;
    attempt: number;
    reason?: string;
    steps: { name: string; status: string; exitCode: number | null }[];
    tests: unknown;
  }[];
}

/** Waits until the run has ended and returns it. */
export async function waitForRunEnd(server: { api: ApiCall }, runId: string, timeoutMs = 30_000): Promise<RunView> {
  return waitFor(
    async () => {
      const { body } = await server.api<RunView>('GET', `/api/runs/${runId}`);
      return ['success', 'failure', 'cancelled'].includes(body.status) ? body : undefined;
    },
    { timeoutMs, what: `run ${runId} to end` },
  );
}

/** A real `gantry up` child process (see `startGantryUp`). */
export interface GantryUp {
  url: string;
  dataDir: string;
  token: string;
  readonly child: ChildProcess;
  /** stdout and stderr of the current process so far. */
  output(): string;
  api: ApiCall;
  /** A one-time login link, as `gantry open` prints it. */
  loginLink(): Promise<string>;
  /** Sends `signal` to the server process and resolves with its exit code once it has exited. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Stops the server process only (SIGTERM; data and instances stay). */
  stopServer(): Promise<void>;
  /** Starts `gantry up` again on the same port and data dir (after stopServer or kill). */
  startServer(): Promise<void>;
  /** Stops everything and removes the data directory. */
  stop(): Promise<void>;
}

export interface GantryUpOptions {
  /** Added to the child's environment (cliEnv: no GANTRY_* of the test's own). */
  env?: Record<string, string>;
  /** More arguments after `up --port N`, e.g. ['--parallel', '1']. */
  args?: string[];
  /** An existing data dir (e.g. holding another server's secret key and admin token); the caller removes it. */
  dataDir?: string;
}

/** `gantry up` on a free loopback port with a fresh data directory; resolves once it is healthy. */
export async function startGantryUp(opts: GantryUpOptions = {}): Promise<GantryUp> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'gantry-up-')));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const spawnIt = () => spawnUp(dataDir, port, opts);
  let process_ = await spawnIt();
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const api = apiClient(() => url, token);
  return {
    url,
    dataDir,
    token,
    api,
    get child() {
      return process_.child;
    },
    output: () => process_.output(),
    loginLink: async () => (await api<{ url: string }>('POST', '/api/login-links')).body.url,
    kill: (signal) => process_.kill(signal),
    stopServer: () => process_.stop(),
    startServer: async () => {
      process_ = await spawnIt();
    },
    stop: async () => {
      await process_.stop();
      killLeftovers(dataDir);
      if (opts.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

interface UpProcess {
  child: ChildProcess;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
  stop(): Promise<void>;
}

async function spawnUp(dataDir: string, port: number, opts: GantryUpOptions): Promise<UpProcess> {
  const child = spawn(NODE, [CLI_MAIN, '--data', dataDir, 'up', '--port', String(port), ...(opts.args ?? [])], {
    env: cliEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const state = await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      const healthy = await fetch(`http://127.0.0.1:${port}/api/health`).then(
        (r) => r.ok,
        () => false,
      );
      return healthy && existsSync(join(dataDir, 'admin.token')) && 'healthy';
    },
    // ~2 s of CPU, which took over 30 s at a load of 25 on 2 cores; within the 60 s of a beforeAll.
    { what: 'gantry up to become healthy', timeoutMs: 45_000, intervalMs: 50 },
  ).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n${output}`);
  });
  if (state === 'exited') throw new Error(`gantry up exited: ${output}`);
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    child,
    output: () => output,
    kill,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await kill('SIGTERM');
      clearTimeout(killTimer);
    },
  };
}
