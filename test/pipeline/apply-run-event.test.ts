/**
 * `applyRunEvent` (the driver's in-place reducer) decides exactly as the pure `reduceRun`, on
 * random DAGs driven through random events, reports what each event changed, and takes an event
 * back whole (the driver undoes a transition it could not store).
 */
import { describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/core/types.ts';
import { RunDriver, type RunHost } from '../../src/engine/run-driver.ts';
import { SlotPool } from '../../src/engine/slot-pool.ts';
import type { JobSpec as ExecutorJobSpec } from '../../src/executor/ports.ts';
import { compilePlan } from '../../src/pipeline/plan.ts';
import {
  applyRunEvent,
  type ConditionEnv,
  initialRunState,
  type RunEvent,
  type RunState,
  reduceRun,
} from '../../src/pipeline/run-reducer.ts';
import { deepFreeze } from '../scenarios/simulate.ts';
import { waitFor } from '../support/wait.ts';
import { GANTRY, type JobSpec, pipeline } from './pipeline-fixtures.ts';

const ENV: ConditionEnv = { inputs: {}, gantry: GANTRY, env: {} };

function rng(seed: number): () => number {
  let t = seed;
  return () => {
    t = (t + 0x6d2b79f5) | 0;
    let x = Math.imul(t ^ (t >>> 15), t | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomJobs(random: () => number): Record<string, JobSpec> {
  const jobs: Record<string, JobSpec> = {};
  const count = 1 + Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const spec: JobSpec = {
      needs: Array.from({ length: i }, (_, j) => `j${j}`).filter(() => random() < 0.35),
      retry: Math.floor(random() * 2),
    };
    if (random() < 0.2) spec.if = random() < 0.5 ? 'always()' : 'failure()';
    if (random() < 0.3) spec.matrix = { axes: { n: [0, 1, 2] }, failFast: random() < 0.5, ...(random() < 0.5 ? { maxParallel: 1 } : {}) };
    jobs[`j${i}`] = spec;
  }
  return jobs;
}

/** An event that is legal in `state`, or null once the run is final. */
function randomEvent(random: () => number, state: RunState): RunEvent | null {
  if (state.status === 'success' || state.status === 'failure' || state.status === 'cancelled') return null;
  if (state.status === 'queued') return { type: 'start' };
  if (random() < 0.03) return { type: 'cancel' };
  const jobs = Object.values(state.jobs);
  const movable = jobs.filter((j) => j.status === 'queued' || j.status === 'running');
  const job = movable[Math.floor(random() * movable.length)];
  if (!job) return { type: 'cancel' };
  if (job.status === 'queued') return { type: 'job-started', key: job.key };
  if (random() < 0.1) return { type: 'job-interrupted', key: job.key };
  const status = (['success', 'success', 'failure', 'cancelled'] as const)[Math.floor(random() * 4)] ?? 'success';
  return { type: 'job-finished', key: job.key, status, outputs: { n: String(random()) } };
}

describe('applyRunEvent', () => {
  it('decides as reduceRun does, event by event, on random DAGs, and reports the changed jobs as they were', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = rng(seed);
      const plan = compilePlan(pipeline(randomJobs(random)), { inputs: {}, gantry: GANTRY });
      let pure = deepFreeze(initialRunState(`run-${seed}`, plan));
      const owned = structuredClone(pure);
      for (let event = randomEvent(random, pure); event !== null; event = randomEvent(random, pure)) {
        const expected = reduceRun(pure, event, ENV);
        const statusBefore = owned.status;
        const jobsBefore = structuredClone(owned.jobs);
        const applied = applyRunEvent(owned, event, ENV);
        expect(applied.state).toBe(owned);
        expect(applied.state).toEqual(expected.state);
        expect(applied.changed).toEqual(expected.changed);
        expect(applied.commands).toEqual(expected.commands);
        expect(applied.before.status).toBe(statusBefore);
        expect(applied.before.jobs).toEqual(Object.fromEntries(expected.changed.map((key) => [key, jobsBefore[key]])));
        pure = deepFreeze(expected.state);
      }
    }
  });

  it('takes an event back whole: the state, and the next events decide as if it never happened', () => {
    const plan = compilePlan(
      pipeline({ a: {}, b: { needs: ['a'] }, c: { needs: ['a'], matrix: { axes: { n: [1, 2] }, maxParallel: 1 } } }),
      {
        inputs: {},
        gantry: GANTRY,
      },
    );
    const state = initialRunState('run-1', plan);
    applyRunEvent(state, { type: 'start' }, ENV);
    applyRunEvent(state, { type: 'job-started', key: 'a' }, ENV);
    const kept = structuredClone(state);
    const applied = applyRunEvent(state, { type: 'job-finished', key: 'a', status: 'success', outputs: {} }, ENV);
    expect(applied.changed.length).toBeGreaterThan(1);
    applied.undo();
    expect(state).toEqual(kept);
    const again = applyRunEvent(state, { type: 'job-finished', key: 'a', status: 'success', outputs: {} }, ENV);
    expect(again.commands).toEqual(applied.commands);
    const cancelled = applyRunEvent(state, { type: 'cancel' }, ENV);
    cancelled.undo();
    expect(state.cancelRequested).toBe(false);
  });

  it('leaves the state as it was when it throws', () => {
    const state = initialRunState('run-1', compilePlan(pipeline({ a: {} }), { inputs: {}, gantry: GANTRY }));
    applyRunEvent(state, { type: 'start' }, ENV);
    const kept = structuredClone(state);
    expect(() => applyRunEvent(state, { type: 'job-finished', key: 'a', status: 'success', outputs: {} }, ENV)).toThrow(/not running/);
    expect(state).toEqual(kept);
  });
});

describe('RunDriver on its own state', () => {
  it('neither changes the state it was given nor keeps a transition it could not store', async () => {
    const given = deepFreeze(initialRunState('run-1', compilePlan(pipeline({ build: {} }), { inputs: {}, gantry: GANTRY })));
    const host: RunHost = {
      async persist(t) {
        if (t.event.type === 'job-finished') throw new Error('the store is gone');
      },
      jobSpec: async () => ({}) as ExecutorJobSpec,
      runJob: async (): Promise<JobResult> => ({ status: 'success', outputs: {}, steps: [], tests: null, logTruncated: false }),
      slots: new SlotPool(1),
      now: () => new Date(0),
    };
    const driver = new RunDriver(given, ENV, host);
    await driver.start();
    await expect(driver.done).rejects.toThrow('the store is gone');
    expect(given.status).toBe('queued');
    expect(driver.state.status).toBe('running');
    expect(driver.state.jobs.build?.status).toBe('running');
  });
});

describe('RunDriver with many jobs at once', () => {
  it('lets the event loop turn while it starts them (the server answers requests meanwhile)', async () => {
    const jobs: Record<string, JobSpec> = {};
    for (let i = 0; i < 2000; i++) jobs[`j${i}`] = {};
    const state = initialRunState('run-1', compilePlan(pipeline(jobs), { inputs: {}, gantry: GANTRY }));
    let started = 0;
    const host: RunHost = {
      // A store whose writes never wait for I/O, as SQLite's do not.
      async persist(t) {
        if (t.event.type === 'job-started') started++;
      },
      jobSpec: async () => ({}) as ExecutorJobSpec,
      // The jobs never end here: only their start matters.
      runJob: () => new Promise<JobResult>(() => undefined),
      slots: new SlotPool(100_000),
      now: () => new Date(0),
    };
    const driver = new RunDriver(state, ENV, host);
    const startedWhenATimerRan = new Promise<number>((resolve) => setTimeout(() => resolve(started), 0));
    await driver.start();
    expect(await startedWhenATimerRan).toBeLessThan(2000);
    await waitFor(() => started === 2000, { what: 'every job to start' });
  });
});
