import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/types.ts';
import { compilePlan } from '../../src/pipeline/plan.ts';
import { applyRunEvent, IllegalTransitionError, initialRunState, reduceRun, rerunState } from '../../src/pipeline/run-reducer.ts';
import type { ConditionEnv, RunCommand, RunEvent, RunState, RunTransition } from '../../src/pipeline/run-reducer.ts';
import { GANTRY, pipeline, type JobSpec } from './pipeline-fixtures.ts';

function runOf(jobs: Record<string, JobSpec>, inputs: Record<string, Value> = {}): RunState {
  return initialRunState('run-1', compilePlan(pipeline(jobs), { inputs, gantry: GANTRY }));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Drives the reducer by hand; every state it passes in is frozen, so any mutation throws. */
class Driver {
  state: RunState;
  commands: RunCommand[] = [];
  readonly env: ConditionEnv;

  constructor(state: RunState, inputs: Record<string, Value> = {}) {
    this.state = deepFreeze(state);
    this.env = { inputs, gantry: GANTRY, env: { STAGE: 'prod' } };
  }

  send(event: RunEvent): RunTransition {
    const t = reduceRun(this.state, event, this.env);
    this.state = deepFreeze(t.state);
    this.commands.push(...t.commands);
    return t;
  }

  start(): RunTransition {
    return this.send({ type: 'start' });
  }

  started(key: string): RunTransition {
    return this.send({ type: 'job-started', key });
  }

  finished(key: string, status: 'success' | 'failure' | 'cancelled' = 'success', outputs: Record<string, string> = {}): RunTransition {
    return this.send({ type: 'job-finished', key, status, outputs });
  }

  /** Starts and finishes a queued job. */
  complete(key: string, status: 'success' | 'failure' | 'cancelled' = 'success', outputs: Record<string, string> = {}): RunTransition {
    this.started(key);
    return this.finished(key, status, outputs);
  }

  status(key: string): string {
    return this.state.jobs[key]?.status ?? 'missing';
  }

  reason(key: string): string | null | undefined {
    return this.state.jobs[key]?.reason;
  }

  statuses(): Record<string, string> {
    return Object.fromEntries(Object.values(this.state.jobs).map((j) => [j.key, j.status]));
  }

  /** Commands as short strings, e.g. `dispatch build`, `finished success`. */
  log(): string[] {
    return this.commands.map((c) => (c.type === 'finished' ? `finished ${c.status}` : `${c.type} ${c.key}`));
  }
}

describe('initialRunState', () => {
  it('starts every job waiting, with needs expanded to instance keys', () => {
    const state = runOf({
      build: { retry: 2 },
      test: { needs: ['build'], matrix: { axes: { n: [1, 2] }, maxParallel: 1 } },
      deploy: { needs: ['test'], if: 'always()' },
    });
    expect(state.status).toBe('queued');
    expect(state.cancelRequested).toBe(false);
    expect(Object.keys(state.jobs)).toEqual(['build', 'test (1)', 'test (2)', 'deploy']);
    expect(state.jobs.build).toEqual({
      key: 'build',
      jobId: 'build',
      matrix: null,
      needs: [],
      status: 'waiting',
      attempt: 1,
      maxAttempts: 3,
      outputs: {},
      reason: null,
      failFast: false,
      interruptions: 0,
    });
    expect(state.jobs['test (2)']).toMatchObject({ matrix: { n: 2 }, needs: ['build'], failFast: true, maxParallel: 1, maxAttempts: 1 });
    expect(state.jobs.deploy).toMatchObject({ needs: ['test (1)', 'test (2)'], condition: 'always()' });
  });
});

describe('reduceRun: ordering', () => {
  it('dispatches jobs without needs at start and dependents once their needs succeed', () => {
    const d = new Driver(runOf({ build: {}, lint: {}, test: { needs: ['build', 'lint'] } }));
    const t = d.start();
    expect(d.state.status).toBe('running');
    expect(t.changed).toEqual(['build', 'lint']);
    expect(t.commands).toEqual([
      { type: 'dispatch', key: 'build' },
      { type: 'dispatch', key: 'lint' },
    ]);
    d.complete('build');
    expect(d.status('test')).toBe('waiting');
    const last = d.complete('lint');
    expect(last.changed).toEqual(['lint', 'test']);
    d.complete('test');
    expect(d.log()).toEqual(['dispatch build', 'dispatch lint', 'dispatch test', 'finished success']);
    expect(d.state.status).toBe('success');
  });

  it('starts a fan-in only once every need is final, whatever order they end in, in place or copied', () => {
    // Each waiting job remembers how many of its needs are final: orders that end the first needs
    // last, or leave a gap, must not let it start early.
    const middle = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const jobs: Record<string, JobSpec> = { root: {} };
    for (const id of middle) jobs[id] = { needs: ['root'] };
    jobs.final = { needs: middle, if: 'always()' };
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const env: ConditionEnv = { inputs: {}, gantry: GANTRY, env: {} };
    for (let trial = 0; trial < 40; trial++) {
      const order = [...middle].sort(() => random() - 0.5);
      for (const inPlace of [true, false]) {
        let state = runOf(jobs);
        const send = (event: RunEvent): RunCommand[] => {
          const t = inPlace ? applyRunEvent(state, event, env) : reduceRun(state, event, env);
          state = t.state;
          return t.commands;
        };
        send({ type: 'start' });
        send({ type: 'job-started', key: 'root' });
        send({ type: 'job-finished', key: 'root', status: 'success', outputs: {} });
        for (const [index, key] of order.entries()) {
          send({ type: 'job-started', key });
          const status = random() < 0.2 ? 'failure' : 'success';
          const commands = send({ type: 'job-finished', key, status, outputs: {} });
          const last = index === order.length - 1;
          expect(
            commands.some((c) => c.type === 'dispatch' && c.key === 'final'),
            `${order.join(',')} at ${key}`,
          ).toBe(last);
          expect(state.jobs.final?.status).toBe(last ? 'queued' : 'waiting');
        }
      }
    }
  });

  it('reports only the jobs whose record changed', () => {
    const d = new Driver(runOf({ a: {}, b: {} }));
    d.start();
    expect(d.started('a').changed).toEqual(['a']);
    expect(d.finished('a', 'success', { x: '1' }).changed).toEqual(['a']);
    expect(d.state.jobs.a?.outputs).toEqual({ x: '1' });
  });

  it('finishes a run with no jobs at once', () => {
    const d = new Driver(initialRunState('empty', { jobs: [] }));
    expect(d.start().commands).toEqual([{ type: 'finished', status: 'success' }]);
    expect(d.state.status).toBe('success');
  });
});

describe('reduceRun: conditions', () => {
  it('skips dependents of a failed job, and their dependents in turn', () => {
    const d = new Driver(runOf({ build: {}, test: { needs: ['build'] }, deploy: { needs: ['test'] } }));
    d.start();
    d.complete('build', 'failure');
    expect(d.statuses()).toEqual({ build: 'failure', test: 'skipped', deploy: 'skipped' });
    expect(d.reason('test')).toBe("skipped: needed job 'build' failed");
    expect(d.reason('deploy')).toBe("skipped: needed job 'test' was skipped");
    expect(d.log()).toEqual(['dispatch build', 'finished failure']);
  });

  it('runs always() after a failure and failure() only after one', () => {
    const jobs = { build: {}, cleanup: { needs: ['build'], if: 'always()' }, alert: { needs: ['build'], if: 'failure()' } };
    const failed = new Driver(runOf(jobs));
    failed.start();
    failed.complete('build', 'failure');
    expect(failed.statuses()).toEqual({ build: 'failure', cleanup: 'queued', alert: 'queued' });

    const passed = new Driver(runOf(jobs));
    passed.start();
    passed.complete('build');
    expect(passed.statuses()).toEqual({ build: 'success', cleanup: 'queued', alert: 'skipped' });
    expect(passed.reason('alert')).toBe('skipped: condition `failure()` was false');
  });

  it('evaluates conditions with inputs, gantry, env, matrix and needs', () => {
    const d = new Driver(
      runOf({
        build: {},
        byInput: { if: "inputs.target == 'prod'" },
        byEnv: { if: "env.STAGE == 'dev'" },
        byRef: { if: "gantry.ref == 'refs/heads/main'" },
        byMatrix: { matrix: { axes: { os: ['linux', 'mac'] } }, if: "matrix.os == 'mac'" },
        byNeeds: { needs: ['build'], if: "needs.build.outputs.version == '1.2' && needs.build.result == 'success'" },
      }),
      { target: 'prod' },
    );
    d.start();
    expect(d.statuses()).toEqual({
      build: 'queued',
      byInput: 'queued',
      byEnv: 'skipped',
      byRef: 'queued',
      'byMatrix (linux)': 'skipped',
      'byMatrix (mac)': 'queued',
      byNeeds: 'waiting',
    });
    expect(d.reason('byEnv')).toBe("skipped: condition `env.STAGE == 'dev'` was false");
    d.complete('build', 'success', { version: '1.2' });
    expect(d.status('byNeeds')).toBe('queued');
  });

  it('fails a job whose condition cannot be evaluated, and the run with it', () => {
    const d = new Driver(runOf({ broken: { if: 'inputs.x ==' }, fine: {} }));
    d.start();
    expect(d.status('broken')).toBe('failure');
    expect(d.reason('broken')).toMatch(/^condition error: /);
    d.complete('fine');
    expect(d.log().at(-1)).toBe('finished failure');
  });

  it('folds a matrix need into one result and merges outputs in key order', () => {
    const jobs = {
      test: { matrix: { axes: { n: [1, 2] }, failFast: false } },
      summary: { needs: ['test'], if: "always() && needs.test.result == 'failure' && needs.test.outputs.last == 'two'" },
    };
    const d = new Driver(runOf(jobs));
    d.start();
    d.started('test (1)');
    d.started('test (2)');
    d.finished('test (2)', 'failure', { last: 'two', b: '2' });
    d.finished('test (1)', 'success', { last: 'one', a: '1' });
    expect(d.status('summary')).toBe('queued');

    const skippedNeed = new Driver(
      runOf({
        test: { matrix: { axes: { n: [1, 2] } }, if: 'matrix.n == 1' },
        summary: { needs: ['test'], if: "always() && needs.test.result == 'skipped'" },
      }),
    );
    skippedNeed.start();
    skippedNeed.complete('test (1)');
    expect(skippedNeed.status('summary')).toBe('queued');
  });
});

describe('reduceRun: retries and interruptions', () => {
  it('re-queues a failed job while attempts remain', () => {
    const d = new Driver(runOf({ flaky: { retry: 1 }, after: { needs: ['flaky'] } }));
    d.start();
    const t = d.complete('flaky', 'failure');
    expect(t.commands).toEqual([{ type: 'dispatch', key: 'flaky' }]);
    expect(d.state.jobs.flaky).toMatchObject({ status: 'queued', attempt: 2 });
    d.complete('flaky');
    expect(d.status('after')).toBe('queued');
  });

  it('fails for good when attempts run out, saying how many were made', () => {
    const d = new Driver(runOf({ flaky: { retry: 2 } }));
    d.start();
    d.complete('flaky', 'failure');
    d.complete('flaky', 'failure');
    d.complete('flaky', 'failure');
    expect(d.state.jobs.flaky).toMatchObject({ status: 'failure', attempt: 3, reason: 'failed after 3 attempts' });
    expect(d.log()).toEqual(['dispatch flaky', 'dispatch flaky', 'dispatch flaky', 'finished failure']);
  });

  it('re-queues an interrupted job once, and fails it the second time', () => {
    const d = new Driver(runOf({ deploy: {} }));
    d.start();
    d.started('deploy');
    const t = d.send({ type: 'job-interrupted', key: 'deploy' });
    expect(t.commands).toEqual([{ type: 'dispatch', key: 'deploy' }]);
    expect(d.state.jobs.deploy).toMatchObject({ status: 'queued', attempt: 2, interruptions: 1 });
    d.started('deploy');
    d.send({ type: 'job-interrupted', key: 'deploy' });
    expect(d.state.jobs.deploy).toMatchObject({ status: 'failure', reason: 'interrupted twice' });
    expect(d.state.status).toBe('failure');
  });

  it('retries an interrupted job as often as the configured retries allow', () => {
    const never = new Driver(runOf({ deploy: {} }));
    never.start();
    never.started('deploy');
    never.send({ type: 'job-interrupted', key: 'deploy', retries: 0 });
    expect(never.state.jobs.deploy).toMatchObject({ status: 'failure', interruptions: 1 });

    const patient = new Driver(runOf({ deploy: {} }));
    patient.start();
    for (let i = 1; i <= 3; i++) {
      patient.started('deploy');
      patient.send({ type: 'job-interrupted', key: 'deploy', retries: 3 });
      expect(patient.state.jobs.deploy).toMatchObject({ status: 'queued', attempt: i + 1, interruptions: i });
    }
    patient.started('deploy');
    patient.send({ type: 'job-interrupted', key: 'deploy', retries: 3 });
    expect(patient.state.jobs.deploy).toMatchObject({ status: 'failure', reason: 'interrupted 4 times' });
  });
});

describe('reduceRun: matrix scheduling', () => {
  it('fail-fast cancels waiting and queued siblings and aborts running ones', () => {
    const d = new Driver(runOf({ test: { matrix: { axes: { n: [1, 2, 3, 4] }, maxParallel: 3 } }, after: { needs: ['test'] } }));
    d.start();
    d.started('test (1)');
    d.started('test (2)');
    const t = d.finished('test (1)', 'failure');
    const reason = "cancelled: fail-fast after 'test (1)' failed";
    expect(t.commands).toEqual([{ type: 'abort', key: 'test (2)', reason }]);
    expect(d.statuses()).toEqual({
      'test (1)': 'failure',
      'test (2)': 'running',
      'test (3)': 'cancelled',
      'test (4)': 'cancelled',
      after: 'waiting',
    });
    expect(d.reason('test (3)')).toBe(reason);
    d.finished('test (2)', 'cancelled');
    expect(d.state.jobs['test (2)']).toMatchObject({ status: 'cancelled', reason });
    expect(d.reason('after')).toBe("skipped: needed job 'test' failed");
    expect(d.log().at(-1)).toBe('finished failure');
  });

  it('does not retry a sibling that fails while being aborted', () => {
    const d = new Driver(runOf({ test: { retry: 3, matrix: { axes: { n: [1, 2] } } } }));
    d.start();
    d.started('test (2)');
    for (let i = 0; i < 4; i++) d.complete('test (1)', 'failure');
    expect(d.state.jobs['test (1)']).toMatchObject({ status: 'failure', attempt: 4 });
    expect(d.log().at(-1)).toBe('abort test (2)');
    d.finished('test (2)', 'failure');
    expect(d.status('test (2)')).toBe('failure');
    expect(d.state.status).toBe('failure');
  });

  it('lets siblings carry on without fail-fast', () => {
    const d = new Driver(runOf({ test: { matrix: { axes: { n: [1, 2] }, failFast: false } } }));
    d.start();
    d.complete('test (1)', 'failure');
    expect(d.status('test (2)')).toBe('queued');
  });

  it('keeps at most max-parallel instances queued or running', () => {
    const d = new Driver(runOf({ test: { matrix: { axes: { n: [1, 2, 3] }, maxParallel: 2 } } }));
    expect(d.start().commands).toEqual([
      { type: 'dispatch', key: 'test (1)' },
      { type: 'dispatch', key: 'test (2)' },
    ]);
    expect(d.status('test (3)')).toBe('waiting');
    d.started('test (1)');
    expect(d.finished('test (1)').commands).toEqual([{ type: 'dispatch', key: 'test (3)' }]);
  });

  it('still skips an instance whose condition is false while slots are full', () => {
    const d = new Driver(runOf({ test: { matrix: { axes: { n: [1, 2, 3] }, maxParallel: 1 }, if: 'matrix.n != 3' } }));
    d.start();
    expect(d.statuses()).toEqual({ 'test (1)': 'queued', 'test (2)': 'waiting', 'test (3)': 'skipped' });
  });
});

describe('reduceRun: cancel', () => {
  it('cancels waiting and queued jobs, aborts running ones and still runs clean-up jobs', () => {
    const d = new Driver(
      runOf({
        build: {},
        lint: {},
        test: { needs: ['build'] },
        cleanup: { needs: ['test'], if: 'always()' },
        onCancel: { needs: ['build'], if: 'cancelled()' },
      }),
    );
    d.start();
    d.started('build');
    const t = d.send({ type: 'cancel' });
    const reason = 'cancelled: the run was cancelled';
    // cleanup's need (test) is final now, so it is decided at once; onCancel waits for build.
    expect(t.commands).toEqual([
      { type: 'abort', key: 'build', reason },
      { type: 'dispatch', key: 'cleanup' },
    ]);
    expect(d.statuses()).toEqual({ build: 'running', lint: 'cancelled', test: 'cancelled', cleanup: 'queued', onCancel: 'waiting' });
    expect(d.reason('lint')).toBe(reason);
    d.finished('build', 'cancelled');
    expect(d.state.jobs.build).toMatchObject({ status: 'cancelled', reason });
    expect(d.statuses()).toMatchObject({ cleanup: 'queued', onCancel: 'queued' });
    d.complete('cleanup');
    const last = d.complete('onCancel');
    expect(last.commands).toEqual([{ type: 'finished', status: 'cancelled' }]);
    expect(d.log().filter((c) => c.startsWith('finished'))).toEqual(['finished cancelled']);
  });

  it('does not retry a job that fails after the cancel', () => {
    const d = new Driver(runOf({ a: { retry: 3 } }));
    d.start();
    d.started('a');
    d.send({ type: 'cancel' });
    d.finished('a', 'failure');
    expect(d.status('a')).toBe('failure');
    expect(d.state.status).toBe('cancelled');
  });

  it('cancels everything when the run has not started, and is idempotent after the end', () => {
    const d = new Driver(runOf({ a: {}, b: { needs: ['a'], if: 'always()' } }));
    expect(d.send({ type: 'cancel' }).commands).toEqual([{ type: 'finished', status: 'cancelled' }]);
    expect(d.statuses()).toEqual({ a: 'cancelled', b: 'cancelled' });
    const again = d.send({ type: 'cancel' });
    expect(again).toEqual({ state: d.state, changed: [], commands: [] });
  });

  it('cancels an interrupted job instead of re-queueing it once cancel was asked', () => {
    const d = new Driver(runOf({ a: {} }));
    d.start();
    d.started('a');
    d.send({ type: 'cancel' });
    d.send({ type: 'job-interrupted', key: 'a' });
    expect(d.status('a')).toBe('cancelled');
    expect(d.state.status).toBe('cancelled');
  });
});

describe('reduceRun: run result', () => {
  it('fails a run where a job was cancelled without a cancel request', () => {
    const d = new Driver(runOf({ a: {} }));
    d.start();
    d.complete('a', 'cancelled');
    expect(d.log()).toEqual(['dispatch a', 'finished failure']);
  });

  it('succeeds when jobs were only skipped', () => {
    const d = new Driver(runOf({ a: {}, b: { if: 'false' } }));
    d.start();
    d.complete('a');
    expect(d.state.status).toBe('success');
  });
});

describe('reduceRun: illegal transitions', () => {
  it('throws IllegalTransitionError with a stable code', () => {
    const d = new Driver(runOf({ a: {}, b: { needs: ['a'] } }));
    const illegal = (event: RunEvent) => () => d.send(event);
    expect(illegal({ type: 'job-started', key: 'a' })).toThrow(IllegalTransitionError);
    d.start();
    expect(illegal({ type: 'start' })).toThrow('run run-1 is already running');
    expect(illegal({ type: 'job-started', key: 'b' })).toThrow("'job-started' for job 'b' which is waiting, not queued");
    expect(illegal({ type: 'job-finished', key: 'a', status: 'success', outputs: {} })).toThrow('which is queued, not running');
    expect(illegal({ type: 'job-interrupted', key: 'a' })).toThrow(IllegalTransitionError);
    expect(illegal({ type: 'job-started', key: 'nope' })).toThrow("run run-1 has no job 'nope'");
    d.complete('a');
    d.complete('b');
    try {
      d.send({ type: 'job-started', key: 'a' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect((error as IllegalTransitionError).code).toBe('ILLEGAL_TRANSITION');
      expect((error as IllegalTransitionError).message).toBe("run run-1 is already success; 'job-started' is not allowed");
    }
  });
});

describe('rerunState', () => {
  function finishedRun(): RunState {
    const d = new Driver(
      runOf({ build: {}, lint: {}, test: { needs: ['build'] }, deploy: { needs: ['test', 'lint'] }, docs: { needs: ['lint'] } }),
    );
    d.start();
    d.complete('build', 'success', { version: '7' });
    d.complete('lint');
    d.complete('test', 'failure');
    d.complete('docs');
    return d.state;
  }

  it("keeps successful jobs that no re-run job's chain depends on", () => {
    const previous = finishedRun();
    expect(previous.status).toBe('failure');
    const next = rerunState(previous, 'run-2', 'failed');
    expect(next.runId).toBe('run-2');
    expect(next.status).toBe('queued');
    expect(Object.fromEntries(Object.values(next.jobs).map((j) => [j.key, j.status]))).toEqual({
      build: 'success',
      lint: 'success',
      test: 'waiting',
      deploy: 'waiting',
      docs: 'success',
    });
    expect(next.jobs.build?.outputs).toEqual({ version: '7' });

    const d = new Driver(next);
    expect(d.start().commands).toEqual([{ type: 'dispatch', key: 'test' }]);
    d.complete('test');
    d.complete('deploy');
    expect(d.state.status).toBe('success');
  });

  it('re-runs a successful job that needs a re-run one', () => {
    const d = new Driver(runOf({ a: { if: "inputs.go == 'yes'" }, b: {}, c: { needs: ['b'] }, e: { needs: ['c'] } }));
    d.start();
    d.complete('b', 'failure');
    const next = rerunState(d.state, 'run-2', 'failed');
    expect(Object.fromEntries(Object.values(next.jobs).map((j) => [j.key, j.status]))).toEqual({
      a: 'waiting',
      b: 'waiting',
      c: 'waiting',
      e: 'waiting',
    });
  });

  it("resets every job in 'all' mode, and refuses a run that is not finished", () => {
    const next = rerunState(finishedRun(), 'run-3', 'all');
    expect(Object.values(next.jobs).every((j) => j.status === 'waiting' && j.attempt === 1 && Object.keys(j.outputs).length === 0)).toBe(
      true,
    );
    expect(() => rerunState(runOf({ a: {} }), 'run-4', 'failed')).toThrow(IllegalTransitionError);
  });
});
