/**
 * A rollout as a pure reducer: state and event in, new state and commands out. The controller
 * owns the I/O — it starts and stops instances (supervisor), sets weights (proxy route table),
 * computes analysis windows, persists each transition BEFORE carrying out its commands, and
 * calls back with a `tick` by `nextDeadline(state)`. Time only enters through events (`at`, ms
 * since the epoch), so a rollout replays identically after a crash.
 *
 * Pools, as commands and events name them: `stable` serves the current release, `canary` the
 * new one (also the green pool of blue-green and the new instances of rolling and recreate);
 * `swap-pools` renames canary → stable at promotion, after which the previous stable pool is
 * `old`. Weights are percentages of traffic and always sum to 100.
 *
 * How each strategy moves (every decision is also a `record` command and a `history` entry):
 * - canary: start canary → ready → step i sets canary wᵢ / stable 100−wᵢ for pauseMs (null =
 *   until promote), analysis on every tick: a fail rolls back at once (100/0, canary drained);
 *   inconclusive at a step's end pauses (onInconclusive 'pause') or moves on. After the last
 *   step (or a manual promote): promoting = 0/100, swap-pools, drain old → succeeded.
 * - blue-green: start canary → ready → 0/100 at once; the old pool stays for
 *   max(keepOldMs, analysisMs), during which a rollback only moves the weights back.
 * - rolling: batches by maxSurge/maxUnavailable (start-instances canary count, stop-instances
 *   stable count), weights proportional to ready instances; ends with swap-pools.
 * - recreate: drain stable → start canary → ready → swap-pools (downtime by definition).
 * - first deploy (no previous release), any strategy: start → ready → swap-pools.
 * A rollback restores what was stopped (start-instances stable with the previous release), moves
 * all traffic to stable, drains the canary, then ends rolled-back / aborted. `initialRollback`
 * builds the `gantry rollback` of a finished rollout. A `stop` (the environment was stopped)
 * ends any unfinished rollout `aborted` at once, leaving the instances and the proxy to the stop.
 */
import { InputError } from '../core/errors.ts';
import type { StrategyConfig } from '../core/delivery-config.ts';
// The run reducer's error: one class (code ILLEGAL_TRANSITION, HTTP 409) for every lifecycle.
import { IllegalTransitionError } from '../pipeline/run-reducer.ts';
import type { AnalysisCheck, AnalysisResult } from './analysis.ts';
import { type FinalRolloutPhase, isFinalRollout, type RolloutPhase } from '../core/rollout-phase.ts';

export { FINAL_ROLLOUT_PHASES, type FinalRolloutPhase, isFinalRollout, type RolloutPhase } from '../core/rollout-phase.ts';
export type Pool = 'canary' | 'stable';
export type DrainPool = 'canary' | 'stable' | 'old';

/** How often the controller should evaluate analysis while a canary takes traffic. */
export const ANALYSIS_INTERVAL_MS = 1000;

/** One decision, as it goes to the events log: `event` is the record's name, `data` its numbers. */
export interface RolloutHistoryEntry {
  at: number;
  event: string;
  /** The phase after the decision. */
  phase: RolloutPhase;
  data: Record<string, unknown>;
}

/** Progress of a rolling update, in instances. */
export interface RollingProgress {
  /** Old-release instances still running in the stable pool. */
  oldRemaining: number;
  /** New-release instances ready in the canary pool. */
  newReady: number;
  /** New-release instances asked for and not yet reported ready (one batch at a time). */
  newStarting: number;
}

/** Everything the reducer needs; what the store persists per rollout (plain JSON). */
export interface RolloutState {
  id: string;
  environment: string;
  releaseId: string;
  previousReleaseId: string | null;
  strategy: StrategyConfig;
  phase: RolloutPhase;
  /** Index into the canary steps (0 for other strategies). */
  stepIndex: number;
  /** Percent of traffic per pool; always sums to 100. */
  weights: { stable: number; canary: number };
  /** When the current step began (blue-green: when traffic switched); the base of step deadlines. */
  stepStartedAt: number | null;
  pausedReason: string | null;
  lastAnalysis: AnalysisResult | null;
  /** Why the rollout is rolling back or ended as it did. */
  reason: string | null;
  history: RolloutHistoryEntry[];
  /** Desired instance count of the service in this environment. */
  instances: number;
  /** When instances were first asked for (after approval). */
  startedAt: number | null;
  /** Time of the last event applied; the base of the analysis cadence. */
  updatedAt: number | null;
  lastAnalysisAt: number | null;
  /** When a pause began, so a resume restores the rest of the step. */
  pausedAt: number | null;
  /** 'inconclusive': paused by the analysis at a step's end — a resume moves to the next step. */
  pausedKind: 'manual' | 'inconclusive' | null;
  /** The controller report the rollout waits for to move on (ticks and actions aside). */
  waitingFor: { event: 'instances-ready' | 'drained'; pool: DrainPool } | null;
  /** Where a rolling-back rollout ends once the canary is drained. */
  ending: 'rolled-back' | 'aborted' | null;
  /** Stable instances this rollout stopped (recreate, rolling): what a rollback starts again. */
  stableMissing: number;
  /** Whether the canary pool has taken traffic (so a rollback drains it rather than just stopping it). */
  canaryRouted: boolean;
  rolling: RollingProgress | null;
  approvedBy: string | null;
}

/** What happened: reported by the controller (instances, timers) and the API (people). */
export type RolloutEvent =
  | { type: 'start'; at: number }
  | { type: 'approve'; at: number; actor: string }
  /** One per `start-instances` command, once all its instances pass readiness. */
  | { type: 'instances-ready'; at: number; pool: Pool }
  /** Instances of `pool` (default: the pool being started, else the canary) failed to start or keep running. */
  | { type: 'instances-failed'; at: number; reason: string; pool?: Pool }
  /** Time passed; `analysis` is the latest evaluation (null when none was computed). */
  | { type: 'tick'; at: number; analysis: AnalysisResult | null }
  | { type: 'promote'; at: number; actor: string }
  | { type: 'pause'; at: number; actor: string }
  | { type: 'resume'; at: number; actor: string }
  | { type: 'abort'; at: number; actor: string; reason?: string }
  /**
   * The rollout's environment was stopped (POST …/environments/:env/stop): the rollout ends `aborted` at once,
   * from any phase, without the roll-back path. The environment stop itself stops every instance
   * and closes the proxy, so this event asks for no instance or weight commands (see `onStop`).
   */
  | { type: 'stop'; at: number; actor: string }
  /** One per `stop-instances` with drain, once its in-flight requests finished. */
  | { type: 'drained'; at: number; pool: DrainPool };

/** What the controller must do, in order; the reducer itself never does I/O. */
export type RolloutCommand =
  /** Start `count` instances (default: all `instances`) of `releaseId` in the pool; answer with `instances-ready` or `instances-failed`. */
  | { type: 'start-instances'; pool: Pool; releaseId: string; count?: number }
  | { type: 'set-weights'; stable: number; canary: number }
  /** Stop `count` instances (default: all) of the pool, after draining them if `drain`; answer a drain with `drained`. */
  | { type: 'stop-instances'; pool: DrainPool; drain: boolean; count?: number }
  /** The canary pool becomes the stable one; the previous stable pool becomes `old`. Weights are stable 100 / canary 0 after it. */
  | { type: 'swap-pools' }
  /** Append to the events log. */
  | { type: 'record'; event: string; data: Record<string, unknown> }
  /** The rollout is final; emitted exactly once. */
  | { type: 'finished'; phase: FinalRolloutPhase };

/** The result of one event. */
export interface RolloutTransition {
  state: RolloutState;
  commands: RolloutCommand[];
}

export { IllegalTransitionError };

export interface InitialRolloutOptions {
  id: string;
  environment: string;
  releaseId: string;
  /** The release the environment runs now; null for its first deploy. */
  previousReleaseId: string | null;
  strategy: StrategyConfig;
  approvalRequired: boolean;
  /** Instances of the service in this environment (default 1). */
  instances?: number;
}

/** A rollout as created: nothing started, waiting for `start` (or for `approve` first). */
export function initialRollout(o: InitialRolloutOptions): RolloutState {
  const instances = o.instances ?? 1;
  if (!Number.isInteger(instances) || instances < 1) throw new InputError(`instances must be a positive integer (got ${instances})`);
  validateStrategy(o.strategy);
  return {
    id: o.id,
    environment: o.environment,
    releaseId: o.releaseId,
    previousReleaseId: o.previousReleaseId,
    strategy: o.strategy,
    phase: o.approvalRequired ? 'pending-approval' : 'starting',
    stepIndex: 0,
    weights: { stable: 100, canary: 0 },
    stepStartedAt: null,
    pausedReason: null,
    lastAnalysis: null,
    reason: null,
    history: [],
    instances,
    startedAt: null,
    updatedAt: null,
    lastAnalysisAt: null,
    pausedAt: null,
    pausedKind: null,
    waitingFor: null,
    ending: null,
    stableMissing: 0,
    canaryRouted: false,
    rolling: null,
    approvedBy: null,
  };
}

/**
 * `gantry rollback`: a new rollout back to the previous release, as blue-green with nothing
 * kept and no analysis — start the previous release's instances, switch all traffic the moment
 * they are ready, drain the current ones. Chosen over recreate (which drops requests while
 * nothing runs) and over a canary (which would make the way back as slow as the way in); no
 * approval, since going back is the safe direction.
 */
export function initialRollback(o: {
  id: string;
  environment: string;
  currentReleaseId: string;
  previousReleaseId: string;
  instances?: number;
}): RolloutState {
  return initialRollout({
    id: o.id,
    environment: o.environment,
    releaseId: o.previousReleaseId,
    previousReleaseId: o.currentReleaseId,
    strategy: { kind: 'blue-green', keepOldMs: 0, analysisMs: 0 },
    approvalRequired: false,
    ...(o.instances === undefined ? {} : { instances: o.instances }),
  });
}

/**
 * Applies one event. Never mutates `state`. Throws IllegalTransitionError (409) for moves the
 * lifecycle forbids. Reports that can arrive late or twice (tick, drained, instances-ready,
 * instances-failed, abort, stop) are no-ops where they no longer apply — on a finished rollout above
 * all — so timers and supervisors need no coordination with the reducer.
 */
export function reduceRollout(state: RolloutState, event: RolloutEvent): RolloutTransition {
  if (isFinalRollout(state.phase)) {
    if (
      event.type === 'tick' ||
      event.type === 'abort' ||
      event.type === 'stop' ||
      event.type === 'drained' ||
      event.type === 'instances-ready' ||
      event.type === 'instances-failed'
    ) {
      return { state, commands: [] };
    }
    throw illegal(state, event);
  }
  const d = new Draft(state, event.at);
  switch (event.type) {
    case 'start':
      onStart(d, event);
      break;
    case 'approve':
      if (d.s.phase !== 'pending-approval') throw illegal(state, event, 'it is not waiting for approval');
      d.s.approvedBy = event.actor;
      d.s.phase = 'starting';
      d.note('rollout.approved', { actor: event.actor });
      begin(d);
      break;
    case 'instances-ready':
      onReady(d, event.pool);
      break;
    case 'instances-failed':
      onInstancesFailed(d, event);
      break;
    case 'drained':
      onDrained(d, event.pool);
      break;
    case 'tick':
      onTick(d, event.analysis);
      break;
    case 'promote':
      onPromote(d, event);
      break;
    case 'pause':
      onPause(d, event);
      break;
    case 'resume':
      onResume(d, event);
      break;
    case 'abort':
      onAbort(d, event);
      break;
    case 'stop':
      onStop(d, event);
      break;
  }
  return d.result();
}

/**
 * When the controller should tick at the latest: the end of the current step (or of the
 * blue-green hold), and while analysis runs on live traffic, ANALYSIS_INTERVAL_MS after the last
 * event. Null when the rollout only moves on reports or actions. Ticking earlier is harmless.
 */
export function nextDeadline(state: RolloutState): number | null {
  const strategy = state.strategy;
  if (strategy.kind !== 'canary' && strategy.kind !== 'blue-green') return null;
  if (state.phase !== 'progressing' && state.phase !== 'paused') return null;
  const base = state.updatedAt ?? state.stepStartedAt;
  const cadence = strategy.analysis !== undefined && base !== null ? base + ANALYSIS_INTERVAL_MS : null;
  if (state.phase === 'paused') return cadence;
  const end = stepEndsAt(state);
  if (end === null) return cadence;
  return cadence === null ? end : Math.min(end, cadence);
}

// ---------------------------------------------------------------- transitions

function onStart(d: Draft, event: { type: 'start'; at: number }): void {
  if (d.s.phase === 'pending-approval') {
    d.note('rollout.awaiting-approval', { releaseId: d.s.releaseId });
    return;
  }
  if (d.s.phase !== 'starting' || d.s.startedAt !== null) throw illegal(d.base, event, 'it has already started');
  begin(d);
}

/** Asks for the first instances (after approval, if any). */
function begin(d: Draft): void {
  const s = d.s;
  s.startedAt = d.at;
  d.note('rollout.started', {
    releaseId: s.releaseId,
    previousReleaseId: s.previousReleaseId,
    strategy: s.strategy.kind,
    instances: s.instances,
  });
  if (s.previousReleaseId === null) {
    startCanary(d, s.instances);
    return;
  }
  switch (s.strategy.kind) {
    case 'canary':
    case 'blue-green':
      startCanary(d, s.instances);
      return;
    case 'recreate':
      s.stableMissing = s.instances;
      d.push({ type: 'stop-instances', pool: 'stable', drain: true });
      s.waitingFor = { event: 'drained', pool: 'stable' };
      return;
    case 'rolling':
      s.phase = 'progressing';
      s.rolling = { oldRemaining: s.instances, newReady: 0, newStarting: 0 };
      advanceRolling(d);
      return;
  }
}

function startCanary(d: Draft, count: number): void {
  d.push({ type: 'start-instances', pool: 'canary', releaseId: d.s.releaseId, count });
  d.s.waitingFor = { event: 'instances-ready', pool: 'canary' };
}

function onReady(d: Draft, pool: Pool): void {
  const s = d.s;
  const waiting = s.waitingFor;
  if (waiting?.event !== 'instances-ready' || waiting.pool !== pool) return; // a late or repeated report
  s.waitingFor = null;
  if (s.phase === 'rolling-back') {
    // The previous release runs again: all traffic back to it, then the canary goes.
    d.note('rollout.stable-restored', { instances: s.stableMissing });
    s.stableMissing = 0;
    if (s.rolling !== null) s.rolling = { ...s.rolling, oldRemaining: s.instances };
    drainCanary(d);
    return;
  }
  d.note('rollout.instances-ready', { pool });
  if (s.rolling !== null) {
    s.rolling = { ...s.rolling, newReady: s.rolling.newReady + s.rolling.newStarting, newStarting: 0 };
    advanceRolling(d);
    return;
  }
  if (s.previousReleaseId === null || s.strategy.kind === 'recreate') {
    promote(d, false);
    return;
  }
  if (s.strategy.kind === 'canary') {
    s.phase = 'progressing';
    s.canaryRouted = true;
    if (s.strategy.steps.length === 0) {
      promote(d, true);
      return;
    }
    enterStep(d, 0);
    return;
  }
  if (s.strategy.kind === 'blue-green') {
    s.phase = 'progressing';
    s.canaryRouted = true;
    s.stepStartedAt = d.at;
    d.weights(0, 100);
    d.note('rollout.switched', { weights: { ...s.weights }, keepOldMs: s.strategy.keepOldMs, analysisMs: s.strategy.analysisMs });
    const end = stepEndsAt(s);
    if (s.strategy.analysis === undefined && end !== null && end <= d.at) promote(d, true);
  }
}

function enterStep(d: Draft, index: number): void {
  const s = d.s;
  if (s.strategy.kind !== 'canary') return;
  const step = s.strategy.steps[index];
  if (step === undefined) return;
  s.stepIndex = index;
  s.stepStartedAt = d.at;
  d.weights(100 - step.weight, step.weight);
  d.note('rollout.step', { step: index + 1, of: s.strategy.steps.length, weights: { ...s.weights }, pauseMs: step.pauseMs });
}

function onInstancesFailed(d: Draft, event: { type: 'instances-failed'; reason: string; pool?: Pool }): void {
  const s = d.s;
  const pool = event.pool ?? (s.waitingFor?.event === 'instances-ready' ? (s.waitingFor.pool as Pool) : 'canary');
  if (s.phase === 'rolling-back') {
    if (s.waitingFor?.event === 'instances-ready' && s.waitingFor.pool === 'stable' && pool === 'stable') {
      // Nothing left to go back to: end here, leaving whatever still serves in place.
      finish(d, 'failed', `could not restore the previous release: ${event.reason}`, {});
    }
    return;
  }
  if (pool !== 'canary' || s.phase === 'promoting' || s.phase === 'pending-approval') return; // not ours to act on
  rollBack(d, 'rolled-back', `new instances failed: ${event.reason}`, { pool });
}

function onDrained(d: Draft, pool: DrainPool): void {
  const s = d.s;
  const waiting = s.waitingFor;
  if (waiting?.event !== 'drained' || waiting.pool !== pool) return;
  s.waitingFor = null;
  if (s.phase === 'promoting') {
    finish(d, 'succeeded', null, {});
    return;
  }
  if (s.phase === 'rolling-back') {
    finish(d, s.ending ?? 'rolled-back', s.reason, {});
    return;
  }
  if (s.strategy.kind === 'recreate' && pool === 'stable') {
    d.note('rollout.stable-stopped', { instances: s.instances });
    startCanary(d, s.instances);
  }
}

function onTick(d: Draft, analysis: AnalysisResult | null): void {
  const s = d.s;
  if (s.phase !== 'progressing' && s.phase !== 'paused') return;
  if (s.strategy.kind !== 'canary' && s.strategy.kind !== 'blue-green') return;
  if (analysis !== null) {
    s.lastAnalysis = analysis;
    s.lastAnalysisAt = d.at;
    if (analysis.outcome === 'fail') {
      rollBack(d, 'rolled-back', `analysis failed: ${describe(analysis.checks.filter((c) => c.outcome === 'fail'))}`, {
        analysis: analysisData(analysis),
      });
      return;
    }
  }
  if (s.phase !== 'progressing') return;
  const end = stepEndsAt(s);
  if (end === null || d.at < end) return;
  const verdict = stepVerdict(s);
  if (verdict.outcome === 'inconclusive' && s.strategy.analysis?.onInconclusive === 'pause') {
    s.phase = 'paused';
    s.pausedAt = d.at;
    s.pausedKind = 'inconclusive';
    s.pausedReason = `analysis inconclusive at the end of ${stepName(s)}: ${verdict.reason}`;
    d.note('rollout.paused', { by: 'analysis', reason: s.pausedReason, analysis: verdict.data });
    return;
  }
  d.note('rollout.step-completed', { step: stepName(s), analysis: verdict.outcome, detail: verdict.data });
  nextStepOrPromote(d);
}

function nextStepOrPromote(d: Draft): void {
  const s = d.s;
  if (s.strategy.kind === 'canary' && s.stepIndex + 1 < s.strategy.steps.length) {
    enterStep(d, s.stepIndex + 1);
    return;
  }
  promote(d, true);
}

function onPromote(d: Draft, event: { type: 'promote'; at: number; actor: string }): void {
  const s = d.s;
  if ((s.phase !== 'progressing' && s.phase !== 'paused') || (s.strategy.kind !== 'canary' && s.strategy.kind !== 'blue-green')) {
    throw illegal(
      d.base,
      event,
      s.strategy.kind === 'canary' || s.strategy.kind === 'blue-green'
        ? `only a progressing or paused rollout can be promoted`
        : `a ${s.strategy.kind} rollout has no steps to skip`,
    );
  }
  d.note('rollout.promoted', {
    actor: event.actor,
    skippedSteps: s.strategy.kind === 'canary' ? s.strategy.steps.length - s.stepIndex - 1 : 0,
  });
  promote(d, true);
}

function onPause(d: Draft, event: { type: 'pause'; at: number; actor: string }): void {
  const s = d.s;
  if (s.phase !== 'progressing' || s.strategy.kind === 'recreate') throw illegal(d.base, event, 'only a progressing rollout can be paused');
  s.phase = 'paused';
  s.pausedAt = d.at;
  s.pausedKind = 'manual';
  s.pausedReason = `paused by ${event.actor}`;
  d.note('rollout.paused', { by: event.actor, reason: s.pausedReason });
}

function onResume(d: Draft, event: { type: 'resume'; at: number; actor: string }): void {
  const s = d.s;
  if (s.phase !== 'paused') throw illegal(d.base, event, 'it is not paused');
  const kind = s.pausedKind;
  const pausedAt = s.pausedAt ?? d.at;
  s.phase = 'progressing';
  s.pausedAt = null;
  s.pausedKind = null;
  s.pausedReason = null;
  d.note('rollout.resumed', { by: event.actor, pausedMs: d.at - pausedAt });
  if (s.rolling !== null) {
    advanceRolling(d);
    return;
  }
  if (kind === 'inconclusive') {
    // The step's time was up; a person looked and let it go on.
    nextStepOrPromote(d);
    return;
  }
  // A manual pause freezes the step's clock: the rest of the step follows the resume.
  if (s.stepStartedAt !== null) s.stepStartedAt += d.at - pausedAt;
}

function onAbort(d: Draft, event: { type: 'abort'; at: number; actor: string; reason?: string }): void {
  const s = d.s;
  if (s.phase === 'rolling-back') return; // already on the way back
  if (s.phase === 'promoting') throw illegal(d.base, event, 'it is already promoting; roll back once it has finished');
  const reason = `aborted by ${event.actor}${event.reason === undefined ? '' : `: ${event.reason}`}`;
  if (s.phase === 'pending-approval' || (s.phase === 'starting' && s.startedAt === null)) {
    finish(d, 'aborted', reason, { actor: event.actor });
    return;
  }
  rollBack(d, 'aborted', reason, { actor: event.actor });
}

/**
 * The environment was stopped: `aborted` at once, from any phase that is not final (promoting and
 * rolling-back included — unlike `abort`, a stop is not refused or deferred, since nothing will be
 * left running to promote to or roll back onto). Only the records and `finished` are commanded:
 * the stop that sent this event stops every instance of the environment and closes its proxy, so
 * start/stop-instances or set-weights here would race it (a drain that restarts stable, weights
 * sent to a proxy being closed). The weights stay as they were, recorded as the traffic split the
 * rollout ended with.
 */
function onStop(d: Draft, event: { type: 'stop'; at: number; actor: string }): void {
  const s = d.s;
  s.pausedAt = null;
  s.pausedKind = null;
  s.pausedReason = null;
  finish(d, 'aborted', `aborted by ${event.actor}: the environment was stopped`, { actor: event.actor });
}

// ---------------------------------------------------------------- strategies

/** One rolling step: stop old instances the availability budget allows, start new ones the surge budget allows. */
function advanceRolling(d: Draft): void {
  const s = d.s;
  const r = s.rolling;
  if (r === null || s.strategy.kind !== 'rolling') return;
  const n = s.instances;
  const { surge, unavailable } = rollingBudget(s.strategy, n);
  if (r.oldRemaining === 0 && r.newStarting === 0 && r.newReady >= n) {
    promote(d, false);
    return;
  }
  if (s.phase !== 'progressing') return;
  const stop = Math.max(0, Math.min(r.oldRemaining, r.oldRemaining + r.newReady - (n - unavailable)));
  const start = r.newStarting > 0 ? 0 : Math.max(0, Math.min(n + surge - (r.oldRemaining - stop + r.newReady), n - r.newReady));
  const next: RollingProgress = { oldRemaining: r.oldRemaining - stop, newReady: r.newReady, newStarting: r.newStarting + start };
  s.rolling = next;
  if (stop === 0 && start === 0) return;
  const serving = next.oldRemaining + next.newReady;
  if (serving > 0) {
    const canary = Math.round((100 * next.newReady) / serving);
    d.weights(100 - canary, canary);
  }
  if (stop > 0) {
    s.stableMissing += stop;
    d.push({ type: 'stop-instances', pool: 'stable', drain: true, count: stop });
  }
  if (start > 0) {
    d.push({ type: 'start-instances', pool: 'canary', releaseId: s.releaseId, count: start });
    s.waitingFor = { event: 'instances-ready', pool: 'canary' };
  }
  d.note('rollout.batch', { stopped: stop, started: start, ...next, weights: { ...s.weights } });
  // The last old instances may go without a new batch to wait for; the rollout ends once they drained.
  if (next.oldRemaining === 0 && next.newStarting === 0 && next.newReady >= n) promote(d, false, stop > 0 ? 'stable' : null);
}

/** maxSurge and maxUnavailable as counts; both 0 would never move, so surge becomes 1 (as Kubernetes refuses that pair). */
function rollingBudget(strategy: { maxSurge: number; maxUnavailable: number }, n: number): { surge: number; unavailable: number } {
  const unavailable = Math.min(n, strategy.maxUnavailable);
  const surge = strategy.maxSurge === 0 && unavailable === 0 ? 1 : strategy.maxSurge;
  return { surge, unavailable };
}

/**
 * All traffic to the new release, which becomes stable; the old pool drains (unless there is
 * none). `draining` names a pool whose stop is already under way: the rollout ends when it drained.
 */
function promote(d: Draft, stopOld: boolean, draining: DrainPool | null = null): void {
  const s = d.s;
  s.pausedAt = null;
  s.pausedKind = null;
  s.pausedReason = null;
  d.weights(0, 100);
  d.push({ type: 'swap-pools' });
  s.weights = { stable: 100, canary: 0 };
  s.canaryRouted = false;
  s.stableMissing = 0;
  if (s.rolling !== null) s.rolling = { oldRemaining: 0, newReady: s.instances, newStarting: 0 };
  if (draining !== null) {
    d.note('rollout.promoting', { weights: { ...s.weights } });
    s.phase = 'promoting';
    s.waitingFor = { event: 'drained', pool: draining };
    return;
  }
  if (!stopOld || s.previousReleaseId === null) {
    d.note('rollout.promoting', { weights: { ...s.weights } });
    finish(d, 'succeeded', null, {});
    return;
  }
  s.phase = 'promoting';
  d.push({ type: 'stop-instances', pool: 'old', drain: true });
  s.waitingFor = { event: 'drained', pool: 'old' };
  d.note('rollout.promoting', { weights: { ...s.weights } });
}

/**
 * Back to the previous release. If this rollout stopped stable instances they start again
 * first (traffic stays where it can be served meanwhile); then all traffic goes to stable and
 * the canary drains. A canary that never took traffic is just stopped.
 */
function rollBack(d: Draft, ending: 'rolled-back' | 'aborted', reason: string, data: Record<string, unknown>): void {
  const s = d.s;
  s.phase = 'rolling-back';
  s.ending = ending;
  s.reason = reason;
  s.pausedAt = null;
  s.pausedKind = null;
  s.pausedReason = null;
  d.note('rollout.rolling-back', { reason, ...data });
  if (s.stableMissing > 0 && s.previousReleaseId !== null) {
    if (s.rolling !== null && s.rolling.oldRemaining > 0) d.weights(100, 0);
    d.push({ type: 'start-instances', pool: 'stable', releaseId: s.previousReleaseId, count: s.stableMissing });
    s.waitingFor = { event: 'instances-ready', pool: 'stable' };
    return;
  }
  if (!s.canaryRouted) {
    d.weights(100, 0);
    d.push({ type: 'stop-instances', pool: 'canary', drain: false });
    // Nothing reached users, so nothing was rolled back: the rollout simply failed (or was aborted).
    finish(d, ending === 'aborted' ? 'aborted' : 'failed', reason, {});
    return;
  }
  drainCanary(d);
}

function drainCanary(d: Draft): void {
  d.weights(100, 0);
  d.push({ type: 'stop-instances', pool: 'canary', drain: true });
  d.s.waitingFor = { event: 'drained', pool: 'canary' };
}

function finish(d: Draft, phase: FinalRolloutPhase, reason: string | null, data: Record<string, unknown>): void {
  const s = d.s;
  s.phase = phase;
  s.reason = reason;
  s.waitingFor = null;
  s.ending = null;
  d.note('rollout.finished', { phase, reason, weights: { ...s.weights }, ...data });
  d.push({ type: 'finished', phase });
}

// ---------------------------------------------------------------- helpers

function stepEndsAt(s: RolloutState): number | null {
  if (s.stepStartedAt === null) return null;
  if (s.strategy.kind === 'canary') {
    const pauseMs = s.strategy.steps[s.stepIndex]?.pauseMs ?? null;
    return pauseMs === null ? null : s.stepStartedAt + pauseMs;
  }
  if (s.strategy.kind === 'blue-green') return s.stepStartedAt + Math.max(s.strategy.keepOldMs, s.strategy.analysisMs);
  return null;
}

function stepName(s: RolloutState): string {
  return s.strategy.kind === 'canary' ? `step ${s.stepIndex + 1} of ${s.strategy.steps.length}` : 'the blue-green hold';
}

/**
 * What the analysis says about the step that just ended: its latest result from within the step
 * (one that arrived with the tick that began the step was about the step before).
 */
function stepVerdict(s: RolloutState): { outcome: 'pass' | 'inconclusive'; reason: string; data: unknown } {
  const strategy = s.strategy;
  if ((strategy.kind !== 'canary' && strategy.kind !== 'blue-green') || strategy.analysis === undefined)
    return { outcome: 'pass', reason: 'no analysis configured', data: null };
  const fresh = s.lastAnalysis !== null && s.lastAnalysisAt !== null && s.stepStartedAt !== null && s.lastAnalysisAt > s.stepStartedAt;
  if (!fresh || s.lastAnalysis === null) return { outcome: 'inconclusive', reason: 'no analysis result during the step', data: null };
  if (s.lastAnalysis.outcome === 'pass') return { outcome: 'pass', reason: 'analysis passed', data: analysisData(s.lastAnalysis) };
  return {
    outcome: 'inconclusive',
    reason: describe(s.lastAnalysis.checks.filter((c) => c.outcome !== 'pass')),
    data: analysisData(s.lastAnalysis),
  };
}

function describe(checks: AnalysisCheck[]): string {
  return checks.map((c) => `${c.name}: ${c.reason}`).join('; ');
}

function analysisData(result: AnalysisResult): Record<string, unknown> {
  return {
    outcome: result.outcome,
    checks: result.checks.map((c) => ({
      name: c.name,
      outcome: c.outcome,
      value: c.value,
      baseline: c.baseline,
      threshold: c.threshold,
      pValue: c.pValue,
      reason: c.reason,
    })),
  };
}

function validateStrategy(strategy: StrategyConfig): void {
  if (strategy.kind === 'canary') {
    for (const [i, step] of strategy.steps.entries()) {
      if (!(step.weight >= 0 && step.weight <= 100))
        throw new InputError(`canary step ${i + 1}: weight must be within 0..100 (got ${step.weight})`);
      if (step.pauseMs !== null && !(step.pauseMs >= 0))
        throw new InputError(`canary step ${i + 1}: pause must be ≥ 0 (got ${step.pauseMs})`);
    }
  }
  if (strategy.kind === 'rolling') {
    for (const key of ['maxSurge', 'maxUnavailable'] as const) {
      if (!Number.isInteger(strategy[key]) || strategy[key] < 0)
        throw new InputError(`rolling ${key} must be a non-negative integer (got ${strategy[key]})`);
    }
  }
  if (strategy.kind === 'blue-green' && !(strategy.keepOldMs >= 0 && strategy.analysisMs >= 0)) {
    throw new InputError(`blue-green keepOldMs and analysisMs must be ≥ 0`);
  }
}

function illegal(state: RolloutState, event: RolloutEvent, why?: string): IllegalTransitionError {
  return new IllegalTransitionError(
    `rollout ${state.id} is ${state.phase}; '${event.type}' is not allowed${why === undefined ? '' : ` (${why})`}`,
    { phase: state.phase, event: event.type },
  );
}

/** A working copy of the state (top level copied, history appended to a new array) plus the commands to emit. */
class Draft {
  readonly base: RolloutState;
  readonly s: RolloutState;
  readonly at: number;
  readonly commands: RolloutCommand[] = [];

  constructor(base: RolloutState, at: number) {
    this.base = base;
    this.at = at;
    this.s = { ...base, weights: { ...base.weights }, history: [...base.history] };
    this.s.updatedAt = at;
  }

  push(command: RolloutCommand): void {
    this.commands.push(command);
  }

  /** Sets weights (stable, canary) and tells the proxy, unless nothing changes. */
  weights(stable: number, canary: number): void {
    if (canary > 0) this.s.canaryRouted = true;
    if (this.s.weights.stable === stable && this.s.weights.canary === canary) return;
    this.s.weights = { stable, canary };
    this.commands.push({ type: 'set-weights', stable, canary });
  }

  /** A decision for the events log: kept in history and emitted as a record command. */
  note(event: string, data: Record<string, unknown>): void {
    const full = { rolloutId: this.s.id, environment: this.s.environment, releaseId: this.s.releaseId, ...data };
    this.s.history.push({ at: this.at, event, phase: this.s.phase, data: full });
    this.commands.push({ type: 'record', event, data: full });
  }

  result(): RolloutTransition {
    return { state: this.s, commands: this.commands };
  }
}
