/** Builds the executor's JobSpec for a job instance: one place for paths, context and sandbox policy. */
import type { GantryContext, PlannedJob, Value } from '../core/types.ts';
import type { JobSpec, LogLine } from '../executor/ports.ts';
import type { JobState, RunState } from '../pipeline/run-reducer.ts';
import { needsContext } from './run-driver.ts';
import { isSecurityJob } from '../pipeline/security-job.ts';
import { cacheDir, jobArtifactsDir, jobLogFile, securityInputDir, workspaceDir } from './run-paths.ts';

export interface RunSetting {
  dataDir: string;
  runId: string;
  sourceDir: string;
  /** Settles once `sourceDir` is complete, while it is still being written (see JobSpec.sourceReady). */
  sourceReady?: Promise<void>;
  plannedJobs: ReadonlyMap<string, PlannedJob>;
  pipelineEnv: Record<string, string>;
  inputs: Record<string, Value>;
  secrets: Record<string, string>;
  gantry: GantryContext;
  logCapBytes: number;
  sandbox: 'auto' | 'off';
  /** More paths the sandbox hides besides the data dir (e.g. all of `<repo>/.gantry` for local runs). */
  hiddenPaths?: string[];
  /** More host variables for the steps (`GANTRY_PASS_ENV`; see JobSpec.passEnv). */
  passEnv?: readonly string[];
  /** Artifacts of jobs reused from an earlier run (rerun --failed) live in that run's directory. */
  artifactRunOf?: (key: string) => string;
  /** Where the jobs' cache entries are saved, and where else restores look (JobContext.cacheScope). */
  cacheScope?: string;
  cacheReadScopes?: string[];
  onLog?: (line: LogLine) => void;
}

export function buildJobSpec(setting: RunSetting, job: JobState, state: RunState, signal: AbortSignal): JobSpec {
  const planned = setting.plannedJobs.get(job.key);
  if (!planned) throw new Error(`job ${job.key} is not in the run's plan`);
  const { dataDir, runId } = setting;
  const artifactRun = (key: string) => setting.artifactRunOf?.(key) ?? runId;
  const workspace = workspaceDir(dataDir, runId, job.key);
  return {
    runId,
    job: planned,
    context: {
      env: setting.pipelineEnv,
      inputs: setting.inputs,
      secrets: setting.secrets,
      needs: needsContext(state, job),
      gantry: { ...setting.gantry, workspace },
      ...(setting.cacheScope ? { cacheScope: setting.cacheScope, cacheReadScopes: setting.cacheReadScopes ?? [] } : {}),
    },
    sourceDir: setting.sourceDir,
    sourceReady: setting.sourceReady,
    workspaceDir: workspace,
    artifactsIn: [
      ...job.needs.map((key) => jobArtifactsDir(dataDir, artifactRun(key), key)),
      // The push's diff the server wrote for the security job (pipeline/security-job.ts).
      ...(isSecurityJob(planned.config) ? [securityInputDir(dataDir, runId)] : []),
    ],
    artifactsOut: jobArtifactsDir(dataDir, runId, job.key),
    cacheDir: cacheDir(dataDir),
    logFile: jobLogFile(dataDir, runId, job.key),
    logCapBytes: setting.logCapBytes,
    sandbox: setting.sandbox,
    hiddenPaths: [...(setting.hiddenPaths ?? []), dataDir],
    passEnv: setting.passEnv,
    onLog: setting.onLog,
    signal,
  };
}
