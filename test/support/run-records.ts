/**
 * Rows for `store.runs.create` where a test or a benchmark needs a run and its jobs but not their
 * particulars: a job row in its initial state, and a manual run of no project.
 */
import type { JobRecord, NewRun } from '../../src/store/ports.ts';

/** A job row as the planner writes it (waiting, first attempt, nothing run yet). */
export function jobRow(key: string, overrides: Partial<Omit<JobRecord, 'runId'>> = {}): Omit<JobRecord, 'runId'> {
  return {
    key,
    jobId: key.split(' ')[0] ?? key,
    matrix: null,
    needs: [],
    status: 'waiting',
    attempt: 1,
    outputs: {},
    steps: [],
    tests: null,
    logTruncated: false,
    reason: null,
    startedAt: null,
    finishedAt: null,
    reusedFromRunId: null,
    interruptions: 0,
    ...overrides,
  };
}

/** A manual run on main, of no project unless `overrides` say otherwise. */
export function manualRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    projectId: null,
    event: { kind: 'manual', ref: 'refs/heads/main', sha: 'abc' },
    inputs: {},
    configText: 'pipeline: {}',
    configHash: 'h',
    concurrencyGroup: null,
    parentRunId: null,
    ...overrides,
  };
}
