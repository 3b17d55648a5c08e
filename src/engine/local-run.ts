/**
 * `gantry run`: the server's engine on the working tree, with no server. State lives in memory
 * (a local run has nobody to resume it), logs and artifacts under `<repo>/.gantry/local/runs/<id>/`.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { newId } from '../core/ids.ts';
import type { GantryConfig, PlannedJob, PullRequestInfo, RunReport, TriggerKind } from '../core/types.ts';
import type { LogLine, RunJob } from '../executor/ports.ts';
import { snapshotWorkingTree } from '../executor/workspace.ts';
import { compilePlan } from '../pipeline/plan.ts';
import { gantryContextOf } from '../pipeline/triggers.ts';
import { resolveInputs } from '../pipeline/inputs.ts';
import { initialRunState, type RunState } from '../pipeline/run-reducer.ts';
import type { JobRecord } from '../store/ports.ts';
import { buildJobSpec, type RunSetting } from './job-spec.ts';
import { RunDriver, type Transition } from './run-driver.ts';
import { runDir, sourceDir } from './run-paths.ts';
import { SlotPool } from './slot-pool.ts';
import { applyJobPatch, jobPatches, runReport } from './transition-records.ts';

export interface LocalRunOptions {
  repoDir: string;
  config: GantryConfig;
  /** `--job`: these job ids and what they need. */
  only?: string[];
  inputs: Record<string, string>;
  secrets: Record<string, string>;
  event: TriggerKind;
  /** `--ref`: the branch or tag the run is for (gantry.ref); the files are the working tree's all the same. */
  ref?: string;
  /** `--event pull_request`: the pull request simulated (gantry.head_ref, gantry.base_ref). */
  pullRequest?: PullRequestInfo;
  parallel: number;
  sandbox: 'auto' | 'off';
  logCapBytes: number;
  /** More host variables for the steps (`GANTRY_PASS_ENV`; see JobSpec.passEnv). */
  passEnv?: readonly string[];
  runJob: RunJob;
  /**
   * Called after every persisted transition with the job rows it changed, and every row on demand
   * (for the live table: listing all of them per transition made a 1,000-job run cost n²).
   */
  onChange?: (changed: JobRecord[], all: () => Iterable<JobRecord>) => void;
  onLog?: (line: LogLine) => void;
  signal?: AbortSignal;
}

export interface LocalRunResult {
  runId: string;
  dataDir: string;
  report: RunReport;
  jobs: JobRecord[];
}

export async function runLocally(o: LocalRunOptions): Promise<LocalRunResult> {
  const repoDir = resolve(o.repoDir);
  // Beside a server's data (`gantry up` defaults to ./.gantry too), never mixed with it.
  const dataDir = join(repoDir, '.gantry', 'local');
  const runId = newId();
  const pipeline = o.config.pipeline;
  const inputs = resolveInputs(pipeline.on.manual?.inputs, o.inputs);
  const source = sourceDir(dataDir, runId);
  const prepare = async () => {
    const snapshot = await snapshotWorkingTree(repoDir, source);
    const gantry = gantryContextOf(
      { sha: snapshot.sha ?? '', ref: o.ref ?? snapshot.ref ?? '', kind: o.event, pullRequest: o.pullRequest },
      runId,
    );
    return { gantry, plan: compilePlan(pipeline, { inputs, gantry, only: o.only }) };
  };
  const { gantry, plan } = await prepare().catch(async (error: unknown) => {
    // A usage error (an unknown --job) must not leave a half run with a copy of the tree behind.
    await rm(runDir(dataDir, runId), { recursive: true, force: true });
    throw error;
  });
  // Workspaces are removed in the background, off the job's slot; a retry of the same job (same
  // dirs) waits for its removal, and the run waits for all of them at its end.
  const removals = new Map<string, Promise<void>>();
  const removeLater = (dir: string) => {
    const removal: Promise<void> = rm(dir, { recursive: true, force: true })
      .catch(() => undefined)
      .finally(() => {
        if (removals.get(dir) === removal) removals.delete(dir);
      });
    removals.set(dir, removal);
  };
  const plannedJobs = new Map<string, PlannedJob>(plan.jobs.map((j) => [j.key, j]));
  const state = initialRunState(runId, plan);
  const records = new Map<string, JobRecord>(plan.jobs.map((j) => [j.key, initialJobRecord(runId, state, j)]));

  const setting: RunSetting = {
    dataDir,
    runId,
    sourceDir: source,
    plannedJobs,
    pipelineEnv: pipeline.env,
    inputs,
    secrets: o.secrets,
    gantry,
    logCapBytes: o.logCapBytes,
    sandbox: o.sandbox,
    onLog: o.onLog,
    hiddenPaths: [join(repoDir, '.gantry')],
    passEnv: o.passEnv,
  };
  const driver = new RunDriver(
    state,
    { inputs, gantry, env: pipeline.env },
    {
      slots: new SlotPool(o.parallel),
      now: () => new Date(),
      runJob: async (spec) => {
        await removals.get(spec.workspaceDir);
        await removals.get(`${spec.workspaceDir}.tmp`);
        try {
          return await o.runJob(spec);
        } finally {
          removeLater(spec.workspaceDir);
          // The executor removes its temp dir itself; this covers an executor that did not.
          if (existsSync(`${spec.workspaceDir}.tmp`)) removeLater(`${spec.workspaceDir}.tmp`);
        }
      },
      jobSpec: async (job, current, signal) => buildJobSpec(setting, job, current, signal),
      persist: async (t: Transition) => {
        const changed: JobRecord[] = [];
        for (const { key, patch } of jobPatches(t)) {
          const record = records.get(key);
          if (record === undefined) continue;
          const next = applyJobPatch(record, patch);
          records.set(key, next);
          changed.push(next);
        }
        o.onChange?.(changed, () => records.values());
      },
    },
  );
  const onAbort = () => {
    void driver.cancel();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await driver.start();
    // Ctrl-C while the tree was being copied came before the listener: act on it now.
    if (o.signal?.aborted) onAbort();
    const status = await driver.done;
    await Promise.all(removals.values());
    await rm(join(dataDir, 'work', runId), { recursive: true, force: true });
    await rm(source, { recursive: true, force: true });
    await pruneLocalRuns(dataDir, runId);
    const jobs = [...records.values()];
    return { runId, dataDir, jobs, report: runReport({ id: runId, status }, jobs) };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/** Local runs keep their logs and artifacts for inspection; only the newest ones, so `.gantry/` does not grow forever. */
export const LOCAL_RUNS_KEPT = 20;

async function pruneLocalRuns(dataDir: string, currentRunId: string): Promise<void> {
  const ids = (await readdir(join(dataDir, 'runs')).catch(() => [] as string[])).filter((id) => /^[0-9A-Z]{26}$/.test(id)).sort();
  for (const id of ids.slice(0, Math.max(0, ids.length - LOCAL_RUNS_KEPT))) {
    if (id !== currentRunId) await rm(runDir(dataDir, id), { recursive: true, force: true });
  }
}

function initialJobRecord(runId: string, state: RunState, planned: PlannedJob): JobRecord {
  const job = state.jobs[planned.key];
  return {
    runId,
    key: planned.key,
    jobId: planned.jobId,
    matrix: planned.matrix,
    needs: job?.needs ?? [],
    status: job?.status ?? 'waiting',
    attempt: job?.attempt ?? 1,
    outputs: {},
    steps: [],
    tests: null,
    logTruncated: false,
    reason: null,
    startedAt: null,
    finishedAt: null,
    reusedFromRunId: null,
    interruptions: 0,
  };
}
