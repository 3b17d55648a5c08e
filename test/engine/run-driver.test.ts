/**
 * The driver when its store fails: a transition that cannot be persisted fails the run through
 * `done` — and leaves no unhandled rejection behind in the job that was running (the server's
 * test suite saw one when a run's row was gone before its job finished).
 */
import { describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/core/types.ts';
import { RunDriver, type RunHost } from '../../src/engine/run-driver.ts';
import { SlotPool } from '../../src/engine/slot-pool.ts';
import type { JobSpec } from '../../src/executor/ports.ts';
import { compilePlan } from '../../src/pipeline/plan.ts';
import { initialRunState } from '../../src/pipeline/run-reducer.ts';
import { GANTRY, pipeline } from '../pipeline/pipeline-fixtures.ts';

describe('RunDriver', () => {
  it('a failed persist of job-finished rejects done and is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const state = initialRunState('run-1', compilePlan(pipeline({ build: {} }), { inputs: {}, gantry: GANTRY }));
      const host: RunHost = {
        async persist(t) {
          if (t.event.type === 'job-finished') throw new Error('run run-1 not found');
        },
        jobSpec: async () => ({}) as JobSpec,
        runJob: async (): Promise<JobResult> => ({ status: 'success', outputs: {}, steps: [], tests: null, logTruncated: false }),
        slots: new SlotPool(1),
        now: () => new Date(0),
      };
      const driver = new RunDriver(state, { inputs: {}, gantry: GANTRY, env: {} }, host);
      await driver.start();
      await expect(driver.done).rejects.toThrow('run run-1 not found');
      // Unhandled rejections are reported after the microtask queue drains: give it two turns.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
