/**
 * Shared plumbing of the engine benchmarks: spawning the real `gantry` CLI and server, temp git
 * repositories, timing, percentiles, RSS sampling and the one-JSON-object-on-stdout output.
 *
 * Every benchmark is bounded: `benchMain` arms a hard deadline, and every process started through
 * this module is recorded by PID and stopped (TERM, then KILL after a bounded wait) when the
 * benchmark ends, fails, times out or gets Ctrl-C. Temp dirs are removed the same way.
 * Progress goes to stderr; stdout carries only the final JSON object.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { freePort } from '../src/platform/ports.ts';
import { killLeftovers } from '../test/support/instances.ts';

/** The repository root (bench/ is one level below it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * The CLI entry users run: the bundled `dist/bundle/main.js` (what `npm start` and the published
 * package execute), rebuilt first when any source is newer. GANTRY_BENCH_SOURCE=1 runs the
 * TypeScript sources instead (one module at a time: slower start, more memory).
 */
export const GANTRY_CLI = process.env.GANTRY_BENCH_SOURCE === '1' ? join(REPO_ROOT, 'src', 'cli', 'main.ts') : compiledCli();

/** The bundled CLI, as the package ships it (scripts/bundle.ts), built again when a source is newer. */
function compiledCli(): string {
  const bundled = join(REPO_ROOT, 'dist', 'bundle', 'main.js');
  const newestSource = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (newest, entry) =>
        Math.max(newest, entry.isDirectory() ? newestSource(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs),
      0,
    );
  if (!existsSync(bundled) || statSync(bundled).mtimeMs < newestSource(join(REPO_ROOT, 'src'))) {
    process.stderr.write('# bundling the CLI (npm run build:bundle)\n');
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle.ts')], { stdio: 'inherit' });
  }
  return bundled;
}
export const NODE = process.execPath;

/** Stops processes and removes dirs registered during a benchmark, newest first. */
type Cleanup = () => Promise<void>;
const cleanups: Cleanup[] = [];

/** Writes a progress line to stderr (stdout is reserved for the result). */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** A fresh temp dir, removed when the benchmark ends. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `gantry-bench-${prefix}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `cleanup` when the benchmark ends, however it ends (after what was registered later). */
export function atCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/** Milliseconds since the epoch with sub-ms precision, comparable with `date +%s%N` / 1e6. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface CmdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /**
   * User + system CPU of the command and every descendant it waited for, ms (with `cpu: true`).
   * Less sensitive than wall time to other tenants of a shared machine.
   */
  cpuMs?: number;
}

export interface CmdOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Hard limit; the process is killed (and the benchmark fails) past it. Default 120 s. */
  timeoutMs?: number;
  /** Where stdout goes: captured (default) or discarded without buffering (large outputs). */
  stdout?: 'capture' | 'ignore';
  /** Measure CPU time too (runs the command under a bash that reports `times`). */
  cpu?: boolean;
}

/** Prints the children's CPU times as the last stderr line, keeping the command's exit status. */
const CPU_WRAPPER = ['bash', '-c', '"$@"; rc=$?; times >&2; exit $rc', 'bench-cpu'];
const TIMES_LINE = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\n*$/;

/**
 * Runs a command to completion, timing spawn → exit. The child is tracked like any other so a
 * deadline or Ctrl-C stops it; a timeout rejects rather than reporting a bogus figure.
 */
export async function runCmd(argv: string[], o: CmdOptions = {}): Promise<CmdResult> {
  const [command, ...args] = o.cpu ? [...CPU_WRAPPER, ...argv] : argv;
  if (command === undefined || argv.length === 0) throw new Error('runCmd: empty argv');
  const started = performance.now();
  // Its own process group: stopping it (TERM/KILL to -pid) also reaches what it started, e.g. the
  // gantry CLI under the CPU-timing bash, which a signal to the bash alone would leave running.
  const child = spawn(command, args, {
    cwd: o.cwd,
    env: o.env ?? process.env,
    detached: true,
    stdio: ['ignore', o.stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
  });
  const untrack = track(child, true);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  const timeoutMs = o.timeoutMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signal(child, true, 'SIGKILL');
  }, timeoutMs);
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
      child.once('error', rej);
      child.once('close', (c, s) => res({ code: c, signal: s }));
    });
    const ms = performance.now() - started;
    if (timedOut) throw new Error(`${argv.join(' ')} did not finish within ${timeoutMs} ms`);
    let stderr = Buffer.concat(err).toString('utf8');
    let cpuMs: number | undefined;
    if (o.cpu && signal === null) {
      const m = TIMES_LINE.exec(stderr);
      if (!m) throw new Error(`no CPU times from ${argv.join(' ')}: ${stderr.slice(-500)}`);
      cpuMs = (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
      stderr = stderr.slice(0, m.index).replace(/[^\n]*\n?$/, '');
    }
    return { code, signal, ms, stdout: Buffer.concat(out).toString('utf8'), stderr, ...(cpuMs === undefined ? {} : { cpuMs }) };
  } finally {
    clearTimeout(timer);
    untrack();
  }
}

/** Like runCmd, but a non-zero exit is an error carrying the command's stderr. */
export async function runOk(argv: string[], o: CmdOptions = {}): Promise<CmdResult> {
  const r = await runCmd(argv, o);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-2000)}`);
  return r;
}

/** Runs the gantry CLI (`node src/cli/main.ts …`). */
export function gantry(args: string[], o: CmdOptions = {}): Promise<CmdResult> {
  return runCmd([NODE, GANTRY_CLI, ...args], o);
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** The environment for git commands: a fixed identity, no system or user config. */
export function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...GIT_ENV, HOME: tmpdir() };
}

/** A temp git repository with `gantry.yaml` (and any extra files) committed on branch main. */
export async function tempRepo(prefix: string, gantryYaml: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await tempDir(prefix);
  await runOk(['git', 'init', '-q', '-b', 'main', dir], { env: gitEnv() });
  await writeFile(join(dir, 'gantry.yaml'), gantryYaml);
  await writeFile(join(dir, '.gitignore'), '.gantry/\n');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await runOk(['git', 'add', '-A'], { cwd: dir, env: gitEnv() });
  await runOk(['git', 'commit', '-q', '-m', 'bench'], { cwd: dir, env: gitEnv() });
  return dir;
}

/** The job shape of `gantry run --json` / `runs show --json` that benchmarks read. */
export interface JobJson {
  key: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  steps: unknown[];
}
export interface RunJson {
  id: string;
  status: string;
  jobs: JobJson[];
}

/** Parses `--json` output and checks the run succeeded (a failed run's timing means nothing). */
export function parseRun(stdout: string): RunJson {
  const run = JSON.parse(stdout) as RunJson;
  if (run.status !== 'success') {
    const bad = run.jobs
      .filter((j) => j.status !== 'success')
      .slice(0, 3)
      .map((j) => `${j.key}=${j.status}`);
    throw new Error(`run ${run.id} ended ${run.status} (${bad.join(', ')})`);
  }
  return run;
}

/** First job start → last job end of a run, ms (the engine's own view of the work). */
export function jobsSpanMs(run: RunJson): number {
  const starts = run.jobs.map((j) => Date.parse(j.startedAt ?? ''));
  const ends = run.jobs.map((j) => Date.parse(j.finishedAt ?? ''));
  if ([...starts, ...ends].some(Number.isNaN)) throw new Error(`run ${run.id} has jobs without start/finish times`);
  return Math.max(...ends) - Math.min(...starts);
}

/** A TCP port that was free a moment ago on 127.0.0.1: the one helper of src/platform/ports.ts. */
export { freePort };

export interface ServerHandle {
  pid: number;
  url: string;
  dataDir: string;
  /** ms from spawn to the first 200 of GET /api/health. */
  readyMs: number;
  /** The admin token the server wrote to its data dir. */
  token(): string;
  /** An authenticated JSON request to the API. */
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** How often /api/health is polled while waiting, ms. */
  pollMs?: number;
  readyTimeoutMs?: number;
  /** Where the server's whole output is also written (kept for a failed run's post-mortem). */
  logFile?: string;
}

/**
 * Starts `gantry up` on a port picked here (the server prints its URL only as prose) and waits for
 * /api/health to answer 200. Server stderr is kept to show in errors.
 */
export async function startServer(o: StartServerOptions): Promise<ServerHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  // SERVER_NODE_FLAGS: extra Node flags for the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeFlags = process.env.SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(NODE, [...nodeFlags, GANTRY_CLI, '--data', o.dataDir, 'up', '--port', String(port)], {
    // No security job (GANTRY_SECURITY_SCANS): each benchmark measures the pipeline it declares.
    env: { GANTRY_DRAIN_MS: '1000', GANTRY_SECURITY_SCANS: 'off', ...(o.env ?? process.env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const untrack = track(child, false);
  // Instances and proxies outlive a server by design (the next one adopts them): at the end of
  // the benchmark, however it ends, they go too (before the data dir they live in).
  atCleanup(async () => killLeftovers(o.dataDir));
  let log = '';
  const logStream = o.logFile ? createWriteStream(o.logFile) : undefined;
  const keep = (c: Buffer) => {
    log = (log + c.toString('utf8')).slice(-4000);
    logStream?.write(c);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('gantry up did not start');
  const deadline = started + (o.readyTimeoutMs ?? 30_000);
  let readyMs = -1;
  while (readyMs < 0) {
    if (exited) throw new Error(`gantry up exited before it answered: ${log}`);
    if (performance.now() > deadline)
      throw new Error(`gantry up did not answer /api/health within ${o.readyTimeoutMs ?? 30_000} ms: ${log}`);
    try {
      const r = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) readyMs = performance.now() - started;
    } catch {
      // Not listening yet.
    }
    if (readyMs < 0) await delay(o.pollMs ?? 10);
  }
  let token: string | null = null;
  const handle: ServerHandle = {
    pid,
    url,
    dataDir: o.dataDir,
    readyMs,
    token: () => (token ??= readFileSync(join(o.dataDir, 'admin.token'), 'utf8').trim()),
    api: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${handle.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 500)}`);
      return JSON.parse(text) as T;
    },
    stop: async () => {
      await stopChild(child, false);
      untrack();
    },
  };
  return handle;
}

/** The `gantry` environment variables a client command needs to reach `server`. */
export function clientEnv(server: ServerHandle): NodeJS.ProcessEnv {
  return { ...process.env, GANTRY_URL: server.url, GANTRY_TOKEN: server.token() };
}

/** Polls `check` every `everyMs` until it returns a value, failing after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 5,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** Resident set size of a process in MiB, from /proc/<pid>/status (null once it is gone). */
export function rssMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS on an interval and keeps the maximum (and the count of samples). */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  maxMiB = 0;
  samples = 0;
  constructor(pid: number, everyMs = 100) {
    this.#pid = pid;
    const sample = () => {
      const v = rssMiB(this.#pid);
      if (v === null) return;
      this.samples += 1;
      if (v > this.maxMiB) this.maxMiB = v;
    };
    sample();
    this.#timer = setInterval(sample, everyMs);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** The p-th percentile (0–100), nearest-rank on sorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Median (lower middle for even counts, as in the peers' scripts), min and max. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}
export function spread(values: number[], digits = 2): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const r = (v: number | undefined) => round(v ?? Number.NaN, digits);
  return { median: r(sorted[Math.floor((sorted.length - 1) / 2)]), min: r(sorted[0]), max: r(sorted[sorted.length - 1]), n: sorted.length };
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** What every result carries so figures can be compared across machines. */
export function machine(): Record<string, unknown> {
  return {
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg_1m_at_end: round(loadavg()[0] ?? 0),
  };
}

/** Whether bubblewrap works here (same probe as the executor's). */
export async function bwrapWorks(): Promise<boolean> {
  if (!['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap'].some((p) => existsSync(p))) return false;
  const r = await runCmd(['bwrap', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', 'true'], { timeoutMs: 10_000 }).catch(
    () => null,
  );
  return r?.code === 0;
}

/** Registers a child process so cleanup stops it by PID; returns the unregister function. */
export function track(child: ChildProcess, group: boolean): () => void {
  const cleanup: Cleanup = () => stopChild(child, group);
  cleanups.push(cleanup);
  return () => {
    const i = cleanups.indexOf(cleanup);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Signals a child we started: its PID, or with `group` the process group it leads (-PID). */
function signal(child: ChildProcess, group: boolean, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(group ? -child.pid : child.pid, sig);
  } catch {
    // Already gone.
  }
}

/** TERM, then KILL after 5 s; resolves when the child has exited. */
async function stopChild(child: ChildProcess, group: boolean): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((res) => child.once('exit', () => res()));
  signal(child, group, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null) signal(child, group, 'SIGKILL');
  }, 5000);
  await gone;
  clearTimeout(timer);
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const c = cleanups.pop();
    await c?.().catch((e: unknown) => progress(`cleanup failed: ${(e as Error).message}`));
  }
}

/**
 * Runs a benchmark: prints its result as one JSON object on stdout, cleans up whatever happens,
 * and enforces a hard deadline (stopping children and exiting 1 past it). Exit 1 on error.
 */
export async function benchMain(name: string, deadlineMs: number, body: () => Promise<Record<string, unknown>>): Promise<void> {
  let finished = false;
  const abort = async (why: string) => {
    if (finished) return;
    finished = true;
    progress(`${name}: ${why}; stopping`);
    await runCleanups();
    process.exit(1);
  };
  const timer = setTimeout(() => void abort(`deadline of ${deadlineMs} ms passed`), deadlineMs);
  process.once('SIGINT', () => void abort('interrupted'));
  process.once('SIGTERM', () => void abort('terminated'));
  try {
    const result = await body();
    if (finished) return;
    process.stdout.write(`${JSON.stringify({ bench: name, ...result, machine: machine() }, null, 2)}\n`);
  } catch (error) {
    // undici's `fetch failed` says nothing by itself: the reason (a socket closed, a refused
    // connection, a timeout) is its cause.
    const cause = (error as Error).cause;
    if (!finished)
      progress(`${name} failed: ${(error as Error).stack ?? String(error)}${cause === undefined ? '' : `\ncause: ${inspect(cause)}`}`);
    process.exitCode = 1;
  } finally {
    if (!finished) {
      finished = true;
      clearTimeout(timer);
      await runCleanups();
    }
  }
}

/** A small seeded PRNG (mulberry32): generated data is the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
