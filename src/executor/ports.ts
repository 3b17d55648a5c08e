/**
 * The executor's contract: run one job instance in its own workspace and report a JobResult.
 * Used identically by `gantry run` (local) and the server; only the workspace source differs.
 *
 * Ordering: `onLog` is called in output order per job; lines are already masked.
 * Cancellation: aborting `signal` ends the whole process tree of the running step (SIGTERM,
 * then SIGKILL after `killGraceMs`) and resolves with status `cancelled`.
 * Idempotency: a job may be run again (retry, recovery) with the same `workspaceDir`; the
 * runner wipes it first.
 */
import type { GantryContext, JobResult, PlannedJob, Value } from '../core/types.ts';

export interface LogLine {
  jobKey: string;
  /** `system` lines are Gantry's own (step headers, warnings, truncation markers). */
  stream: 'stdout' | 'stderr' | 'system';
  /** ms since epoch */
  at: number;
  text: string;
}

export interface NeedsEntry {
  result: 'success' | 'failure' | 'skipped' | 'cancelled';
  outputs: Record<string, string>;
}

export interface JobContext {
  /** Pipeline-level env merged under the job's env. */
  env: Record<string, string>;
  inputs: Record<string, Value>;
  /** name → plaintext value. Every value is masked in the log. */
  secrets: Record<string, string>;
  /** jobId → result/outputs of the jobs this one needs. */
  needs: Record<string, NeedsEntry>;
  gantry: GantryContext;
  /**
   * The space the job's cache entries are saved in (its project's; a pull request's own); none for
   * local runs, whose cache is the repository's own.
   */
  cacheScope?: string;
  /** More spaces a restore falls back to, in order (a pull request reads its project's). */
  cacheReadScopes?: string[];
}

export interface JobSpec {
  runId: string;
  job: PlannedJob;
  context: JobContext;
  /** Directory holding the run's source tree (a snapshot or checkout); copied into the workspace. */
  sourceDir: string;
  /**
   * Settles once `sourceDir` is complete, when the caller is still writing it (the server's
   * checkout of a new run): the runner starts the job's sandbox meanwhile and copies the source
   * after. A rejection fails the job before its steps, with its message.
   */
  sourceReady?: Promise<void>;
  /** This job's fresh workspace (created/wiped by the runner). */
  workspaceDir: string;
  /** Artifact directories of needed jobs, restored into the workspace at the same relative paths. */
  artifactsIn: string[];
  /** Where this job's artifacts are saved (created by the runner when the job has `artifacts`). */
  artifactsOut: string;
  /** Content-addressed cache root (shared between jobs and runs). */
  cacheDir: string;
  /** Where the job's log file is written. */
  logFile: string;
  /** Byte cap for the stored log; past it the head and the tail are kept with a marker. */
  logCapBytes: number;
  /** `auto`: bubblewrap when installed (one warning line otherwise); `off`: plain processes. */
  sandbox: 'auto' | 'off';
  /** Paths the sandbox must hide from the job (the data dir, other workspaces). */
  hiddenPaths: string[];
  /**
   * Host variables the steps get besides PATH, LANG, LC_ALL, TZ and the network settings
   * (`NETWORK_ENV` of platform/child-env.ts): the server's `GANTRY_PASS_ENV`. Read from the
   * host when the job starts; the job's own `env:` wins.
   */
  passEnv?: readonly string[];
  killGraceMs?: number;
  /** A cache shared with other hosts (a build agent's server); without it the cache is this host's alone. */
  sharedCache?: SharedCache;
  onLog?: (line: LogLine) => void;
  signal: AbortSignal;
}

export type RunJob = (spec: JobSpec) => Promise<JobResult>;

/**
 * The job cache beyond this host (docs/decisions/0036): a build agent's jobs share the server's
 * cache, so a job on one agent restores what a job on another saved. Both calls are best effort:
 * a failure is a warning in the log and the job goes on with this host's cache alone.
 */
export interface SharedCache {
  /** Before the restore: brings into `cacheDir` the entry a restore would pick there, when this host lacks it. */
  pull(key: string, restoreKeys: readonly string[]): Promise<void>;
  /** After a save: sends the entry saved under `key`, with the blobs the other side lacks. */
  push(key: string): Promise<void>;
}
