/**
 * Domain types shared by every part of Gantry. No I/O here.
 * Config types are the *normalised* form of gantry.yaml (camelCase, durations in ms,
 * `needs` always a list) produced by `src/pipeline/config-schema.ts`.
 */

import type { ExperimentConfig } from './chaos-config.ts';
import type { SecurityConfig } from './security-config.ts';
import type { SloConfig } from './slo-config.ts';
import type { EnvironmentConfig, ServiceConfig } from './delivery-config.ts';

/** A value an expression can produce or a context can hold (JSON-like). */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

// ---------------------------------------------------------------- config (normalised)

export interface StepConfig {
  name?: string;
  id?: string;
  run: string;
  env: Record<string, string>;
  if?: string;
  workingDirectory?: string;
  /** Default: `bash -eo pipefail {0}`-like behaviour; a custom shell is a command line the script file is appended to. */
  shell?: string;
  timeoutMs?: number;
  continueOnError: boolean;
}

export interface MatrixConfig {
  /** Axis name → list of values (values may hold `${{ }}` strings evaluated at plan time). */
  axes: Record<string, Value[]>;
  include: Record<string, Value>[];
  exclude: Record<string, Value>[];
  failFast: boolean;
  maxParallel?: number;
}

export interface CacheConfig {
  key: string;
  restoreKeys: string[];
  paths: string[];
}

export interface JobConfig {
  name?: string;
  needs: string[];
  if?: string;
  env: Record<string, string>;
  timeoutMs?: number;
  /** How many times a failed job is retried (0 = run once). */
  retry: number;
  matrix?: MatrixConfig;
  steps: StepConfig[];
  outputs: Record<string, string>;
  cache?: CacheConfig;
  artifacts: string[];
  reports: { junit?: string; sarif?: string };
  network: boolean;
  /** Agent labels the job needs (`runs-on`); absent: the server's embedded executor runs it. */
  runsOn?: string[];
  /** Set only on a job Gantry adds itself (pipeline/security-job.ts); never from gantry.yaml. */
  builtin?: 'security';
}

export type InputType = 'string' | 'number' | 'boolean' | 'choice';
export interface InputConfig {
  type: InputType;
  description?: string;
  default?: string | number | boolean;
  required: boolean;
  options?: string[];
}

export interface TriggersConfig {
  /**
   * GitHub's push filters (filter pattern syntax): `branches` or `branchesIgnore`, `tags` or
   * `tagsIgnore`, `paths` or `pathsIgnore`. Path filters are not evaluated for tag pushes.
   */
  push?: {
    branches?: string[];
    branchesIgnore?: string[];
    tags?: string[];
    tagsIgnore?: string[];
    paths?: string[];
    pathsIgnore?: string[];
  };
  /**
   * GitHub's `pull_request` filters: `branches` name the base branch (the one the change would
   * merge into), `paths` the files the pull request changes; `types` the actions that start a run
   * (default opened, synchronize, reopened).
   */
  pullRequest?: {
    branches?: string[];
    branchesIgnore?: string[];
    paths?: string[];
    pathsIgnore?: string[];
    types?: PullRequestAction[];
  };
  schedule: string[];
  manual?: { inputs: Record<string, InputConfig> };
  webhook?: Record<string, never> | true;
}

/** What happened to a pull request (GitHub's names; GitLab's and Gitea's are mapped to them). */
export type PullRequestAction = 'opened' | 'synchronize' | 'reopened' | 'closed';

/** The pull request a `pull_request` run is for. */
export interface PullRequestInfo {
  number: number;
  action: PullRequestAction;
  /** The branch it would merge into (`main`). */
  baseRef: string;
  /** Its source branch (`feature/x`), in the fork when `fork` is true. */
  headRef: string;
  /** Opened from another repository: its code is untrusted, so its runs get no secrets. */
  fork: boolean;
  title?: string;
}

export interface PipelineConfig {
  on: TriggersConfig;
  concurrency?: { group: string; cancelInProgress: boolean };
  env: Record<string, string>;
  jobs: Record<string, JobConfig>;
}

/** The whole gantry.yaml. */
export interface GantryConfig {
  name?: string;
  pipeline: PipelineConfig;
  service?: ServiceConfig;
  /** By name, in file order. */
  environments?: Record<string, EnvironmentConfig>;
  /** In file order. */
  slos?: SloConfig[];
  /** Chaos experiments, in file order. */
  experiments?: ExperimentConfig[];
  /** Absent: every scanner on with the default policy (DEFAULT_SECURITY_CONFIG). */
  security?: SecurityConfig;
}

// ---------------------------------------------------------------- events that trigger runs

export type TriggerKind = 'push' | 'pull_request' | 'schedule' | 'manual' | 'webhook';

export interface TriggerEvent {
  kind: TriggerKind;
  /** Full ref, e.g. `refs/heads/main`. */
  ref: string;
  sha: string;
  /** Files changed by the push (relative paths); undefined when unknown (then path filters match). */
  changedFiles?: string[];
  /** For schedule triggers: the cron string that fired. */
  schedule?: string;
  /** For pushes: the ref's commit before the push, when it had one. */
  before?: string;
  /** For pull_request events: the pull request (the ref is its head ref, the sha its head commit). */
  pullRequest?: PullRequestInfo;
  /** For a forge's deliveries: where the run's commit statuses go. */
  forge?: ForgeTarget;
}

/** A forge's commit statuses API for one repository, as its signed delivery named it (`{sha}` stands for the commit). */
export interface ForgeTarget {
  provider: 'github' | 'gitlab' | 'gitea';
  statusesUrl: string;
}

/** The `gantry` context of expressions. */
export interface GantryContext {
  sha: string;
  ref: string;
  /** The branch or tag name (`main`, `v1.2.0`), or the ref as it is when it is neither (GitHub's `ref_name`). */
  ref_name: string;
  /** `branch`, `tag`, or '' for any other ref (GitHub's `ref_type`). */
  ref_type: 'branch' | 'tag' | '';
  event: TriggerKind;
  /** A pull request's source and target branch names; '' for other events (GitHub's `head_ref`, `base_ref`). */
  head_ref: string;
  base_ref: string;
  run_id: string;
  workspace: string;
}

// ---------------------------------------------------------------- plan (compiled, pure)

export type MatrixValues = Record<string, Value>;

/** One job instance of a run: a job, or one cell of its matrix. */
export interface PlannedJob {
  /** Unique within the run: `build`, or `test (1, linux)` for a matrix cell. */
  key: string;
  jobId: string;
  matrix: MatrixValues | null;
  /** Job *ids* this instance needs (all instances of each must finish). */
  needs: string[];
  config: JobConfig;
}

export interface Plan {
  jobs: PlannedJob[];
}

// ---------------------------------------------------------------- lifecycles

export type RunStatus = 'queued' | 'running' | 'success' | 'failure' | 'cancelled';
/**
 * waiting: its needs are not finished; queued: ready, waiting for an executor slot;
 * running; then one of the final states.
 */
export type JobStatus = 'waiting' | 'queued' | 'running' | 'success' | 'failure' | 'skipped' | 'cancelled';
export type StepStatus = 'success' | 'failure' | 'skipped' | 'cancelled';

export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['success', 'failure', 'skipped', 'cancelled'];
export const FINAL_RUN_STATUSES: readonly RunStatus[] = ['success', 'failure', 'cancelled'];

export interface StepResult {
  name: string;
  status: StepStatus;
  exitCode: number | null;
  durationMs: number;
}

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Names of failing tests (`suite › name`), at most 100. */
  failures: string[];
}

/** What the executor reports when a job ends. */
export interface JobResult {
  status: 'success' | 'failure' | 'cancelled';
  outputs: Record<string, string>;
  steps: StepResult[];
  tests: TestCounts | null;
  logTruncated: boolean;
  /** Why it failed, when it did for a reason other than a step's exit code (timeout, setup error). */
  error?: string;
}

/** The job shape of `gantry run --json` and `gantry runs show --json`. */
export interface JobReport {
  id: string;
  key: string;
  matrix: MatrixValues | null;
  /** Keys of the job instances this one waits for (the run's graph). */
  needs: string[];
  status: 'success' | 'failure' | 'skipped' | 'cancelled' | 'queued' | 'waiting' | 'running';
  startedAt: string | null;
  finishedAt: string | null;
  outputs: Record<string, string>;
  tests: { passed: number; failed: number; skipped: number } | null;
  steps: StepResult[];
  attempt: number;
  logTruncated: boolean;
  reason?: string;
}

export interface RunReport {
  id: string;
  status: RunStatus;
  jobs: JobReport[];
}
