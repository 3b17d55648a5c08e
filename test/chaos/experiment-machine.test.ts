import { describe, expect, it } from 'vitest';
import type { ExperimentConfig } from '../../src/core/chaos-config.ts';
import {
  experimentRecord,
  initialExperiment,
  reduceExperiment,
  type ExperimentEvent,
  type ExperimentState,
  type ExperimentTransition,
} from '../../src/chaos/index.ts';
import type { HypothesisResult } from '../../src/chaos/index.ts';

const config: ExperimentConfig = {
  name: 'slow-payments',
  environment: 'staging',
  hypothesis: { errorRate: { max: 0.01 }, latency: [] },
  faults: [{ kind: 'latency', delayMs: 200, jitterMs: 0, distribution: 'uniform', percent: 10, match: { path: '/pay' } }],
  durationMs: 60_000,
  beforeMs: 30_000,
  afterMs: 10_000,
  guard: { noRollout: true },
};

const held: HypothesisResult = { outcome: 'held', checks: [], requests: 100, errors: 0 };
const broken: HypothesisResult = {
  outcome: 'broken',
  checks: [{ name: 'error-rate', outcome: 'fail', value: 0.1, baseline: 0, threshold: 0.01, pValue: 0, reason: '10% errors' }],
  requests: 100,
  errors: 10,
};
const counts = { affected: 10, unaffected: 90, byFault: [10] };

function run(events: ExperimentEvent[]): { state: ExperimentState; steps: ExperimentTransition[] } {
  const first = initialExperiment({ id: 'x1', config, configHash: 'h', release: 'r1', at: 1000 });
  const steps = [first];
  let state = first.state;
  for (const e of events) {
    const t = reduceExperiment(state, e);
    steps.push(t);
    state = t.state;
  }
  return { state, steps };
}

const types = (t: ExperimentTransition) => t.commands.map((c) => c.type);

describe('reduceExperiment', () => {
  it('goes guard → before → inject → watch → revert → after and holds', () => {
    const { state, steps } = run([
      { type: 'guard-checked', at: 1000, problems: [] },
      { type: 'steady-state', at: 1010, result: held },
      { type: 'faults-set', at: 1020 },
      { type: 'evaluated', at: 2020, result: held, counts },
      { type: 'tick', at: 61_020 },
      { type: 'faults-cleared', at: 61_030, counts },
      { type: 'steady-state', at: 71_030, result: held },
    ]);
    expect(types(steps[0] as ExperimentTransition)).toEqual(['record', 'check-guard']);
    expect((steps[1] as ExperimentTransition).commands).toEqual([{ type: 'measure', sinceMs: -29_000, untilMs: 1000 }]);
    expect((steps[2] as ExperimentTransition).commands).toEqual([{ type: 'set-faults', faults: config.faults, deadlineAt: 61_010 }]);
    expect(types(steps[5] as ExperimentTransition)).toEqual(['clear-faults', 'record']);
    expect(state).toMatchObject({ phase: 'finished', verdict: 'held', injectedAt: 1020, deadlineAt: 61_020, revertedAt: 61_030 });
    expect(experimentRecord(state)).toMatchObject({ configHash: 'h', release: 'r1', affected: 10, unaffected: 90, verdict: 'held' });
  });

  it('clears the faults first when a look sees the hypothesis broken, with the numbers in the reason', () => {
    const { state, steps } = run([
      { type: 'guard-checked', at: 1000, problems: [] },
      { type: 'steady-state', at: 1010, result: held },
      { type: 'faults-set', at: 1020 },
      { type: 'evaluated', at: 3020, result: broken, counts },
    ]);
    expect((steps[4] as ExperimentTransition).commands[0]).toEqual({ type: 'clear-faults' });
    expect(state).toMatchObject({ phase: 'reverting', verdict: 'broken', brokenAt: 3020 });
    expect(state.reason).toContain('10% errors');
  });

  it('aborts without injecting when the guard refuses or the steady state does not hold before', () => {
    const refused = run([{ type: 'guard-checked', at: 1000, problems: ['a rollout is under way'] }]).state;
    expect(refused).toMatchObject({ phase: 'finished', verdict: 'aborted', reason: 'the guard refused: a rollout is under way' });
    const unsteady = run([
      { type: 'guard-checked', at: 1000, problems: [] },
      { type: 'steady-state', at: 1010, result: broken },
    ]);
    expect(unsteady.state).toMatchObject({ phase: 'finished', verdict: 'aborted' });
    expect(unsteady.steps.flatMap(types)).not.toContain('set-faults');
  });

  it('an abort by hand while watching reverts and ends aborted; a late look changes nothing', () => {
    const { state } = run([
      { type: 'guard-checked', at: 1000, problems: [] },
      { type: 'steady-state', at: 1010, result: held },
      { type: 'faults-set', at: 1020 },
      { type: 'abort', at: 1500, reason: 'aborted by alice' },
      { type: 'evaluated', at: 1600, result: broken, counts },
      { type: 'faults-cleared', at: 1700, counts },
      { type: 'steady-state', at: 11_700, result: held },
    ]);
    expect(state).toMatchObject({ phase: 'finished', verdict: 'aborted', reason: 'aborted by alice', brokenAt: null });
  });

  it('refuses events its phase does not take', () => {
    expect(() => run([{ type: 'faults-set', at: 1000 }])).toThrow(/cannot take 'faults-set' in phase guard/);
  });
});
