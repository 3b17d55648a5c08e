/**
 * The shapes the dashboard reads from the API (src/server/*). Kept by hand and small: the
 * dashboard only names the fields it shows.
 */
export type RunStatus = 'queued' | 'running' | 'success' | 'failure' | 'cancelled';
export type JobStatus = 'waiting' | 'queued' | 'running' | 'success' | 'failure' | 'skipped' | 'cancelled';

export interface Project {
  id: string;
  name: string;
  source: { kind: 'local'; path: string } | { kind: 'url'; url: string };
  createdAt: string;
}

export interface Run {
  id: string;
  projectId: string | null;
  number: number;
  status: RunStatus;
  event: {
    kind: string;
    ref: string;
    sha: string;
    changedFiles?: string[];
    pullRequest?: { number: number; action: string; baseRef: string; headRef: string; fork: boolean; title?: string };
  };
  inputs: Record<string, unknown>;
  configHash: string;
  parentRunId: string | null;
  cancelRequested: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Step {
  name: string;
  status: 'success' | 'failure' | 'skipped' | 'cancelled';
  exitCode: number | null;
  durationMs: number;
}

export interface Job {
  /** The job's id in gantry.yaml (shared by matrix instances). */
  id: string;
  /** Unique in the run: `test (linux, 22)` for a matrix instance. */
  key: string;
  matrix: Record<string, string | number | boolean> | null;
  /** Keys of the jobs this one waits for. */
  needs: string[];
  status: JobStatus;
  startedAt: string | null;
  finishedAt: string | null;
  outputs: Record<string, string>;
  tests: { passed: number; failed: number; skipped: number } | null;
  steps: Step[];
  attempt: number;
  logTruncated: boolean;
  reason?: string;
}

export interface RunWithJobs {
  run: Run;
  id: string;
  status: RunStatus;
  jobs: Job[];
}

export interface GantryEvent {
  id: number;
  type: string;
  subject: string;
  actor: string;
  at: string;
  data: Record<string, unknown>;
}

export interface Release {
  id: string;
  number: number;
  runId: string | null;
  sha: string;
  ref: string;
  configHash: string;
  createdBy: string;
  createdAt: string;
}

export interface RolloutRecord {
  id: string;
  projectId: string;
  environment: string;
  releaseId: string;
  previousReleaseId: string | null;
  phase: string;
  /** The rollout state machine's state (src/delivery/rollout-machine.ts RolloutState). */
  state: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}
