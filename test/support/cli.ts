/**
 * End-to-end helpers for the `gantry` CLI: the real CLI as a child process (Node 24 from the
 * repo), so the tests see exactly what a user sees — exit code, stdout, stderr and the files left
 * under `.gantry/` (read them with `TestRepo.runFiles` from repo.ts). The CLI is the bundled one,
 * as the package ships it (scripts/bundle.ts), built from the sources into dist/test-bundle by
 * the forks project's global setup at the start of every run; `GANTRY_TEST_CLI=src` runs
 * `src/cli/main.ts` instead (stack traces in the sources, no bundle).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GIT_VARS } from './repo.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Node 24 from the repo: the system node is older and cannot run .ts files. */
export const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
/** Where the global setup writes the bundle: two levels below the root, as dist/bundle is. */
export const TEST_BUNDLE_DIR = path.join(ROOT, 'dist', 'test-bundle');
export const CLI_FROM_SOURCES = process.env.GANTRY_TEST_CLI === 'src';
export const CLI_MAIN = CLI_FROM_SOURCES ? path.join(ROOT, 'src', 'cli', 'main.ts') : path.join(TEST_BUNDLE_DIR, 'main.js');

/**
 * The environment of a CLI child: the test's own minus anything that changes Gantry's or the
 * terminal's behaviour (GANTRY_*, FORCE_COLOR), plus NO_COLOR and the fixed git identity.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('GANTRY_') || key === 'FORCE_COLOR' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  // A server started here adds no security job to its runs unless the test asks: the other
  // tests' runs and job lists stay theirs (test/server/runs/security-job.test.ts covers it).
  return { ...env, ...GIT_VARS, NO_COLOR: '1', GANTRY_SECURITY_SCANS: 'off', ...extra };
}

export interface CliResult {
  /** The exit code, or null when the process ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CliOptions {
  /** Added to (and overriding) cliEnv(). */
  env?: Record<string, string>;
  /** Kill the child (by pid) and fail after this long; default 30 s. */
  timeoutMs?: number;
}

/** A CLI child still running: for tests that signal it or watch its files meanwhile. */
export interface RunningCli {
  child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  result: Promise<CliResult>;
}

/** Starts `node src/cli/main.ts ...args` in `cwd` without waiting for it. */
export function startCli(cwd: string, args: string[], options: CliOptions = {}): RunningCli {
  const started = Date.now();
  const child = spawn(NODE, [CLI_MAIN, ...args], { cwd, env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`gantry ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, result };
}

/** Runs `node src/cli/main.ts ...args` in `cwd` and waits for it to end. */
export function runCli(cwd: string, args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(cwd, args, options).result;
}

/** `gantry run --json` prints exactly one JSON object on stdout; anything else fails the parse. */
export function parseReport(stdout: string): RunReportJson {
  return JSON.parse(stdout) as RunReportJson;
}

/** The documented shape of `gantry run --json`, written out here so the test checks it independently. */
export interface RunReportJson {
  id: string;
  status: 'success' | 'failure' | 'cancelled';
  jobs: Array<{
    id: string;
    key: string;
    matrix: Record<string, string | number | boolean> | null;
    status: string;
    startedAt: string | null;
    finishedAt: string | null;
    outputs: Record<string, string>;
    tests: { passed: number; failed: number; skipped: number } | null;
    steps: Array<{ name: string; status: string; exitCode: number | null; durationMs: number }>;
    attempt: number;
    reason?: string;
  }>;
}
