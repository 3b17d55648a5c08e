/**
 * A real Gantry server for tests: in process (`startTestServer`) on 127.0.0.1 with a temp data
 * directory, and real git repositories to register. Wait helpers poll a condition; never sleep.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { killInstances } from './instances.ts';
import { resolveServerOptions, type ServerOptions } from '../../src/server/server-options.ts';
import { startServer, type RunningServer, type StartOverrides } from '../../src/server/start.ts';

export interface TestServer extends RunningServer {
  dataDir: string;
  token: string;
  api<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  cleanup(): Promise<void>;
}

/** `start`: overrides of the composition root; without `logDestination` the server's log is dropped. */
export async function startTestServer(
  overrides: Partial<Record<keyof ServerOptions, string | number>> = {},
  start: StartOverrides = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gantry-server-'));
  const options = resolveServerOptions({ dataDir, port: 0, sandbox: 'off', drainMs: 0, ...overrides }, {});
  const server = await startServer(options, start.logDestination ? start : { log: () => undefined, ...start });
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const api = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}${path}`, {
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
  return {
    ...server,
    dataDir,
    token,
    api,
    cleanup: async () => {
      await server.close();
      killInstances(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A git repository in a temp dir with the given files committed on `main`. */
export async function makeRepo(files: Record<string, string>): Promise<{
  dir: string;
  git(...args: string[]): string;
  commit(files: Record<string, string>, message?: string): string;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-repo-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    }).trim();
  git('init', '-q', '-b', 'main');
  const writeAll = async (entries: Record<string, string>) => {
    for (const [path, content] of Object.entries(entries)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
  };
  await writeAll(files);
  git('add', '-A');
  git('commit', '-qm', 'initial');
  return {
    dir,
    git,
    commit: (entries, message = 'change') => {
      for (const [path, content] of Object.entries(entries)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      git('add', '-A');
      git('commit', '-qm', message);
      return git('rev-parse', 'HEAD');
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
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
export async function waitForRunEnd(server: TestServer, runId: string, timeoutMs = 30_000): Promise<RunView> {
  return waitFor(
    async () => {
      const { body } = await server.api<RunView>('GET', `/api/runs/${runId}`);
      return ['success', 'failure', 'cancelled'].includes(body.status) ? body : undefined;
    },
    timeoutMs,
    `run ${runId} to end`,
  );
}
