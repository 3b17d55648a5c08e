/**
 * End-to-end helpers for the `gantry` CLI: real git repositories in temp dirs and the real
 * `node src/cli/main.ts` as a child process (Node 24 from the repo), so the tests see exactly
 * what a user sees — exit code, stdout, stderr and the files left under `.gantry/`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Node 24 from the repo: the system node is older and cannot run .ts files. */
export const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
export const CLI_MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

/** A fixed git identity and no machine config, so the host's git setup cannot change results. */
const GIT_VARS: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

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
  return { ...env, ...GIT_VARS, NO_COLOR: '1', ...extra };
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

export async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', args, { cwd, env: cliEnv() });
  return stdout.trim();
}

/** A git repository in a temp dir, with helpers to change its working tree. */
export interface TempRepo {
  dir: string;
  /** Writes files (creating folders) without committing them. */
  write(files: Record<string, string>): Promise<void>;
  /** Writes files and commits everything. */
  commit(files: Record<string, string>, message?: string): Promise<void>;
  /** The ids of the runs whose directory exists under `.gantry/local/runs/`. */
  runIds(): Promise<string[]>;
  /** Every file under `.gantry/local/runs/<runId>/`, relative path → content. */
  runFiles(runId: string): Promise<Map<string, string>>;
  cleanup(): Promise<void>;
}

/** Creates a git repo on branch `main` with `files` committed (pass {} for an empty repo with no commit). */
export async function makeRepo(files: Record<string, string>, options: { branch?: string } = {}): Promise<TempRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-cli-'));
  await git(dir, ['init', '-q', '-b', options.branch ?? 'main']);
  const write = async (more: Record<string, string>) => {
    const entries = Object.entries(more).map(([name, content]) => [path.join(dir, name), content] as const);
    for (const folder of new Set(entries.map(([full]) => path.dirname(full)))) await mkdir(folder, { recursive: true });
    // In batches: fast for the tests that need many files, without running out of descriptors.
    for (let i = 0; i < entries.length; i += 64) {
      await Promise.all(entries.slice(i, i + 64).map(([full, content]) => writeFile(full, content)));
    }
  };
  const repo: TempRepo = {
    dir,
    write,
    async commit(more, message = 'change') {
      await write(more);
      await git(dir, ['add', '-A']);
      await git(dir, ['commit', '-q', '--allow-empty', '-m', message]);
    },
    async runIds() {
      return readdir(path.join(dir, '.gantry', 'local', 'runs')).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
    },
    async runFiles(runId) {
      const root = path.join(dir, '.gantry', 'local', 'runs', runId);
      const out = new Map<string, string>();
      for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const full = path.join(entry.parentPath, entry.name);
        out.set(path.relative(root, full), await readFile(full, 'utf8'));
      }
      return out;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  if (Object.keys(files).length > 0) await repo.commit(files, 'initial');
  return repo;
}

/** The log of one job of a run, by the layout users are told about: `.gantry/local/runs/<id>/jobs/<job>/log`. */
export function jobLog(repo: TempRepo, runId: string, jobDirName: string): Promise<string> {
  return readFile(path.join(repo.dir, '.gantry', 'local', 'runs', runId, 'jobs', jobDirName, 'log'), 'utf8');
}

/** Polls `check` until it returns true (or throws after `timeoutMs`): waiting on a condition, never a fixed sleep. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
