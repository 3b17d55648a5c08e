import { describe, expect, it } from 'vitest';
import type { AnalysisConfig, StrategyConfig } from '../../src/core/delivery-config.ts';
import {
  IllegalTransitionError,
  initialRollback,
  initialRollout,
  isFinalRollout,
  nextDeadline,
  reduceRollout,
} from '../../src/delivery/index.ts';
import type { AnalysisResult, RolloutCommand, RolloutEvent, RolloutState } from '../../src/delivery/index.ts';
import { seededRandom } from './simulation.ts';

const ANALYSIS: AnalysisConfig = {
  errorRate: { max: 0.01 },
  latency: [],
  prometheus: [],
  minRequests: 20,
  minErrors: 4,
  windowMs: 10_000,
  confidence: 0.99,
  onInconclusive: 'pause',
};
const CANARY: StrategyConfig = {
  kind: 'canary',
  steps: [
    { weight: 10, pauseMs: 30_000 },
    { weight: 50, pauseMs: 60_000 },
  ],
  analysis: ANALYSIS,
  match: [],
};
const PASS: AnalysisResult = { outcome: 'pass', checks: [] };
const INCONCLUSIVE: AnalysisResult = {
  outcome: 'inconclusive',
  checks: [
    {
      name: 'error-rate',
      outcome: 'inconclusive',
      value: null,
      baseline: null,
      threshold: 0.01,
      pValue: null,
      reason: 'too little traffic: 3 of 20 required canary requests in the window',
    },
  ],
};
const FAIL: AnalysisResult = {
  outcome: 'fail',
  checks: [
    {
      name: 'error-rate',
      outcome: 'fail',
      value: 0.06,
      baseline: 0.001,
      threshold: 0.01,
      pValue: 0.0001,
      reason: '6% errors (6 of 100 requests) is above the 1% bound (p = 1e-4)',
    },
  ],
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Drives the reducer; every state it passes in is frozen, so any mutation of input throws. */
class Driver {
  state: RolloutState;
  commands: RolloutCommand[] = [];

  constructor(strategy: StrategyConfig, o: { approval?: boolean; previous?: string | null; instances?: number } = {}) {
    this.state = deepFreeze(
      initialRollout({
        id: 'ro-1',
        environment: 'production',
        releaseId: 'rel-2',
        previousReleaseId: o.previous === undefined ? 'rel-1' : o.previous,
        strategy,
        approvalRequired: o.approval ?? false,
        instances: o.instances ?? 2,
      }),
    );
  }

  send(event: RolloutEvent): RolloutCommand[] {
    const t = reduceRollout(this.state, event);
    this.state = deepFreeze(t.state);
    this.commands.push(...t.commands);
    return t.commands;
  }

  /** The commands of one event, records left out, as short strings. */
  step(event: RolloutEvent): string[] {
    return this.send(event)
      .filter((c) => c.type !== 'record')
      .map(show);
  }
}

function show(c: RolloutCommand): string {
  switch (c.type) {
    case 'start-instances':
      return `start ${c.pool} ${c.releaseId}${c.count === undefined ? '' : ` x${c.count}`}`;
    case 'stop-instances':
      return `stop ${c.pool}${c.drain ? ' drain' : ''}${c.count === undefined ? '' : ` x${c.count}`}`;
    case 'set-weights':
      return `weights ${c.stable}/${c.canary}`;
    case 'swap-pools':
      return 'swap';
    case 'record':
      return `record ${c.event}`;
    case 'finished':
      return `finished ${c.phase}`;
  }
}

describe('canary', () => {
  it('walks its steps with analysis, promotes, swaps and drains the old pool', () => {
    const d = new Driver(CANARY);
    expect(d.step({ type: 'start', at: 0 })).toEqual(['start canary rel-2 x2']);
    expect(d.state.phase).toBe('starting');
    expect(nextDeadline(d.state)).toBeNull();
    expect(d.step({ type: 'instances-ready', at: 5_000, pool: 'canary' })).toEqual(['weights 90/10']);
    expect(d.state).toMatchObject({ phase: 'progressing', stepIndex: 0, stepStartedAt: 5_000, weights: { stable: 90, canary: 10 } });
    // Analysis every second: the deadline is the next analysis tick, not the step's end.
    expect(nextDeadline(d.state)).toBe(6_000);
    expect(d.step({ type: 'tick', at: 6_000, analysis: PASS })).toEqual([]);
    expect(d.state.lastAnalysis).toEqual(PASS);
    expect(d.step({ type: 'tick', at: 35_000, analysis: PASS })).toEqual(['weights 50/50']);
    expect(d.state).toMatchObject({ stepIndex: 1, stepStartedAt: 35_000 });
    expect(d.step({ type: 'tick', at: 95_000, analysis: PASS })).toEqual(['weights 0/100', 'swap', 'stop old drain']);
    expect(d.state).toMatchObject({ phase: 'promoting', weights: { stable: 100, canary: 0 } });
    expect(d.step({ type: 'drained', at: 96_000, pool: 'old' })).toEqual(['finished succeeded']);
    expect(d.state.phase).toBe('succeeded');
    expect(d.state.history.map((h) => h.event)).toEqual([
      'rollout.started',
      'rollout.instances-ready',
      'rollout.step',
      'rollout.step-completed',
      'rollout.step',
      'rollout.step-completed',
      'rollout.promoting',
      'rollout.finished',
    ]);
    // Every decision went to the events log too, with its numbers.
    const records = d.commands.filter((c) => c.type === 'record');
    expect(records.map((c) => c.event)).toEqual(d.state.history.map((h) => h.event));
    expect(records[2]?.data).toMatchObject({
      rolloutId: 'ro-1',
      environment: 'production',
      step: 1,
      of: 2,
      weights: { stable: 90, canary: 10 },
    });
  });

  it('rolls back at once when analysis fails: 100/0, canary drained, reason and numbers recorded', () => {
    const d = new Driver(CANARY);
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 1_000, pool: 'canary' });
    expect(d.step({ type: 'tick', at: 4_000, analysis: FAIL })).toEqual(['weights 100/0', 'stop canary drain']);
    expect(d.state.phase).toBe('rolling-back');
    expect(d.state.reason).toBe('analysis failed: error-rate: 6% errors (6 of 100 requests) is above the 1% bound (p = 1e-4)');
    const record = d.commands.find((c) => c.type === 'record' && c.event === 'rollout.rolling-back');
    expect(record).toMatchObject({
      data: { analysis: { outcome: 'fail', checks: [{ name: 'error-rate', value: 0.06, threshold: 0.01, pValue: 0.0001 }] } },
    });
    expect(nextDeadline(d.state)).toBeNull();
    // Promoting now is a caller bug; aborting is idempotent.
    expect(() => d.send({ type: 'promote', at: 4_500, actor: 'ann' })).toThrow(IllegalTransitionError);
    expect(d.step({ type: 'abort', at: 4_600, actor: 'ann' })).toEqual([]);
    expect(d.step({ type: 'drained', at: 6_000, pool: 'canary' })).toEqual(['finished rolled-back']);
    expect(d.state).toMatchObject({ phase: 'rolled-back', weights: { stable: 100, canary: 0 } });
    expect(d.state.reason).toContain('analysis failed');
  });

  it('pauses on an inconclusive step end, and a resume moves on', () => {
    const d = new Driver(CANARY);
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 0, pool: 'canary' });
    expect(d.step({ type: 'tick', at: 30_000, analysis: INCONCLUSIVE })).toEqual([]);
    expect(d.state).toMatchObject({
      phase: 'paused',
      pausedReason: expect.stringContaining('3 of 20 required'),
      weights: { stable: 90, canary: 10 },
    });
    // Analysis still watches while paused, and a fail still rolls back.
    expect(nextDeadline(d.state)).toBe(31_000);
    expect(d.step({ type: 'resume', at: 40_000, actor: 'ann' })).toEqual(['weights 50/50']);
    expect(d.state).toMatchObject({ phase: 'progressing', stepIndex: 1, pausedReason: null });
  });

  it('continues past an inconclusive step when onInconclusive is continue, and treats no analysis in a step as inconclusive', () => {
    const d = new Driver({ ...CANARY, analysis: { ...ANALYSIS, onInconclusive: 'continue' } });
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 0, pool: 'canary' });
    expect(d.step({ type: 'tick', at: 30_000, analysis: null })).toEqual(['weights 50/50']);
    const strict = new Driver(CANARY);
    strict.send({ type: 'start', at: 0 });
    strict.send({ type: 'instances-ready', at: 0, pool: 'canary' });
    strict.send({ type: 'tick', at: 10_000, analysis: PASS });
    // A pass from the previous step does not count for this one.
    strict.send({ type: 'tick', at: 30_000, analysis: PASS });
    expect(strict.state.stepIndex).toBe(1);
    strict.send({ type: 'tick', at: 90_000, analysis: null });
    expect(strict.state).toMatchObject({ phase: 'paused', pausedReason: expect.stringContaining('no analysis result during the step') });
  });

  it('a manual pause freezes the step clock; promote skips the remaining steps', () => {
    const d = new Driver({ ...CANARY, analysis: undefined });
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 0, pool: 'canary' });
    expect(nextDeadline(d.state)).toBe(30_000);
    d.send({ type: 'pause', at: 10_000, actor: 'ann' });
    expect(d.state).toMatchObject({ phase: 'paused', pausedReason: 'paused by ann' });
    expect(nextDeadline(d.state)).toBeNull();
    expect(d.step({ type: 'tick', at: 50_000, analysis: null })).toEqual([]);
    expect(() => d.send({ type: 'pause', at: 50_000, actor: 'ann' })).toThrow(/not allowed/);
    d.send({ type: 'resume', at: 60_000, actor: 'ann' });
    // 10 s of the step had run; 20 s remain after the resume.
    expect(nextDeadline(d.state)).toBe(80_000);
    expect(d.step({ type: 'promote', at: 61_000, actor: 'bob' })).toEqual(['weights 0/100', 'swap', 'stop old drain']);
    const promoted = d.state.history.find((h) => h.event === 'rollout.promoted');
    expect(promoted?.data).toMatchObject({ actor: 'bob', skippedSteps: 1 });
  });

  it('waits for promote on a step without a pause', () => {
    const d = new Driver({ kind: 'canary', steps: [{ weight: 20, pauseMs: null }], match: [] });
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 0, pool: 'canary' });
    expect(nextDeadline(d.state)).toBeNull();
    d.send({ type: 'tick', at: 10_000_000, analysis: null });
    expect(d.state).toMatchObject({ phase: 'progressing', weights: { stable: 80, canary: 20 } });
  });

  it('abort rolls back with "aborted by <actor>" and ends aborted', () => {
    const d = new Driver(CANARY);
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 0, pool: 'canary' });
    expect(d.step({ type: 'abort', at: 5_000, actor: 'ann', reason: 'wrong build' })).toEqual(['weights 100/0', 'stop canary drain']);
    expect(d.state.reason).toBe('aborted by ann: wrong build');
    expect(d.step({ type: 'drained', at: 6_000, pool: 'canary' })).toEqual(['finished aborted']);
    expect(d.state.phase).toBe('aborted');
  });

  it('fails without touching traffic when the canary never becomes ready', () => {
    const d = new Driver(CANARY);
    d.send({ type: 'start', at: 0 });
    expect(d.step({ type: 'instances-failed', at: 9_000, reason: 'exit 1' })).toEqual(['stop canary', 'finished failed']);
    expect(d.state).toMatchObject({ phase: 'failed', reason: 'new instances failed: exit 1', weights: { stable: 100, canary: 0 } });
  });

  it('waits for approval, and can be aborted before anything starts', () => {
    const d = new Driver(CANARY, { approval: true });
    expect(d.state.phase).toBe('pending-approval');
    expect(d.step({ type: 'start', at: 0 })).toEqual([]);
    expect(() => d.send({ type: 'promote', at: 1, actor: 'x' })).toThrow(IllegalTransitionError);
    expect(d.step({ type: 'approve', at: 100, actor: 'lead' })).toEqual(['start canary rel-2 x2']);
    expect(d.state).toMatchObject({ phase: 'starting', approvedBy: 'lead' });
    expect(() => d.send({ type: 'approve', at: 101, actor: 'lead' })).toThrow(/not waiting for approval/);

    const e = new Driver(CANARY, { approval: true });
    expect(e.step({ type: 'abort', at: 5, actor: 'ann' })).toEqual(['finished aborted']);
    expect(e.state.phase).toBe('aborted');
  });

  it('throws a typed 409 error on illegal moves and never leaves a finished rollout', () => {
    const d = new Driver(CANARY);
    expect(() => d.send({ type: 'promote', at: 0, actor: 'x' })).toThrow(IllegalTransitionError);
    try {
      d.send({ type: 'resume', at: 0, actor: 'x' });
    } catch (error) {
      expect(error).toMatchObject({ code: 'ILLEGAL_TRANSITION', httpStatus: 409 });
    }
    d.send({ type: 'start', at: 0 });
    expect(() => d.send({ type: 'start', at: 1 })).toThrow(/already started/);
    d.send({ type: 'abort', at: 2, actor: 'x' });
    // Aborted before the canary took traffic: stopped at once, nothing to drain.
    expect(d.state.phase).toBe('aborted');
    const final = d.state;
    for (const late of [
      { type: 'tick', at: 4, analysis: FAIL },
      { type: 'abort', at: 4, actor: 'y' },
      { type: 'drained', at: 4, pool: 'canary' },
    ] as RolloutEvent[]) {
      expect(reduceRollout(final, late)).toEqual({ state: final, commands: [] });
    }
    expect(() => reduceRollout(final, { type: 'resume', at: 5, actor: 'y' })).toThrow(IllegalTransitionError);
  });

  it('rejects impossible steps up front', () => {
    expect(() =>
      initialRollout({
        id: 'x',
        environment: 'e',
        releaseId: 'r',
        previousReleaseId: null,
        strategy: { kind: 'canary', steps: [{ weight: 120, pauseMs: 1 }], match: [] },
        approvalRequired: false,
      }),
    ).toThrow(/weight must be within 0..100/);
  });
});

describe('stop (the environment was stopped)', () => {
  /** Drivers in every phase a rollout can be stopped from. */
  function inPhase(phase: RolloutState['phase']): Driver {
    const approval = phase === 'pending-approval';
    const d = new Driver(CANARY, { approval });
    if (approval) return d;
    d.send({ type: 'start', at: 0 });
    if (phase === 'starting') return d;
    d.send({ type: 'instances-ready', at: 1_000, pool: 'canary' });
    if (phase === 'progressing') return d;
    if (phase === 'paused') {
      d.send({ type: 'pause', at: 2_000, actor: 'ann' });
      return d;
    }
    if (phase === 'promoting') {
      d.send({ type: 'promote', at: 2_000, actor: 'ann' });
      return d;
    }
    d.send({ type: 'abort', at: 2_000, actor: 'ann' });
    return d;
  }

  it.each(['pending-approval', 'starting', 'progressing', 'paused', 'promoting', 'rolling-back'] as const)(
    'ends a %s rollout aborted at once, with no instance or weight commands',
    (phase) => {
      const d = inPhase(phase);
      expect(d.state.phase).toBe(phase);
      const before = d.state;
      const commands = d.send({ type: 'stop', at: 9_000, actor: 'ops' });
      const reason = 'aborted by ops: the environment was stopped';
      const data = {
        rolloutId: 'ro-1',
        environment: 'production',
        releaseId: 'rel-2',
        phase: 'aborted',
        reason,
        weights: before.weights,
        actor: 'ops',
      };
      // Exactly what the controller built by hand before (abortedByStop): the rest of the state untouched.
      expect(d.state).toEqual({
        ...before,
        phase: 'aborted',
        reason,
        waitingFor: null,
        ending: null,
        pausedAt: null,
        pausedKind: null,
        pausedReason: null,
        updatedAt: 9_000,
        history: [...before.history, { at: 9_000, event: 'rollout.finished', phase: 'aborted', data }],
      });
      expect(commands).toEqual([
        { type: 'record', event: 'rollout.finished', data },
        { type: 'finished', phase: 'aborted' },
      ]);
      expect(nextDeadline(d.state)).toBeNull();
    },
  );

  it('keeps the traffic split the rollout ended with in its record', () => {
    const d = inPhase('progressing');
    expect(d.state.weights).toEqual({ stable: 90, canary: 10 });
    d.send({ type: 'stop', at: 9_000, actor: 'ops' });
    expect(d.state.weights).toEqual({ stable: 90, canary: 10 });
    expect(d.state.history.at(-1)?.data).toMatchObject({ weights: { stable: 90, canary: 10 } });
  });

  it('is a no-op on a finished rollout, like the other late reports', () => {
    for (const phase of ['succeeded', 'rolled-back', 'aborted', 'failed'] as const) {
      const d = new Driver(CANARY);
      d.send({ type: 'start', at: 0 });
      if (phase === 'failed') d.send({ type: 'instances-failed', at: 1, reason: 'exit 1' });
      else {
        d.send({ type: 'instances-ready', at: 1, pool: 'canary' });
        if (phase === 'succeeded') {
          d.send({ type: 'promote', at: 2, actor: 'a' });
          d.send({ type: 'drained', at: 3, pool: 'old' });
        } else if (phase === 'rolled-back') {
          d.send({ type: 'tick', at: 2, analysis: FAIL });
          d.send({ type: 'drained', at: 3, pool: 'canary' });
        } else d.send({ type: 'stop', at: 2, actor: 'a' });
      }
      expect(d.state.phase).toBe(phase);
      const final = d.state;
      expect(reduceRollout(final, { type: 'stop', at: 10, actor: 'ops' })).toEqual({ state: final, commands: [] });
    }
  });
});

describe('blue-green', () => {
  const strategy: StrategyConfig = { kind: 'blue-green', keepOldMs: 60_000, analysis: ANALYSIS, analysisMs: 30_000 };

  it('switches all traffic at once and keeps the old pool for keepOldMs', () => {
    const d = new Driver(strategy);
    expect(d.step({ type: 'start', at: 0 })).toEqual(['start canary rel-2 x2']);
    expect(d.step({ type: 'instances-ready', at: 2_000, pool: 'canary' })).toEqual(['weights 0/100']);
    expect(d.state).toMatchObject({ phase: 'progressing', stepStartedAt: 2_000 });
    expect(nextDeadline(d.state)).toBe(3_000);
    d.send({ type: 'tick', at: 31_000, analysis: PASS });
    expect(d.state.phase).toBe('progressing');
    expect(d.step({ type: 'tick', at: 62_000, analysis: null })).toEqual(['swap', 'stop old drain']);
    expect(d.state).toMatchObject({ phase: 'promoting', weights: { stable: 100, canary: 0 } });
    expect(d.step({ type: 'drained', at: 63_000, pool: 'old' })).toEqual(['finished succeeded']);
  });

  it('rolls back instantly while the old pool is kept: weights back, new pool drained', () => {
    const d = new Driver(strategy);
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 2_000, pool: 'canary' });
    expect(d.step({ type: 'tick', at: 5_000, analysis: FAIL })).toEqual(['weights 100/0', 'stop canary drain']);
    expect(d.step({ type: 'drained', at: 6_000, pool: 'canary' })).toEqual(['finished rolled-back']);
  });
});

describe('rolling', () => {
  it('replaces instances one at a time with maxSurge 1, maxUnavailable 0', () => {
    const d = new Driver({ kind: 'rolling', maxSurge: 1, maxUnavailable: 0 }, { instances: 3 });
    expect(d.step({ type: 'start', at: 0 })).toEqual(['start canary rel-2 x1']);
    expect(d.state.phase).toBe('progressing');
    expect(d.step({ type: 'instances-ready', at: 1, pool: 'canary' })).toEqual([
      'weights 67/33',
      'stop stable drain x1',
      'start canary rel-2 x1',
    ]);
    expect(d.step({ type: 'instances-ready', at: 2, pool: 'canary' })).toEqual([
      'weights 33/67',
      'stop stable drain x1',
      'start canary rel-2 x1',
    ]);
    expect(d.step({ type: 'instances-ready', at: 3, pool: 'canary' })).toEqual(['weights 0/100', 'stop stable drain x1', 'swap']);
    // It ends once the last old instance drained, not while it still serves its in-flight requests.
    expect(d.state).toMatchObject({ phase: 'promoting', weights: { stable: 100, canary: 0 } });
    expect(d.step({ type: 'drained', at: 4, pool: 'stable' })).toEqual(['finished succeeded']);
    expect(d.state.phase).toBe('succeeded');
  });

  it('stops first with maxSurge 0, maxUnavailable 1, never below instances − 1 serving', () => {
    const d = new Driver({ kind: 'rolling', maxSurge: 0, maxUnavailable: 1 }, { instances: 2 });
    expect(d.step({ type: 'start', at: 0 })).toEqual(['stop stable drain x1', 'start canary rel-2 x1']);
    expect(d.step({ type: 'instances-ready', at: 1, pool: 'canary' })).toEqual([
      'weights 0/100',
      'stop stable drain x1',
      'start canary rel-2 x1',
    ]);
    expect(d.step({ type: 'instances-ready', at: 2, pool: 'canary' })).toEqual(['swap', 'finished succeeded']);
  });

  it('restores the stopped old instances when new ones fail, then drains the new', () => {
    const d = new Driver({ kind: 'rolling', maxSurge: 1, maxUnavailable: 0 }, { instances: 3 });
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'instances-ready', at: 1, pool: 'canary' });
    expect(d.step({ type: 'instances-failed', at: 2, reason: 'readiness timed out' })).toEqual(['weights 100/0', 'start stable rel-1 x1']);
    expect(d.state.phase).toBe('rolling-back');
    expect(d.step({ type: 'instances-ready', at: 3, pool: 'stable' })).toEqual(['stop canary drain']);
    expect(d.step({ type: 'drained', at: 4, pool: 'canary' })).toEqual(['finished rolled-back']);
    expect(d.state.weights).toEqual({ stable: 100, canary: 0 });
  });

  it('keeps traffic on the new instances while the old ones restart, when none are left', () => {
    const d = new Driver({ kind: 'rolling', maxSurge: 0, maxUnavailable: 2 }, { instances: 3 });
    expect(d.step({ type: 'start', at: 0 })).toEqual(['stop stable drain x2', 'start canary rel-2 x2']);
    expect(d.step({ type: 'instances-ready', at: 1, pool: 'canary' })).toEqual([
      'weights 0/100',
      'stop stable drain x1',
      'start canary rel-2 x1',
    ]);
    expect(d.step({ type: 'abort', at: 2, actor: 'ann' })).toEqual(['start stable rel-1 x3']);
    expect(d.state).toMatchObject({ phase: 'rolling-back', weights: { stable: 0, canary: 100 } });
    // The last new batch turning ready now changes nothing: the rollout waits for stable.
    expect(d.step({ type: 'instances-ready', at: 3, pool: 'canary' })).toEqual([]);
    expect(d.step({ type: 'instances-ready', at: 4, pool: 'stable' })).toEqual(['weights 100/0', 'stop canary drain']);
    expect(d.step({ type: 'drained', at: 5, pool: 'canary' })).toEqual(['finished aborted']);
  });
});

describe('recreate', () => {
  it('stops the old pool, then starts the new one', () => {
    const d = new Driver({ kind: 'recreate' });
    expect(d.step({ type: 'start', at: 0 })).toEqual(['stop stable drain']);
    expect(d.step({ type: 'drained', at: 1, pool: 'stable' })).toEqual(['start canary rel-2 x2']);
    expect(d.step({ type: 'instances-ready', at: 2, pool: 'canary' })).toEqual(['weights 0/100', 'swap', 'finished succeeded']);
    expect(d.state.weights).toEqual({ stable: 100, canary: 0 });
  });

  it('brings the previous release back when the new one fails to start', () => {
    const d = new Driver({ kind: 'recreate' });
    d.send({ type: 'start', at: 0 });
    d.send({ type: 'drained', at: 1, pool: 'stable' });
    expect(d.step({ type: 'instances-failed', at: 2, reason: 'exit 127' })).toEqual(['start stable rel-1 x2']);
    expect(d.step({ type: 'instances-ready', at: 3, pool: 'stable' })).toEqual(['stop canary drain']);
    expect(d.step({ type: 'drained', at: 4, pool: 'canary' })).toEqual(['finished rolled-back']);
  });
});

describe('first deploy and rollback', () => {
  it('a first deploy of any strategy starts, waits for ready, and goes live', () => {
    for (const strategy of [CANARY, { kind: 'rolling', maxSurge: 1, maxUnavailable: 0 }, { kind: 'recreate' }] as StrategyConfig[]) {
      const d = new Driver(strategy, { previous: null });
      expect(d.step({ type: 'start', at: 0 })).toEqual(['start canary rel-2 x2']);
      expect(d.step({ type: 'instances-ready', at: 1, pool: 'canary' })).toEqual(['weights 0/100', 'swap', 'finished succeeded']);
    }
  });

  it('gantry rollback is an instant blue-green back to the previous release', () => {
    let state = initialRollback({
      id: 'rb-1',
      environment: 'production',
      currentReleaseId: 'rel-2',
      previousReleaseId: 'rel-1',
      instances: 2,
    });
    expect(state).toMatchObject({
      releaseId: 'rel-1',
      previousReleaseId: 'rel-2',
      phase: 'starting',
      strategy: { kind: 'blue-green', keepOldMs: 0 },
    });
    const commands: string[] = [];
    for (const event of [
      { type: 'start', at: 0 },
      { type: 'instances-ready', at: 1_000, pool: 'canary' },
      { type: 'drained', at: 2_000, pool: 'old' },
    ] as RolloutEvent[]) {
      const t = reduceRollout(state, event);
      state = t.state;
      commands.push(...t.commands.filter((c) => c.type !== 'record').map(show));
    }
    expect(commands).toEqual(['start canary rel-1 x2', 'weights 0/100', 'swap', 'stop old drain', 'finished succeeded']);
    expect(state.phase).toBe('succeeded');
  });
});

describe('random event sequences (property)', () => {
  const strategies: StrategyConfig[] = [
    CANARY,
    { ...CANARY, analysis: { ...ANALYSIS, onInconclusive: 'continue' } },
    {
      kind: 'canary',
      steps: [
        { weight: 0, pauseMs: 0 },
        { weight: 100, pauseMs: null },
      ],
      match: [],
    },
    { kind: 'blue-green', keepOldMs: 5_000, analysis: ANALYSIS, analysisMs: 3_000 },
    { kind: 'blue-green', keepOldMs: 0, analysisMs: 0 },
    { kind: 'rolling', maxSurge: 1, maxUnavailable: 0 },
    { kind: 'rolling', maxSurge: 2, maxUnavailable: 1 },
    { kind: 'rolling', maxSurge: 0, maxUnavailable: 0 },
    { kind: 'recreate' },
  ];

  function randomEvent(random: () => number, at: number): RolloutEvent {
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
    const pool = pick(['canary', 'stable'] as const);
    switch (Math.floor(random() * 11)) {
      case 0:
        return { type: 'start', at };
      case 1:
        return { type: 'approve', at, actor: 'a' };
      case 2:
        return { type: 'instances-ready', at, pool };
      case 3:
        return { type: 'instances-failed', at, reason: 'boom', ...(random() < 0.5 ? { pool } : {}) };
      case 4:
        return { type: 'tick', at, analysis: pick([PASS, INCONCLUSIVE, FAIL, null, PASS, PASS]) };
      case 5:
        return { type: 'promote', at, actor: 'a' };
      case 6:
        return { type: 'pause', at, actor: 'a' };
      case 7:
        return { type: 'resume', at, actor: 'a' };
      case 8:
        return { type: 'abort', at, actor: 'a' };
      case 9:
        return { type: 'stop', at, actor: 'a' };
      default:
        return { type: 'drained', at, pool: pick(['canary', 'stable', 'old'] as const) };
    }
  }

  it('keeps weights within 0..100 summing to 100, never leaves a final phase, and ends rollbacks at 100/0', () => {
    const random = seededRandom(42);
    let finals = 0;
    for (let trial = 0; trial < 600; trial++) {
      const strategy = strategies[trial % strategies.length] as StrategyConfig;
      let state = deepFreeze(
        initialRollout({
          id: `ro-${trial}`,
          environment: 'e',
          releaseId: 'new',
          previousReleaseId: random() < 0.2 ? null : 'old',
          strategy,
          approvalRequired: random() < 0.3,
          instances: 1 + Math.floor(random() * 4),
        }),
      );
      let at = 0;
      let finishedCount = 0;
      for (let i = 0; i < 60; i++) {
        at += Math.floor(random() * 20_000);
        const event = randomEvent(random, at);
        const before = state;
        let commands: RolloutCommand[];
        try {
          const t = reduceRollout(state, event);
          state = deepFreeze(t.state);
          commands = t.commands;
        } catch (error) {
          expect(error).toBeInstanceOf(IllegalTransitionError);
          continue;
        }
        // Plain checks in the hot loop (expect() per event would dominate the run time).
        const where = `${strategy.kind} trial ${trial}, ${event.type} → ${state.phase}`;
        const { stable, canary } = state.weights;
        if (stable + canary !== 100 || stable < 0 || canary < 0) throw new Error(`weights ${stable}/${canary} after ${where}`);
        for (const c of commands) {
          if (c.type === 'set-weights' && (c.stable + c.canary !== 100 || c.stable < 0 || c.canary < 0))
            throw new Error(`set-weights ${c.stable}/${c.canary} after ${where}`);
        }
        if (isFinalRollout(before.phase) && (state !== before || commands.length > 0)) throw new Error(`a final rollout moved: ${where}`);
        finishedCount += commands.filter((c) => c.type === 'finished').length;
        // While rolling back, traffic may stay on new instances until stopped old ones are back; once draining, it is all on stable.
        const draining = state.phase === 'rolling-back' && state.waitingFor?.event === 'drained';
        const back = state.phase === 'rolled-back' || state.phase === 'succeeded' || draining;
        if (back && (stable !== 100 || canary !== 0)) throw new Error(`weights ${stable}/${canary} in ${where}`);
        if (isFinalRollout(state.phase) && nextDeadline(state) !== null) throw new Error(`a deadline on a final rollout: ${where}`);
      }
      expect(finishedCount).toBe(isFinalRollout(state.phase) ? 1 : 0);
      if (isFinalRollout(state.phase)) finals++;
    }
    // The sequences reach the ends, not just the illegal-move branches.
    expect(finals).toBeGreaterThan(300);
  });
});
