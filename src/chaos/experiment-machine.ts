/**
 * A chaos experiment's run as a pure reducer, like a rollout's (src/delivery/rollout-machine.ts):
 * state and event in, new state and commands out. The server's runner owns the I/O — it checks the
 * guard, reads the proxy's metrics, sets and clears the faults — persists each transition BEFORE
 * carrying out its commands, and calls back with a `tick` every second while faults are in. Time
 * only enters through events (`at`, ms since the epoch), so a run replays identically.
 *
 * Phases: guard → before (the steady state over the traffic just before) → injecting → watching
 * (the hypothesis every second) → reverting → after (the steady state once the faults are out) →
 * finished. The verdict: `held`, `broken` (a look saw the hypothesis fail: the faults are reverted
 * at once), or `aborted` (the guard refused, the steady state did not hold before, someone
 * aborted it, the server stopped mid-way, or a fault could not be set).
 */
import type { AppliedInstanceFault, ExperimentConfig, ProxyFault } from '../core/chaos-config.ts';
import { IllegalTransitionError } from '../pipeline/run-reducer.ts';
import type { HypothesisResult } from './hypothesis.ts';

export type ExperimentPhase = 'guard' | 'before' | 'injecting' | 'watching' | 'reverting' | 'after' | 'finished';
export type ExperimentVerdict = 'held' | 'broken' | 'aborted';

/** How often the hypothesis is looked at while the faults are in. */
export const WATCH_INTERVAL_MS = 1000;

/** Requests the faults took (`affected`) and left alone (`unaffected`), as the proxy counted them. */
export interface BlastRadiusCounts {
  affected: number;
  unaffected: number;
  /** Per fault, in config order. */
  byFault: number[];
  /**
   * The failed requests by name (the first MAX_FAILED_KEPT of each side): when, which, the status
   * (0: the connection was cut), and whether a fault took it (inside) or not — so a record that
   * says "n failed" also says which and why.
   */
  failed?: { at: number; method: string; target: string; status: number; inside: boolean }[];
}

/** One look at the hypothesis during the run, kept for the chart (bounded: see MAX_LOOKS). */
export interface HypothesisLook {
  at: number;
  outcome: HypothesisResult['outcome'];
  requests: number;
  errors: number;
  /** Each check's value, by check name (null when there was too little traffic). */
  values: Record<string, number | null>;
}

export interface ExperimentState {
  id: string;
  name: string;
  environment: string;
  configHash: string;
  /** The release the environment ran when it started. */
  release: string | null;
  config: ExperimentConfig;
  phase: ExperimentPhase;
  verdict: ExperimentVerdict | null;
  /** Why it ended as it did, in one line. */
  reason: string | null;
  startedAt: number;
  injectedAt: number | null;
  /** When the faults come out by themselves, whoever is there to take them out. */
  deadlineAt: number | null;
  revertedAt: number | null;
  finishedAt: number | null;
  /** The evaluation that saw the hypothesis broken. */
  brokenAt: number | null;
  before: HypothesisResult | null;
  during: HypothesisResult | null;
  after: HypothesisResult | null;
  counts: BlastRadiusCounts | null;
  /** The instance faults as applied (which instances; what a lasting one left to undo). */
  instances: AppliedInstanceFault[];
  looks: HypothesisLook[];
}

export type ExperimentEvent =
  | { type: 'guard-checked'; at: number; problems: string[] }
  | { type: 'steady-state'; at: number; result: HypothesisResult }
  | { type: 'faults-set'; at: number; instances?: AppliedInstanceFault[] }
  | { type: 'fault-failed'; at: number; message: string }
  | { type: 'evaluated'; at: number; result: HypothesisResult; counts: BlastRadiusCounts }
  | { type: 'tick'; at: number }
  | { type: 'abort'; at: number; reason: string }
  | { type: 'faults-cleared'; at: number; counts: BlastRadiusCounts | null };

export type ExperimentCommand =
  | { type: 'check-guard' }
  | { type: 'measure'; sinceMs: number; untilMs: number }
  | { type: 'set-faults'; faults: ProxyFault[]; deadlineAt: number }
  | { type: 'clear-faults' }
  | { type: 'record'; event: string; data: Record<string, unknown> };

export interface ExperimentTransition {
  state: ExperimentState;
  commands: ExperimentCommand[];
}

/** The looks kept for the chart: one a second for an hour; longer runs keep the latest. */
export const MAX_LOOKS = 3600;

export interface InitialExperimentOptions {
  id: string;
  config: ExperimentConfig;
  configHash: string;
  release: string | null;
  at: number;
}

/** A run that has just been asked for: its first command checks the guard. */
export function initialExperiment(o: InitialExperimentOptions): ExperimentTransition {
  const state: ExperimentState = {
    id: o.id,
    name: o.config.name,
    environment: o.config.environment,
    configHash: o.configHash,
    release: o.release,
    config: o.config,
    phase: 'guard',
    verdict: null,
    reason: null,
    startedAt: o.at,
    injectedAt: null,
    deadlineAt: null,
    revertedAt: null,
    finishedAt: null,
    brokenAt: null,
    before: null,
    during: null,
    after: null,
    counts: null,
    instances: [],
    looks: [],
  };
  return {
    state,
    commands: [
      {
        type: 'record',
        event: 'experiment.started',
        data: { configHash: o.configHash, release: o.release, faults: o.config.faults, instanceFaults: o.config.instanceFaults ?? [] },
      },
      { type: 'check-guard' },
    ],
  };
}

export function isFinishedExperiment(state: ExperimentState): boolean {
  return state.phase === 'finished';
}

/** Whether faults may be in the proxy in this phase (what a restarted server must clear). */
export function faultsMayBeSet(state: ExperimentState): boolean {
  return state.phase === 'injecting' || state.phase === 'watching' || state.phase === 'reverting';
}

/** One step of the run. Throws IllegalTransitionError on an event its phase does not take. */
export function reduceExperiment(state: ExperimentState, event: ExperimentEvent): ExperimentTransition {
  if (state.phase === 'finished') throw illegal(state, event);
  switch (event.type) {
    case 'guard-checked':
      return onGuard(state, event);
    case 'steady-state':
      return onSteadyState(state, event);
    case 'faults-set':
      if (state.phase !== 'injecting') throw illegal(state, event);
      return {
        state: {
          ...state,
          phase: 'watching',
          injectedAt: event.at,
          deadlineAt: event.at + state.config.durationMs,
          instances: event.instances ?? [],
        },
        commands: [
          {
            type: 'record',
            event: 'experiment.injected',
            data: { at: event.at, faults: state.config.faults, instanceFaults: event.instances ?? [] },
          },
        ],
      };
    case 'fault-failed':
      if (state.phase !== 'injecting') throw illegal(state, event);
      return revert({ ...state, verdict: 'aborted', reason: `the faults could not be set: ${event.message}` }, event.at);
    case 'evaluated':
      return onEvaluated(state, event);
    case 'tick':
      if (state.phase === 'watching' && state.deadlineAt !== null && event.at >= state.deadlineAt)
        return revert({ ...state, verdict: 'held', reason: 'the hypothesis held for the whole duration' }, event.at);
      return { state, commands: [] };
    case 'abort':
      return onAbort(state, event);
    case 'faults-cleared':
      if (state.phase !== 'reverting') throw illegal(state, event);
      return {
        state: { ...state, phase: 'after', revertedAt: event.at, counts: event.counts ?? state.counts },
        commands: [
          { type: 'record', event: 'experiment.reverted', data: { at: event.at, counts: event.counts ?? state.counts } },
          { type: 'measure', sinceMs: event.at, untilMs: event.at + state.config.afterMs },
        ],
      };
  }
}

function onGuard(state: ExperimentState, event: Extract<ExperimentEvent, { type: 'guard-checked' }>): ExperimentTransition {
  if (state.phase !== 'guard') throw illegal(state, event);
  if (event.problems.length > 0)
    return finish({ ...state, verdict: 'aborted', reason: `the guard refused: ${event.problems.join('; ')}` }, event.at);
  return {
    state: { ...state, phase: 'before' },
    commands: [{ type: 'measure', sinceMs: event.at - state.config.beforeMs, untilMs: event.at }],
  };
}

function onSteadyState(state: ExperimentState, event: Extract<ExperimentEvent, { type: 'steady-state' }>): ExperimentTransition {
  if (state.phase === 'before') {
    if (event.result.outcome === 'broken')
      return finish(
        { ...state, before: event.result, verdict: 'aborted', reason: 'the steady state did not hold before the faults' },
        event.at,
      );
    return {
      state: { ...state, phase: 'injecting', before: event.result },
      commands: [{ type: 'set-faults', faults: state.config.faults, deadlineAt: event.at + state.config.durationMs }],
    };
  }
  if (state.phase === 'after') return finish({ ...state, after: event.result }, event.at);
  throw illegal(state, event);
}

function onEvaluated(state: ExperimentState, event: Extract<ExperimentEvent, { type: 'evaluated' }>): ExperimentTransition {
  // A look that was already under way when the run moved on is harmless: its numbers are kept.
  if (state.phase !== 'watching') {
    if (state.phase === 'reverting' || state.phase === 'after') return { state, commands: [] };
    throw illegal(state, event);
  }
  const look: HypothesisLook = {
    at: event.at,
    outcome: event.result.outcome,
    requests: event.result.requests,
    errors: event.result.errors,
    values: Object.fromEntries(event.result.checks.map((c) => [c.name, c.value])),
  };
  const looks = state.looks.length >= MAX_LOOKS ? [...state.looks.slice(1), look] : [...state.looks, look];
  const next: ExperimentState = { ...state, during: event.result, counts: event.counts, looks };
  if (event.result.outcome === 'broken') {
    const failed = event.result.checks.filter((c) => c.outcome === 'fail').map((c) => `${c.name}: ${c.reason}`);
    return revert({ ...next, verdict: 'broken', brokenAt: event.at, reason: `the hypothesis broke — ${failed.join('; ')}` }, event.at);
  }
  if (state.deadlineAt !== null && event.at >= state.deadlineAt)
    return revert({ ...next, verdict: 'held', reason: 'the hypothesis held for the whole duration' }, event.at);
  return { state: next, commands: [] };
}

function onAbort(state: ExperimentState, event: Extract<ExperimentEvent, { type: 'abort' }>): ExperimentTransition {
  if (state.phase === 'reverting' || state.phase === 'after') {
    // Already on its way out: the abort only changes the verdict if none was reached yet.
    return { state: state.verdict === null ? { ...state, verdict: 'aborted', reason: event.reason } : state, commands: [] };
  }
  const aborted = { ...state, verdict: 'aborted' as const, reason: event.reason };
  if (state.phase === 'injecting' || state.phase === 'watching') return revert(aborted, event.at);
  return finish(aborted, event.at);
}

/** The faults come out: the first command is to clear them, before anything else is recorded. */
function revert(state: ExperimentState, at: number): ExperimentTransition {
  return {
    state: { ...state, phase: 'reverting' },
    commands: [
      { type: 'clear-faults' },
      { type: 'record', event: 'experiment.halting', data: { at, verdict: state.verdict, reason: state.reason } },
    ],
  };
}

function finish(state: ExperimentState, at: number): ExperimentTransition {
  const done: ExperimentState = { ...state, phase: 'finished', finishedAt: at, verdict: state.verdict ?? 'aborted' };
  return { state: done, commands: [{ type: 'record', event: 'experiment.finished', data: experimentRecord(done) }] };
}

/**
 * What the event log keeps of a finished run: the config hash, environment, release, the faults
 * as applied, requests affected and unaffected, the hypothesis's numbers before, during and after,
 * and the verdict.
 */
export function experimentRecord(s: ExperimentState): Record<string, unknown> {
  const numbers = (r: HypothesisResult | null) =>
    r === null ? null : { outcome: r.outcome, requests: r.requests, errors: r.errors, checks: r.checks };
  return {
    experimentId: s.id,
    name: s.name,
    environment: s.environment,
    configHash: s.configHash,
    release: s.release,
    faults: s.config.faults,
    instanceFaults: s.instances,
    verdict: s.verdict,
    reason: s.reason,
    startedAt: s.startedAt,
    injectedAt: s.injectedAt,
    revertedAt: s.revertedAt,
    finishedAt: s.finishedAt,
    brokenAt: s.brokenAt,
    affected: s.counts?.affected ?? 0,
    unaffected: s.counts?.unaffected ?? 0,
    failedRequests: s.counts?.failed ?? [],
    before: numbers(s.before),
    during: numbers(s.during),
    after: numbers(s.after),
  };
}

function illegal(state: ExperimentState, event: ExperimentEvent): IllegalTransitionError {
  return new IllegalTransitionError(`experiment ${state.id} cannot take '${event.type}' in phase ${state.phase}`, {
    phase: state.phase,
    event: event.type,
  });
}
