/**
 * A run of 10,000 jobs is stored whole (issue 14's benchmark size): one INSERT of every job row
 * went past the database's bound on a statement's parameters (SQLite's 32,766 at ~1,930 jobs).
 */
import { expect, it } from 'vitest';
import type { JobRecord } from '../../src/store/ports.ts';
import { describeOnEachStore } from '../support/store-contract.ts';

const JOBS = 10_000;

function job(i: number): Omit<JobRecord, 'runId'> {
  return {
    key: `j${i}`,
    jobId: `j${i}`,
    matrix: null,
    needs: i === 0 ? [] : [`j${i - 1}`],
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
  };
}

describeOnEachStore('a run of 10,000 jobs', (db) => {
  it('is created with every job, in the order given', async () => {
    const jobs = Array.from({ length: JOBS }, (_, i) => job(i));
    const run = await db.store.runs.create(
      {
        projectId: null,
        event: { kind: 'manual', ref: 'refs/heads/main', sha: 'abc' },
        inputs: {},
        configText: 'pipeline:\n  jobs: {}\n',
        configHash: 'large',
        concurrencyGroup: null,
        parentRunId: null,
      },
      jobs,
    );
    const stored = await db.store.runs.jobs(run.id);
    expect(stored).toHaveLength(JOBS);
    expect(stored.map((j) => j.key)).toEqual(jobs.map((j) => j.key));
    expect(stored[JOBS - 1]).toEqual({ ...jobs[JOBS - 1], runId: run.id });
  });
});
