/**
 * Gantry's example project: `examples/hello` of the package, copied under the data directory as
 * a git repository of its own and registered as a project. `gantry up --example` (what
 * `npm start` runs) sets it up and deploys it to staging; `gantry demo` ships new versions of it.
 * Everything goes through the REST API, as a user's CLI would, so the example takes exactly the
 * paths a real project takes: registration, git hook, run, release, automatic deploy.
 */
import { existsSync, realpathSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../core/errors.ts';
import type { JobReport, RunStatus } from '../core/types.ts';
import { runGit } from '../platform/git.ts';
import type { ApiClient } from './api-client.ts';
import { dim, formatMs, statusSymbol } from './output.ts';
import { isFinalRollout } from '../core/rollout-phase.ts';

/** The project name the example registers under (another if a project of the user's has it). */
export const EXAMPLE_NAME = 'hello';
const FALLBACK_NAME = 'hello-example';

/** The example's sources in the package: the same relative place from src/cli and dist/cli. */
export const EXAMPLE_SOURCE_DIR = fileURLToPath(new URL('../../examples/hello/', import.meta.url));

/** Where the example's repository lives: inside the data directory, so a fresh data dir is a fresh start. */
export function exampleRepoDir(dataDir: string): string {
  return join(dataDir, 'examples', 'hello');
}

/** Build output and local state of the source folder never go into the example's first commit. */
const NOT_COPIED = new Set(['.git', '.gantry', 'node_modules', 'dist', 'reports']);

/** One progress line for the person watching (no trailing newline). */
export type ProgressLog = (line: string) => void;

export interface ProjectView {
  id: string;
  name: string;
  source: { kind: string; path?: string; url?: string };
}
interface RunView {
  run: { id: string; number: number; status: RunStatus; event: { sha: string } };
  status: RunStatus;
  jobs: JobReport[];
}
interface ReleaseView {
  id: string;
  number: number;
  runId: string | null;
  sha: string;
}
/** The parts of GET …/environments/:env/rollout the example and the demo read. */
export interface RolloutView {
  environment: { currentReleaseId: string | null; previousReleaseId: string | null; port: number | null } | null;
  rollout: {
    id: string;
    releaseId: string;
    phase: string;
    finishedAt: string | null;
    state: {
      stepIndex: number;
      reason: string | null;
      /** 'inconclusive' when the analysis paused the rollout at a step's end for want of data. */
      pausedKind?: string | null;
      pausedReason?: string | null;
      strategy: { kind: string; steps?: { weight: number; pauseMs: number | null }[] };
      lastAnalysis: { outcome: string; checks: { name: string; outcome: string; value: number | null; reason: string }[] } | null;
    };
  } | null;
  live: { port: number | null; weights: { stable: number; canary: number } };
}

/** Rollout phases that never change again. */

export interface ExampleSetup {
  project: ProjectView;
  repoDir: string;
  /** False when the project was registered already (a restart): nothing was changed. */
  created: boolean;
  /** The run this setup started, if it started one. */
  runId: string | null;
  /** Where staging answers, once something is deployed there. */
  stagingUrl: string | null;
}

export interface SetUpExampleOptions {
  dataDir: string;
  api: ApiClient;
  log: ProgressLog;
  signal?: AbortSignal;
  /** The folder to copy (default: the package's examples/hello). */
  sourceDir?: string;
  /** For the run and for the deploy, each (default 5 minutes: a cold machine's first run is slow). */
  timeoutMs?: number;
}

/**
 * Copies, commits, registers, runs and deploys the example to staging; idempotent: when the
 * example is registered already it only reports where staging is. Failures are GantryErrors
 * whose message says what to look at; the caller decides whether they stop anything.
 */
export async function setUpExample(o: SetUpExampleOptions): Promise<ExampleSetup> {
  const { api, log } = o;
  const repoDir = exampleRepoDir(o.dataDir);
  const timeoutMs = o.timeoutMs ?? 300_000;
  const existing = await findExampleProject(api, repoDir);
  if (existing) {
    const stagingUrl = await environmentUrl(api, existing, 'staging');
    log(`the example project ${existing.name} is registered already ${dim(`(${repoDir})`)}`);
    return { project: existing, repoDir, created: false, runId: null, stagingUrl };
  }

  // A copy left by an earlier start that stopped half-way is taken as it is.
  if (!existsSync(join(repoDir, '.git'))) {
    log(`copying the example service to ${repoDir}`);
    await copyExample(o.sourceDir ?? EXAMPLE_SOURCE_DIR, repoDir);
    await runGit(['init', '-q', '-b', 'main'], { cwd: repoDir });
  }
  if (!(await hasCommit(repoDir))) await commitAll(repoDir, `hello ${(await readVersion(repoDir)).version}`);
  const project = await registerExample(api, repoDir);
  log(`registered the project ${project.name}; git hook installed: each commit there starts its pipeline`);

  const { run } = await api.request<{ run?: { id: string; number: number }; skipped?: string }>(
    'POST',
    `/api/projects/${enc(project.id)}/runs`,
    { kind: 'push' },
  );
  if (!run) throw new GantryError('EXAMPLE_FAILED', `the example's pipeline did not start (its gantry.yaml ignores the push)`);
  log(`run #${run.number} ${dim(run.id)}`);
  const finished = await followRun(api, run.id, log, { signal: o.signal, timeoutMs });
  if (finished.status !== 'success') {
    throw new GantryError('EXAMPLE_FAILED', `the example's pipeline ended ${finished.status}: see \`gantry runs show ${run.id}\``);
  }
  const release = await waitForRelease(api, project, run.id, { signal: o.signal, timeoutMs: 60_000 });
  log(`release #${release.number} ${dim(release.sha.slice(0, 12))} → staging`);
  const staging = await waitForRollout(api, project, 'staging', (r) => r.releaseId === release.id, { signal: o.signal, timeoutMs });
  if (staging.rollout?.phase !== 'succeeded') {
    throw new GantryError(
      'EXAMPLE_FAILED',
      `the deploy to staging ended ${staging.rollout?.phase ?? 'unknown'}${staging.rollout?.state.reason ? `: ${staging.rollout.state.reason}` : ''}`,
    );
  }
  return { project, repoDir, created: true, runId: run.id, stagingUrl: await environmentUrl(api, project, 'staging') };
}

/** The registered example: the project whose local repository is the example's folder. */
export async function findExampleProject(api: ApiClient, repoDir: string): Promise<ProjectView | null> {
  const { projects } = await api.request<{ projects: ProjectView[] }>('GET', '/api/projects');
  const wanted = canonical(repoDir);
  return projects.find((p) => p.source.kind === 'local' && p.source.path !== undefined && canonical(p.source.path) === wanted) ?? null;
}

/**
 * The example for `gantry demo`, which may not know the server's data directory (GANTRY_URL):
 * a local project whose folder is an `examples/hello` with the example's version file.
 */
export async function locateExampleProject(api: ApiClient): Promise<ProjectView | null> {
  const { projects } = await api.request<{ projects: ProjectView[] }>('GET', '/api/projects');
  return (
    projects.find((p) => {
      const path = p.source.kind === 'local' ? p.source.path : undefined;
      return (
        path !== undefined &&
        basename(path) === 'hello' &&
        basename(join(path, '..')) === 'examples' &&
        existsSync(join(path, 'version.json'))
      );
    }) ?? null
  );
}

/** Copies the example's sources, leaving out build output and repository state. */
export async function copyExample(sourceDir: string, repoDir: string): Promise<void> {
  if (!existsSync(join(sourceDir, 'gantry.yaml'))) {
    throw new GantryError('EXAMPLE_MISSING', `the example service is missing from ${sourceDir} (is this a complete Gantry checkout?)`);
  }
  await mkdir(repoDir, { recursive: true });
  await cp(sourceDir, repoDir, { recursive: true, filter: (from) => !NOT_COPIED.has(basename(from)) || from === sourceDir });
}

/** The example's version file: what `gantry demo` edits to make a new version. */
export interface ExampleVersion {
  version: string;
  errorRate: number;
}

export async function readVersion(repoDir: string): Promise<ExampleVersion> {
  const parsed = JSON.parse(await readFile(join(repoDir, 'version.json'), 'utf8')) as Partial<ExampleVersion>;
  return { version: String(parsed.version ?? '0.0.0'), errorRate: Number(parsed.errorRate ?? 0) };
}

/**
 * Writes version.json and commits it, with gantry.yaml when the demo changed it (`--pause`); the
 * commit's git hook starts the pipeline. Returns the new commit.
 */
export async function commitVersion(repoDir: string, version: ExampleVersion, message: string): Promise<string> {
  await writeFile(join(repoDir, 'version.json'), `${JSON.stringify(version)}\n`);
  await runGit(['add', '--', 'version.json', 'gantry.yaml'], { cwd: repoDir });
  return commit(repoDir, message);
}

async function hasCommit(repoDir: string): Promise<boolean> {
  return runGit(['rev-parse', '--verify', '-q', 'HEAD'], { cwd: repoDir }).then(
    () => true,
    () => false,
  );
}

async function commitAll(repoDir: string, message: string): Promise<string> {
  await runGit(['add', '-A'], { cwd: repoDir });
  return commit(repoDir, message);
}

async function commit(repoDir: string, message: string): Promise<string> {
  // A fixed identity: a fresh machine often has none, and these commits are the example's, not the user's.
  await runGit(
    [
      '-c',
      'user.name=Gantry example',
      '-c',
      'user.email=example@gantry.invalid',
      '-c',
      'commit.gpgsign=false',
      'commit',
      '-q',
      '-m',
      message,
    ],
    { cwd: repoDir },
  );
  return (await runGit(['rev-parse', 'HEAD'], { cwd: repoDir })).trim();
}

async function registerExample(api: ApiClient, repoDir: string): Promise<ProjectView> {
  for (const name of [EXAMPLE_NAME, FALLBACK_NAME]) {
    try {
      return (await api.request<{ project: ProjectView }>('POST', '/api/projects', { path: repoDir, name })).project;
    } catch (error) {
      // A project of the user's may be called hello already; the example then takes the other name.
      if (!(error instanceof GantryError && error.code === 'CONFLICT' && name !== FALLBACK_NAME)) throw error;
    }
  }
  throw new GantryError('EXAMPLE_FAILED', 'could not register the example project');
}

/** http://host:port/ of an environment's proxy, or null before its first deploy. */
export async function environmentUrl(api: ApiClient, project: ProjectView, environment: string): Promise<string | null> {
  const view = await api.request<RolloutView>('GET', `/api/projects/${enc(project.id)}/environments/${enc(environment)}/rollout`);
  const port = view.live.port ?? view.environment?.port ?? null;
  return port === null ? null : `http://${new URL(api.address.url).hostname}:${port}/`;
}

export interface WaitOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  intervalMs?: number;
}

/** Polls until `check` gives a value; throws EXAMPLE_TIMEOUT after timeoutMs, or the signal's reason when aborted. */
export async function poll<T>(what: string, check: () => Promise<T | undefined>, o: WaitOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    o.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new GantryError('EXAMPLE_TIMEOUT', `timed out after ${formatMs(o.timeoutMs)} waiting for ${what}`);
    await sleep(o.intervalMs ?? 250, undefined, { signal: o.signal });
  }
}

/** Waits for a run to end, logging each job as it starts and ends. */
export async function followRun(api: ApiClient, runId: string, log: ProgressLog, o: WaitOptions): Promise<RunView> {
  const seen = new Map<string, string>();
  return poll(
    `run ${runId}`,
    async () => {
      const view = await api.request<RunView>('GET', `/api/runs/${enc(runId)}`);
      for (const job of view.jobs) {
        if (seen.get(job.key) === job.status || job.status === 'waiting' || job.status === 'queued') continue;
        seen.set(job.key, job.status);
        log(`  ${jobLine(job)}`);
      }
      return ['success', 'failure', 'cancelled'].includes(view.status) ? view : undefined;
    },
    o,
  );
}

function jobLine(job: JobReport): string {
  const took = job.startedAt && job.finishedAt ? formatMs(Date.parse(job.finishedAt) - Date.parse(job.startedAt)) : '';
  const tests = job.tests ? `  tests: ${job.tests.passed} passed, ${job.tests.failed} failed` : '';
  return `${statusSymbol(job.status)} ${job.key.padEnd(8)} ${job.status.padEnd(8)} ${took.padStart(6)}${tests ? dim(tests) : ''}`.trimEnd();
}

/** The push run of a commit: started by the git hook, or by hand when no hook call came (no curl). */
export async function runOfCommit(
  api: ApiClient,
  project: ProjectView,
  sha: string,
  o: WaitOptions & { hookGraceMs?: number },
): Promise<{ id: string; number: number }> {
  const find = async () => {
    const { runs } = await api.request<{ runs: { id: string; number: number; event: { kind: string; sha: string } }[] }>(
      'GET',
      `/api/runs?project=${enc(project.id)}&limit=20`,
    );
    return runs.find((r) => r.event.sha === sha && r.event.kind === 'push');
  };
  try {
    return await poll('the git hook to start a run', find, { ...o, timeoutMs: o.hookGraceMs ?? 5_000 });
  } catch (error) {
    if (!(error instanceof GantryError && error.code === 'EXAMPLE_TIMEOUT')) throw error;
  }
  const { run, skipped } = await api.request<{ run?: { id: string; number: number }; skipped?: string }>(
    'POST',
    `/api/projects/${enc(project.id)}/runs`,
    { kind: 'push', ref: 'refs/heads/main' },
  );
  if (!run) throw new GantryError('EXAMPLE_FAILED', `the push was not run: ${skipped ?? 'skipped'}`);
  return run;
}

/** The release AutoRelease makes from a successful push run. */
export async function waitForRelease(api: ApiClient, project: ProjectView, runId: string, o: WaitOptions): Promise<ReleaseView> {
  return poll(
    `the release of run ${runId}`,
    async () => {
      const { releases } = await api.request<{ releases: ReleaseView[] }>('GET', `/api/projects/${enc(project.id)}/releases`);
      return releases.find((r) => r.runId === runId);
    },
    o,
  );
}

/** Waits until the environment's latest rollout is one `match` accepts and has ended; `onView` sees every poll. */
export async function waitForRollout(
  api: ApiClient,
  project: ProjectView,
  environment: string,
  match: (rollout: NonNullable<RolloutView['rollout']>) => boolean,
  o: WaitOptions & { onView?: (view: RolloutView) => void },
): Promise<RolloutView> {
  return poll(
    `the rollout in ${environment}`,
    async () => {
      const view = await api.request<RolloutView>('GET', `/api/projects/${enc(project.id)}/environments/${enc(environment)}/rollout`);
      if (view.rollout && match(view.rollout)) o.onView?.(view);
      return view.rollout && match(view.rollout) && isFinalRollout(view.rollout.phase) ? view : undefined;
    },
    o,
  );
}

/** The same folder whichever way it was written (symlinks, as git's --show-toplevel resolves them). */
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

const enc = encodeURIComponent;
