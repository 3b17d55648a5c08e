/**
 * Commit-to-running latency of a real server: `gantry up` on a fresh data dir, a temp local git
 * repository registered with `gantry project add` (which installs the reference-transaction hook),
 * then N times: note the time, `git commit --allow-empty`, and wait for the job's first step to
 * write its start time (`date +%s%N`) into a file outside the workspace.
 *
 *   latency = first step running − commit start         target p50 ≤ 200 ms
 *
 * The server runs with GANTRY_SANDBOX=off: inside the sandbox the host is read-only except the
 * workspace, so the step could not write its time stamp where this script reads it. Each run is
 * awaited to its end before the next commit, so runs never queue behind each other.
 *
 * Env: COMMITS (default 20, after 1 uncounted warm-up). Peer (published, not run here): Buildbot
 * 3.7 trigger → build start 72 ms (a change sent over PB by a persistent client, no git).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  benchMain,
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
const TARGET_P50_MS = 200;
const BUILDBOT_TRIGGER_TO_START_MS = 72;
interface RunView {
  run: { status: string; createdAt: string };
  jobs: { startedAt: string | null }[];
}
const TERMINAL = new Set(['success', 'failure', 'cancelled', 'skipped']);

await benchMain('trigger-latency', 115_000, async () => {
  const stamps = await tempDir('stamps');
  const yaml = [
    'pipeline:',
    '  on:',
    '    push:',
    '  jobs:',
    '    probe:',
    '      steps:',
    // Written aside then renamed, so the reader never sees a half-written stamp.
    `        - run: date +%s%N > ${stamps}/.t-$GANTRY_RUN_ID && mv ${stamps}/.t-$GANTRY_RUN_ID ${stamps}/started-$GANTRY_RUN_ID`,
    '',
  ].join('\n');
  const repo = await tempRepo('trigger', yaml);
  const dataDir = await tempDir('trigger-data');
  const server = await startServer({ dataDir, env: { ...process.env, GANTRY_SANDBOX: 'off' } });
  progress(`server up at ${server.url} (pid ${server.pid}) in ${round(server.readyMs)} ms; sandbox off`);
  const add = await gantry(['--data', dataDir, 'project', 'add', repo, '--name', 'bench'], { env: gitEnv() });
  if (add.code !== 0) throw new Error(`project add failed: ${add.stderr}`);

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
    const file = await waitFor(
      `the step of commit ${i} to start`,
      async () => {
        const fresh = (await readdir(stamps)).find((f) => f.startsWith('started-') && !seen.has(f));
        return fresh;
      },
      20_000,
      2,
    );
    seen.add(file);
    const startedAt = Number(BigInt((await readFile(join(stamps, file), 'utf8')).trim()) / 1000n) / 1000;
    const runId = file.slice('started-'.length);
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
    commits: COMMITS,
    sandbox: 'off (GANTRY_SANDBOX=off: the step writes outside its workspace)',
    unit: 'ms',
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
    target_p50_ms: TARGET_P50_MS,
    meets_target: p50 <= TARGET_P50_MS,
    server_ready_ms: round(server.readyMs),
    peer: {
      name: 'Buildbot 3.7 trigger → build start, published figure (/work/shared/bench/peers/README.md §2; PB sendchange from a persistent client, not a git commit); not run here: not installed',
      p50_ms: BUILDBOT_TRIGGER_TO_START_MS,
      ratio_gantry_to_peer: round(p50 / BUILDBOT_TRIGGER_TO_START_MS, 2),
    },
  };
});
