/**
 * Commit-to-running latency of a real server: `gantry up` on a fresh data dir, a temp local git
 * repository registered with `gantry project add` (which installs the reference-transaction hook),
 * then N times: note the time, `git commit --allow-empty`, and wait for the job's first step to
 * print its start time (bash's `$EPOCHREALTIME`, no fork) into the job's log, read from the data dir.
 *
 *   latency = first step running − commit start         target p50 ≤ 200 ms, sandbox on
 *
 * Once with the default executor (each job in a bubblewrap sandbox, where bubblewrap works) and
 * once with GANTRY_SANDBOX=off, each on its own server. Each run is awaited to its end before the
 * next commit, so runs never queue behind each other.
 *
 * Env: COMMITS (default 20 per variant, after 1 uncounted warm-up), SANDBOX (`both` by default
 * when bubblewrap works, `on` or `off` for one variant). Peer (published, not run here): Buildbot
 * 3.7 trigger → build start 72 ms (a change sent over PB by a persistent client, no git).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  benchMain,
  bwrapWorks,
  epochMs,
  gantry,
  gitEnv,
  percentile,
  progress,
  round,
  runOk,
  spread,
  startServer,
  tempDir,
  tempRepo,
  waitFor,
} from './lib.ts';

const COMMITS = Number(process.env.COMMITS ?? 20);
const SANDBOX = process.env.SANDBOX ?? 'both';
const STAMP = 'gantry-bench-stamp';
const TARGET_P50_MS = 200;
const BUILDBOT_TRIGGER_TO_START_MS = 72;
interface RunView {
  run: { status: string; createdAt: string };
  jobs: { startedAt: string | null }[];
}
const TERMINAL = new Set(['success', 'failure', 'cancelled', 'skipped']);

/** The step's start time (epoch ms) once its log holds the stamp line, else undefined. */
async function stampIn(logFile: string): Promise<number | undefined> {
  if (!existsSync(logFile)) return undefined;
  // The step's own output line (the system line naming the step holds the stamp's name too).
  const seconds = new RegExp(` o ${STAMP} (\\d+\\.\\d+)$`, 'm').exec(await readFile(logFile, 'utf8'))?.[1];
  return seconds === undefined ? undefined : Number(seconds) * 1000;
}

/** One server, one variant: COMMITS commits, each awaited to its run's end. */
async function measure(sandbox: boolean) {
  const yaml = [
    'pipeline:',
    '  on:',
    '    push:',
    '  jobs:',
    '    probe:',
    '      steps:',
    `        - run: echo ${STAMP} $EPOCHREALTIME`,
    '',
  ].join('\n');
  const repo = await tempRepo('trigger', yaml);
  const dataDir = await tempDir('trigger-data');
  const env = sandbox ? process.env : { ...process.env, GANTRY_SANDBOX: 'off' };
  const server = await startServer({ dataDir, env });
  progress(`server up at ${server.url} (pid ${server.pid}) in ${round(server.readyMs)} ms; sandbox ${sandbox ? 'on' : 'off'}`);
  const add = await gantry(['--data', dataDir, 'project', 'add', repo, '--name', 'bench'], { env: gitEnv() });
  if (add.code !== 0) throw new Error(`project add failed: ${add.stderr}`);

  const runsDir = join(dataDir, 'runs');
  const seen = new Set<string>();
  const latencies: number[] = [];
  const commitMs: number[] = [];
  const toDone: number[] = [];
  const toCreated: number[] = [];
  const createdToJob: number[] = [];
  const jobToStep: number[] = [];
  for (let i = 0; i <= COMMITS; i++) {
    const t0 = epochMs();
    const commit = await runOk(['git', 'commit', '-q', '--allow-empty', '-m', `bench ${i}`], { cwd: repo, env: gitEnv() });
    const runId = await waitFor(
      `the run of commit ${i}`,
      async () => (existsSync(runsDir) ? (await readdir(runsDir)).find((id) => !seen.has(id)) : undefined),
      20_000,
      2,
    );
    seen.add(runId);
    const startedAt = await waitFor(
      `the step of commit ${i} to start`,
      () => stampIn(join(runsDir, runId, 'jobs', 'probe', 'log')),
      20_000,
      2,
    );
    const view = await waitFor(
      `run ${runId} to end`,
      async () => {
        const v = await server.api<RunView>('GET', `/api/runs/${runId}`);
        return TERMINAL.has(v.run.status) ? v : undefined;
      },
      20_000,
      5,
    );
    if (view.run.status !== 'success') throw new Error(`run ${runId} ended ${view.run.status}`);
    const done = epochMs();
    if (i === 0) {
      progress(`warm-up: ${round(startedAt - t0)} ms`);
      continue;
    }
    latencies.push(startedAt - t0);
    commitMs.push(commit.ms);
    toDone.push(done - t0);
    // Where the time goes, from the server's own (ms-resolution) timestamps.
    const created = Date.parse(view.run.createdAt);
    const jobStarted = Date.parse(view.jobs[0]?.startedAt ?? '');
    toCreated.push(created - t0);
    createdToJob.push(jobStarted - created);
    jobToStep.push(startedAt - jobStarted);
    progress(`commit ${i}: step running after ${round(startedAt - t0)} ms (git commit ${round(commit.ms)} ms)`);
  }
  await server.stop();

  const p50 = percentile(latencies, 50);
  return {
    sandbox: sandbox ? 'on (bubblewrap)' : 'off (GANTRY_SANDBOX=off)',
    commit_to_step_running_ms: {
      p50: round(p50),
      p95: round(percentile(latencies, 95)),
      min: round(Math.min(...latencies)),
      max: round(Math.max(...latencies)),
    },
    git_commit_ms: spread(commitMs),
    breakdown_p50_ms: {
      commit_start_to_run_created: round(percentile(toCreated, 50)),
      run_created_to_job_started: round(percentile(createdToJob, 50)),
      job_started_to_step_running: round(percentile(jobToStep, 50)),
    },
    commit_to_run_end_observed_ms: { p50: round(percentile(toDone, 50)), p95: round(percentile(toDone, 95)) },
    server_ready_ms: round(server.readyMs),
    meets_target: p50 <= TARGET_P50_MS,
    ratio_to_peer: round(p50 / BUILDBOT_TRIGGER_TO_START_MS, 2),
  };
}

await benchMain('trigger-latency', 115_000, async () => {
  const bwrap = await bwrapWorks();
  const sandboxed = bwrap && SANDBOX !== 'off' ? await measure(true) : null;
  const plain = SANDBOX !== 'on' ? await measure(false) : null;
  return {
    commits: COMMITS,
    unit: 'ms',
    sandbox_variant: bwrap ? SANDBOX : 'not run: bubblewrap missing or not working',
    with_sandbox: sandboxed,
    without_sandbox: plain,
    target_p50_ms: TARGET_P50_MS,
    target_applies_to: 'with_sandbox',
    meets_target: sandboxed?.meets_target ?? false,
    peer: {
      name: 'Buildbot 3.7 trigger → build start, published figure (/work/shared/bench/peers/README.md §2; PB sendchange from a persistent client, not a git commit); not run here: not installed',
      p50_ms: BUILDBOT_TRIGGER_TO_START_MS,
    },
  };
});
