/**
 * Engine scenarios: each `NN_name.yaml` is a pipeline (normalised form, defaults filled in here)
 * and `NN_name.json` scripts what every job reports and the expected end state: final statuses
 * and reasons per job, the exact order of commands, and optionally a re-run. Then a property
 * test drives random DAGs through random interleavings and checks the run always ends cleanly.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { FINAL_JOB_STATUSES, FINAL_RUN_STATUSES } from '../../src/core/types.ts';
import type { GantryContext, Value } from '../../src/core/types.ts';
import { compilePlan } from '../../src/pipeline/plan.ts';
import { initialRunState, rerunState } from '../../src/pipeline/run-reducer.ts';
import type { ConditionEnv, RunEvent, RunState } from '../../src/pipeline/run-reducer.ts';
import { pipeline, type JobSpec } from '../pipeline/pipeline-fixtures.ts';
import { simulate, statuses, type Action, type Outcome, type SimulationResult } from './simulate.ts';

const DIR = import.meta.dirname;

const valueSchema: z.ZodType<Value> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(valueSchema), z.record(z.string(), valueSchema)]),
);

const pipelineFixture = z.strictObject({
  env: z.record(z.string(), z.string()).optional(),
  jobs: z.record(
    z.string(),
    z.strictObject({
      needs: z.array(z.string()).optional(),
      if: z.string().optional(),
      retry: z.number().optional(),
      outputs: z.record(z.string(), z.string()).optional(),
      matrix: z
        .strictObject({
          axes: z.record(z.string(), z.array(valueSchema)).optional(),
          include: z.array(z.record(z.string(), valueSchema)).optional(),
          exclude: z.array(z.record(z.string(), valueSchema)).optional(),
          failFast: z.boolean().optional(),
          maxParallel: z.number().optional(),
        })
        .optional(),
    }),
  ),
});

const outcomeSchema = z.union([
  z.enum(['success', 'failure', 'cancelled', 'interrupted']),
  z.strictObject({
    status: z.enum(['success', 'failure', 'cancelled', 'interrupted']),
    outputs: z.record(z.string(), z.string()).optional(),
  }),
]);
const outcomesSchema = z.record(z.string(), z.array(outcomeSchema)).optional();
const expectSchema = z.strictObject({
  run: z.enum(['success', 'failure', 'cancelled']),
  jobs: z.record(
    z.string(),
    z.strictObject({
      status: z.string(),
      attempt: z.number().optional(),
      reason: z.string().optional(),
      reasonMatches: z.string().optional(),
    }),
  ),
  commands: z.array(z.string()),
  maxConcurrent: z.record(z.string(), z.number()).optional(),
});
const scriptFixture = z.strictObject({
  description: z.string(),
  inputs: z.record(z.string(), valueSchema).optional(),
  outcomes: outcomesSchema,
  slots: z.number().optional(),
  /** `<event type> <job key>`: send a cancel right after that event. */
  cancelAfter: z.string().optional(),
  expect: expectSchema,
  rerun: z.strictObject({ mode: z.enum(['all', 'failed']), outcomes: outcomesSchema, expect: expectSchema }).optional(),
});

const GANTRY: GantryContext = {
  sha: 'f00d',
  ref: 'refs/heads/main',
  ref_name: 'main',
  ref_type: 'branch',
  event: 'push',
  head_ref: '',
  base_ref: '',
  run_id: 'scenario',
  workspace: '/workspace',
};

function scripted(outcomes: Record<string, Outcome[]> | undefined): (key: string, run: number) => Outcome {
  return (key, run) => outcomes?.[key]?.[run - 1] ?? 'success';
}

function checkExpectations(result: SimulationResult, expected: z.infer<typeof expectSchema>): void {
  expect(result.state.status).toBe(expected.run);
  expect(Object.keys(result.state.jobs).sort()).toEqual(Object.keys(expected.jobs).sort());
  for (const [key, want] of Object.entries(expected.jobs)) {
    const job = result.state.jobs[key];
    expect(job?.status, `status of '${key}'`).toBe(want.status);
    if (want.attempt !== undefined) expect(job?.attempt, `attempt of '${key}'`).toBe(want.attempt);
    if (want.reasonMatches !== undefined) expect(job?.reason, `reason of '${key}'`).toMatch(new RegExp(want.reasonMatches));
    else expect(job?.reason, `reason of '${key}'`).toBe(want.reason ?? null);
  }
  expect(result.log).toEqual(expected.commands);
  for (const [jobId, max] of Object.entries(expected.maxConcurrent ?? {})) {
    expect(result.maxConcurrent[jobId], `most concurrent '${jobId}' instances`).toBe(max);
  }
}

const names = readdirSync(DIR)
  .filter((file) => /^\d\d_.*\.yaml$/.test(file))
  .map((file) => file.slice(0, -'.yaml'.length))
  .sort();

describe('engine scenarios', () => {
  it('has at least ten scenarios, each with a script', () => {
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const name of names) expect(readdirSync(DIR)).toContain(`${name}.json`);
  });

  for (const name of names) {
    it(name, () => {
      const config = pipelineFixture.parse(parse(readFileSync(join(DIR, `${name}.yaml`), 'utf8')));
      const script = scriptFixture.parse(JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')));
      const inputs = script.inputs ?? {};
      const plan = compilePlan(pipeline(config.jobs as Record<string, JobSpec>, { env: config.env ?? {} }), { inputs, gantry: GANTRY });
      const env: ConditionEnv = { inputs, gantry: GANTRY, env: config.env ?? {} };
      let cancelled = false;
      const after = (event: RunEvent): RunEvent[] => {
        const label = 'key' in event ? `${event.type} ${event.key}` : event.type;
        if (cancelled || label !== script.cancelAfter) return [];
        cancelled = true;
        return [{ type: 'cancel' }];
      };
      const first = simulate(initialRunState('run-1', plan), env, { outcome: scripted(script.outcomes), slots: script.slots, after });
      checkExpectations(first, script.expect);

      if (script.rerun) {
        const second = simulate(rerunState(first.state, 'run-2', script.rerun.mode), env, {
          outcome: scripted(script.rerun.outcomes),
          slots: script.slots,
        });
        checkExpectations(second, script.rerun.expect);
      }
    });
  }
});

// ---------------------------------------------------------------- property test

/** mulberry32: small, seedable, good enough to spread test cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

const CONDITIONS = [
  undefined,
  undefined,
  undefined,
  undefined,
  'always()',
  'failure()',
  'cancelled()',
  'success()',
  "inputs.flag == 'on'",
  'inputs.flag ==',
  "always() && needs.j0.result != 'success'",
];
const OUTCOMES: Outcome[] = ['success', 'success', 'success', 'success', 'failure', 'failure', 'cancelled', 'interrupted'];

function randomPipeline(random: () => number): Record<string, JobSpec> {
  const count = 1 + Math.floor(random() * 9);
  const jobs: Record<string, JobSpec> = {};
  for (let i = 0; i < count; i++) {
    const needs = Array.from({ length: i }, (_, j) => `j${j}`).filter(() => random() < 0.35);
    const spec: JobSpec = { needs, retry: Math.floor(random() * 3) };
    let condition = pick(random, CONDITIONS);
    if (condition?.includes('needs.j0') && !needs.includes('j0')) condition = 'always()';
    if (condition !== undefined) spec.if = condition;
    if (random() < 0.35) {
      const values = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, v) => v);
      spec.matrix = { axes: { n: values }, failFast: random() < 0.6 };
      if (random() < 0.5) spec.matrix.maxParallel = 1 + Math.floor(random() * 2);
    }
    jobs[`j${i}`] = spec;
  }
  return jobs;
}

function checkInvariants(state: RunState): void {
  const busy = new Map<string, number>();
  for (const job of Object.values(state.jobs)) {
    if (job.status === 'queued' || job.status === 'running') busy.set(job.jobId, (busy.get(job.jobId) ?? 0) + 1);
  }
  for (const job of Object.values(state.jobs)) {
    if (job.maxParallel !== undefined) expect(busy.get(job.jobId) ?? 0).toBeLessThanOrEqual(job.maxParallel);
    if (job.status === 'running' || job.status === 'queued') {
      for (const need of job.needs) expect(FINAL_JOB_STATUSES).toContain(state.jobs[need]?.status);
    }
  }
}

describe('run reducer properties', () => {
  it('ends every random DAG under random outcomes and interleavings with all jobs final and one finished command', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const random = rng(seed);
      const jobs = randomPipeline(random);
      const inputs = { flag: random() < 0.5 ? 'on' : 'off' };
      const plan = compilePlan(pipeline(jobs), { inputs, gantry: GANTRY });
      const env: ConditionEnv = { inputs, gantry: GANTRY, env: {} };
      const outcomes = new Map<string, Outcome>();
      const cancelAt = random() < 0.3 ? Math.floor(random() * 12) : -1;
      const choose = (actions: Action[], step: number): Action => (step === cancelAt ? { kind: 'cancel' } : pick(random, actions));
      const outcome = (key: string, run: number): Outcome => {
        const id = `${key}#${run}`;
        if (!outcomes.has(id)) outcomes.set(id, pick(random, OUTCOMES));
        return outcomes.get(id) as Outcome;
      };
      const slots = random() < 0.5 ? 1 + Math.floor(random() * 3) : undefined;
      const label = `seed ${seed}: ${JSON.stringify(jobs)}`;

      let result: SimulationResult;
      try {
        result = simulate(initialRunState(`run-${seed}`, plan), env, {
          outcome,
          abortOutcome: () => pick(random, ['cancelled', 'cancelled', 'failure', 'success', 'interrupted'] as const),
          choose,
          slots,
          check: checkInvariants,
          maxSteps: 2_000,
        });
      } catch (error) {
        throw new Error(`${label}: ${error instanceof Error ? error.message : String(error)}`);
      }

      const finished = result.commands.filter((c) => c.type === 'finished');
      expect(finished, label).toHaveLength(1);
      expect(result.commands.at(-1), label).toEqual(finished[0]);
      expect(FINAL_RUN_STATUSES, label).toContain(result.state.status);
      expect(finished[0], label).toEqual({ type: 'finished', status: result.state.status });
      for (const [key, status] of Object.entries(statuses(result.state))) expect(FINAL_JOB_STATUSES, `${label} ${key}`).toContain(status);
      const jobStates = Object.values(result.state.jobs);
      if (result.state.cancelRequested) expect(result.state.status, label).toBe('cancelled');
      else if (jobStates.some((j) => j.status === 'failure' || j.status === 'cancelled'))
        expect(result.state.status, label).toBe('failure');
      else expect(result.state.status, label).toBe('success');
      for (const job of jobStates) {
        const dispatches = result.log.filter((line) => line === `dispatch ${job.key}`).length;
        expect(dispatches, `${label} ${job.key}`).toBeLessThanOrEqual(job.maxAttempts + 1);
      }
    }
  });
});
