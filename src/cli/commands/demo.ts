/**
 * `gantry demo`: ships two new versions of the example project (see example-project.ts) to
 * production while a light synthetic load runs against production's proxy, so every chart of
 * the dashboard shows real traffic: a healthy version that the canary analysis promotes, then a
 * faulty one (a share of its requests answer 500) that it rolls back by itself. Versions are
 * commits of the example's repository: the git hook starts the pipeline, a successful run makes
 * the release, and the demo deploys that release like `gantry deploy` would.
 */
import type { Command } from 'commander';
import { ConflictError, GantryError, InputError } from '../../core/errors.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import {
  commitVersion,
  environmentUrl,
  followRun,
  locateExampleProject,
  readVersion,
  runOfCommit,
  waitForRelease,
  waitForRollout,
  type ProgressLog,
  type ProjectView,
  type RolloutView,
} from '../example-project.ts';
import { bold, dim, green, red } from '../output.ts';
import { isFinalRollout } from '../../core/rollout-phase.ts';
import { formatDuration } from '../../pipeline/durations.ts';
import { parseCanaryPause, writeCanaryPause } from '../example-canary-pause.ts';

/** The faulty version's share of 500 answers: caught within seconds at a 20 % canary, obvious on the charts. */
export const FAULTY_ERROR_RATE = 0.3;
/** The load never outlives this, whatever happens to the rollouts (Ctrl-C stops it sooner). */
const MAX_LOAD_MS = 4 * 60_000;
const RUN_TIMEOUT_MS = 180_000;
const ROLLOUT_TIMEOUT_MS = 180_000;
const LOAD_REPORT_EVERY_MS = 5_000;

interface DemoOptions {
  faulty: boolean;
  quiet?: boolean;
  rate: string;
  pause?: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'canary a new version of the example project into production under a light synthetic load, then a faulty one that is rolled back',
    )
    .option('--no-faulty', 'ship only the healthy version')
    .option('--quiet', 'only the milestones, no traffic lines')
    .option('--rate <n>', 'synthetic requests per second against production', '20')
    .option(
      '--pause <duration>',
      "hold each canary step this long (1s to 1m) instead of the example's 10s; written into the example's gantry.yaml with the new version",
    )
    .action(async (opts: DemoOptions) => {
      const rate = Number(opts.rate);
      if (!Number.isFinite(rate) || rate <= 0 || rate > 200)
        throw new InputError(`--rate must be a number of requests per second from 1 to 200, got '${opts.rate}'`);
      const pauseMs = opts.pause === undefined ? null : parseCanaryPause(opts.pause);
      const api = new ApiClient(serverAddress((program.opts() as { data?: string }).data));
      const interrupt = new AbortController();
      const onSigint = () => interrupt.abort();
      process.once('SIGINT', onSigint);
      const state: DemoState = { project: null, rolloutId: null };
      try {
        process.exitCode = await runDemo(
          api,
          { faulty: opts.faulty, quiet: Boolean(opts.quiet), rate, pauseMs, signal: interrupt.signal },
          state,
        );
      } catch (error) {
        if (!interrupt.signal.aborted) throw error;
        process.stderr.write(`stopped: the load is off${await abortStartedRollout(api, state)}\n`);
        process.exitCode = 130;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}

/** What an interruption must undo: the rollout the demo started, which would pause for lack of traffic without its load. */
interface DemoState {
  project: ProjectView | null;
  rolloutId: string | null;
}

async function abortStartedRollout(api: ApiClient, state: DemoState): Promise<string> {
  if (!state.project || !state.rolloutId) return '';
  const path = `/api/projects/${enc(state.project.id)}/environments/production`;
  try {
    const view = await api.request<RolloutView>('GET', `${path}/rollout`);
    if (view.rollout?.id !== state.rolloutId || isFinalRollout(view.rollout.phase)) return '';
    await api.request('POST', `${path}/rollout/abort`);
    return '; the rollout it started was aborted (production goes back to its current release)';
  } catch (error) {
    return `; the rollout it started could not be aborted (${(error as Error).message}): \`gantry rollout abort ${state.project.name} --env production\``;
  }
}

interface RunDemoOptions {
  faulty: boolean;
  quiet: boolean;
  rate: number;
  /** `--pause`: each canary step's pause to commit with the versions; null keeps the example's. */
  pauseMs: number | null;
  signal: AbortSignal;
}

/** The story; returns the exit code: 0 when the healthy version was promoted and the faulty one rolled back. */
async function runDemo(api: ApiClient, o: RunDemoOptions, state: DemoState): Promise<number> {
  const say: ProgressLog = (line) => process.stdout.write(`${line}\n`);
  const project = await locateExampleProject(api);
  if (!project)
    throw new GantryError(
      'NO_EXAMPLE',
      `no example project on this server: start it with \`gantry up --example\` (what \`npm start\` does)`,
    );
  state.project = project;
  const repoDir = project.source.path as string;
  const production = `/api/projects/${enc(project.id)}/environments/production`;
  const wait = { signal: o.signal, timeoutMs: ROLLOUT_TIMEOUT_MS };

  const before = await api.request<RolloutView>('GET', `${production}/rollout`);
  if (before.rollout && !isFinalRollout(before.rollout.phase)) {
    throw new ConflictError(
      `a rollout is under way in production (${before.rollout.phase}): wait for it, or \`gantry rollout abort ${project.name} --env production\``,
    );
  }
  if (!before.environment?.currentReleaseId) await firstProductionDeploy(api, project, say, wait);

  const url = await environmentUrl(api, project, 'production');
  if (!url) throw new GantryError('EXAMPLE_FAILED', 'production has no port after its deploy');
  const load = new SyntheticLoad({ url, ratePerSecond: o.rate, maxDurationMs: MAX_LOAD_MS });
  say(
    `${bold('synthetic load')}: ${o.rate} requests/s against production at ${url} ${dim('(stops by itself when the demo ends, at most 4 minutes)')}`,
  );
  load.start();
  const runs: string[] = [];
  try {
    const current = await readVersion(repoDir);
    const good = nextVersion(current.version);
    const healthy = await ship(api, project, { version: good, errorRate: 0 }, 'succeeded', { ...o, load, say, runs, state });
    let faulty = true;
    if (o.faulty && healthy)
      faulty = await ship(api, project, { version: nextVersion(good), errorRate: FAULTY_ERROR_RATE }, 'rolled-back', {
        ...o,
        load,
        say,
        runs,
        state,
      });
    const totals = load.total();
    say(`${bold('traffic')}: ${describeTally(totals)}`);
    const base = api.address.url;
    say(`\nSee it in the dashboard:\n  ${base}/projects/${enc(project.id)}/environments/production`);
    for (const runId of runs) say(`  ${base}/runs/${enc(runId)}`);
    return healthy && faulty ? 0 : 1;
  } finally {
    await load.stop();
  }
}

/** Production starts on what staging runs: its first deploy has no baseline to canary against. */
async function firstProductionDeploy(
  api: ApiClient,
  project: ProjectView,
  say: ProgressLog,
  wait: { signal: AbortSignal; timeoutMs: number },
): Promise<void> {
  const staging = await api.request<RolloutView>('GET', `/api/projects/${enc(project.id)}/environments/staging/rollout`);
  const { releases } = await api.request<{ releases: { id: string; number: number }[] }>(
    'GET',
    `/api/projects/${enc(project.id)}/releases`,
  );
  const release = releases.find((r) => r.id === staging.environment?.currentReleaseId) ?? releases[0];
  if (!release)
    throw new GantryError(
      'EXAMPLE_FAILED',
      `${project.name} has no release yet: its first pipeline run must succeed (\`gantry runs list --project ${project.name}\`)`,
    );
  say(`production starts on release #${release.number} ${dim('(a first deploy: no canary, there is nothing to compare with)')}`);
  const { rollout } = await api.request<{ rollout: { id: string } }>(
    'POST',
    `/api/projects/${enc(project.id)}/environments/production/deploy`,
    { release: release.id },
  );
  const done = await waitForRollout(api, project, 'production', (r) => r.id === rollout.id, wait);
  if (done.rollout?.phase !== 'succeeded')
    throw new GantryError(
      'EXAMPLE_FAILED',
      `the first deploy to production ended ${done.rollout?.phase ?? 'unknown'}: ${done.rollout?.state.reason ?? ''}`,
    );
}

interface ShipContext extends RunDemoOptions {
  load: SyntheticLoad;
  say: ProgressLog;
  runs: string[];
  state: DemoState;
}

/** Commits a version, follows its pipeline and its canary; true when the rollout ended as `expected`. */
async function ship(
  api: ApiClient,
  project: ProjectView,
  version: { version: string; errorRate: number },
  expected: 'succeeded' | 'rolled-back',
  c: ShipContext,
): Promise<boolean> {
  const { say } = c;
  const repoDir = project.source.path as string;
  const label =
    version.errorRate > 0
      ? `${version.version} ${red(`(faulty: ${Math.round(version.errorRate * 100)} % of its requests fail)`)}`
      : version.version;
  say(`\n${bold(`── ${label}`)}`);
  if (c.pauseMs !== null && (await writeCanaryPause(repoDir, c.pauseMs)))
    say(`canary steps pause ${formatDuration(c.pauseMs)} ${dim('(--pause, written into gantry.yaml)')}`);
  const sha = await commitVersion(repoDir, version, `hello ${version.version}${version.errorRate > 0 ? ' (faulty)' : ''}`);
  const run = await runOfCommit(api, project, sha, { signal: c.signal, timeoutMs: RUN_TIMEOUT_MS });
  c.runs.push(run.id);
  say(`commit ${sha.slice(0, 10)} → run #${run.number} ${dim(run.id)}`);
  const finished = await followRun(api, run.id, c.quiet ? () => undefined : say, { signal: c.signal, timeoutMs: RUN_TIMEOUT_MS });
  if (finished.status !== 'success') {
    say(`${red('✘')} the pipeline ended ${finished.status}: \`gantry runs show ${run.id}\``);
    return false;
  }
  const release = await waitForRelease(api, project, run.id, { signal: c.signal, timeoutMs: 60_000 });
  const { rollout } = await api.request<{ rollout: { id: string } }>(
    'POST',
    `/api/projects/${enc(project.id)}/environments/production/deploy`,
    { release: release.id },
  );
  c.state.rolloutId = rollout.id;
  say(`release #${release.number} → production (canary)`);

  let lastLine = '';
  let lastLoad = Date.now();
  let resuming: Promise<unknown> | null = null;
  c.load.take();
  const done = await waitForRollout(api, project, 'production', (r) => r.id === rollout.id, {
    signal: c.signal,
    timeoutMs: ROLLOUT_TIMEOUT_MS,
    intervalMs: 500,
    onView: (view) => {
      const line = describeRollout(view);
      if (line !== lastLine) {
        say(`  ${line}`);
        lastLine = line;
      }
      // Too little traffic at a step's end (a busy machine): a person would look and go on; so does the demo.
      if (view.rollout?.phase === 'paused' && view.rollout.state.pausedKind === 'inconclusive' && !resuming) {
        say(`  ${view.rollout.state.pausedReason ?? 'the analysis was inconclusive'}: the demo resumes it`);
        resuming = api
          .request('POST', `/api/projects/${enc(project.id)}/environments/production/rollout/resume`)
          .catch(() => undefined)
          .finally(() => {
            resuming = null;
          });
      }
      if (!c.quiet && Date.now() - lastLoad >= LOAD_REPORT_EVERY_MS) {
        lastLoad = Date.now();
        say(dim(`    traffic ${describeTally(c.load.take())}`));
      }
    },
  });
  const phase = done.rollout?.phase ?? 'unknown';
  const as = phase === expected;
  const reason = done.rollout?.state.reason ? `: ${done.rollout.state.reason}` : '';
  if (phase === 'succeeded') say(`${as ? green('✔') : red('✘')} ${version.version} was promoted: production runs it`);
  else if (phase === 'rolled-back')
    say(
      `${as ? green('✔') : red('✘')} ${version.version} was rolled back, production stays on the version before${reason ? `\n  ${reason.slice(2)}` : ''}`,
    );
  else say(`${red('✘')} the rollout of ${version.version} ended ${phase}${reason}`);
  return as;
}

/** The next major version: 1.0.0 → 2.0.0, so each demo run ships versions newer than the last. */
export function nextVersion(version: string): string {
  const major = Number(/^(\d+)\./.exec(version)?.[1] ?? 0);
  return `${major + 1}.0.0`;
}

/** One line of a rollout's progress: phase, traffic split and each check's verdict. */
export function describeRollout(view: RolloutView): string {
  const r = view.rollout;
  if (!r) return 'no rollout';
  const steps = r.state.strategy.steps;
  const step =
    steps && !isFinalRollout(r.phase) && !['starting', 'promoting', 'rolling-back'].includes(r.phase)
      ? ` step ${r.state.stepIndex + 1}/${steps.length}`
      : '';
  const { stable, canary } = view.live.weights;
  const checks = r.state.lastAnalysis?.checks ?? [];
  const analysis =
    checks.length > 0 && (r.phase === 'progressing' || r.phase === 'paused')
      ? `  analysis: ${checks.map((check) => `${check.name} ${check.outcome === 'pass' ? 'ok' : check.outcome}`).join(', ')}`
      : '';
  return `${r.phase}${step}  stable ${stable}% / canary ${canary}%${analysis}`;
}

/** What the load saw in a while: requests per version, errors and failed connections. */
export interface LoadTally {
  requests: number;
  /** 5xx answers. */
  errors: number;
  /** No answer at all (refused, reset, timed out). */
  failed: number;
  versions: Record<string, number>;
}

export function describeTally(t: LoadTally): string {
  const versions = Object.entries(t.versions).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  const parts = versions.map(([v, n]) => `${v} ${Math.round((n / Math.max(1, t.requests)) * 100)}%`);
  return `${t.requests} requests${parts.length > 0 ? ` (${parts.join(', ')})` : ''}, ${t.errors} errors${t.failed > 0 ? `, ${t.failed} without answer` : ''}`;
}

const emptyTally = (): LoadTally => ({ requests: 0, errors: 0, failed: 0, versions: {} });

export interface SyntheticLoadOptions {
  url: string;
  ratePerSecond: number;
  /** It stops by itself after this long. */
  maxDurationMs: number;
  /** Per request (default 5 s). */
  requestTimeoutMs?: number;
}

/**
 * A steady, bounded stream of GET requests: at most `ratePerSecond`, never more than a second's
 * worth in flight (a stalled service is not buried under retries), and it ends by itself after
 * `maxDurationMs`, so a forgotten demo cannot load a machine for long.
 */
export class SyntheticLoad {
  readonly #o: SyntheticLoadOptions;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #deadline: NodeJS.Timeout | null = null;
  #window = emptyTally();
  #total = emptyTally();

  constructor(o: SyntheticLoadOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#timer) return;
    const every = Math.max(1, Math.round(1000 / this.#o.ratePerSecond));
    this.#timer = setInterval(() => this.#fire(), every);
    this.#deadline = setTimeout(() => void this.stop(), this.#o.maxDurationMs);
    this.#deadline.unref();
  }

  /** Stops sending, cancels what is in flight and waits for it to settle. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#timer = null;
    this.#deadline = null;
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  get running(): boolean {
    return this.#timer !== null;
  }

  /** What was seen since the last take. */
  take(): LoadTally {
    const window = this.#window;
    this.#window = emptyTally();
    return window;
  }

  total(): LoadTally {
    return structuredClone(this.#total);
  }

  #fire(): void {
    if (this.#inFlight.size >= Math.max(1, this.#o.ratePerSecond)) return;
    const request = this.#request().finally(() => this.#inFlight.delete(request));
    this.#inFlight.add(request);
  }

  async #request(): Promise<void> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.requestTimeoutMs ?? 5_000)]);
    let status = 0;
    let version: string | null = null;
    try {
      const response = await fetch(this.#o.url, { signal, headers: { accept: 'application/json' } });
      status = response.status;
      const body = (await response.json().catch(() => null)) as { version?: unknown } | null;
      if (typeof body?.version === 'string') version = body.version;
    } catch {
      if (this.#abort.signal.aborted) return;
    }
    for (const tally of [this.#window, this.#total]) {
      tally.requests++;
      if (status === 0) tally.failed++;
      else if (status >= 500) tally.errors++;
      if (version !== null) tally.versions[version] = (tally.versions[version] ?? 0) + 1;
    }
  }
}

const enc = encodeURIComponent;
