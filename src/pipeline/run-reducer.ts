/**
 * The run lifecycle as a pure function: state and event in, new state and commands out. The
 * server and the local runner own the I/O (dispatching jobs to executors, persisting state); all
 * decisions — which job is ready, skipped, retried, cancelled, and how the run ends — live here,
 * so they are tested without processes and replayed identically after a crash.
 */
import { GantryError } from '../core/errors.ts';
import { FINAL_JOB_STATUSES, FINAL_RUN_STATUSES } from '../core/types.ts';
import type { GantryContext, JobStatus, MatrixValues, Plan, RunStatus, Value } from '../core/types.ts';
import { conditionRunsAfterFailure, evaluateCondition } from './expressions/index.ts';

/** One job instance's lifecycle within a run. */
export interface JobState {
  key: string;
  jobId: string;
  matrix: MatrixValues | null;
  /** Job *keys* this instance waits for (every instance of each needed job). */
  needs: string[];
  status: JobStatus;
  /** 1-based number of the attempt that is (or was last) queued/running. */
  attempt: number;
  /** `retry + 1`. */
  maxAttempts: number;
  outputs: Record<string, string>;
  /**
   * Why the job ended as it did ("skipped: needed job 'build' failed"). Also set on a running job
   * the moment it is aborted, so its cancellation reads right and it is not retried.
   */
  reason: string | null;
  condition?: string;
  failFast: boolean;
  maxParallel?: number;
  /** How often the runner died under this job in this run; the second time fails it. */
  interruptions: number;
}

/** Everything the reducer needs to decide the next move; what the store persists per run. */
export interface RunState {
  runId: string;
  status: RunStatus;
  cancelRequested: boolean;
  /** In plan order (dependencies first). */
  jobs: Record<string, JobState>;
}

/** What happened: reported by the server's dispatch loop, the executors and the API. */
export type RunEvent =
  | { type: 'start' }
  | { type: 'job-started'; key: string }
  | { type: 'job-finished'; key: string; status: 'success' | 'failure' | 'cancelled'; outputs: Record<string, string> }
  /** The server died while the job ran (reported on recovery). */
  | {
      type: 'job-interrupted';
      key: string /** How many interruptions a job survives (re-queued each time); default 1. */;
      retries?: number;
    }
  | { type: 'cancel' };

/** What the caller must do next; the reducer itself never does I/O. */
export type RunCommand =
  /** The job is now 'queued': run it when an executor slot is free. */
  | { type: 'dispatch'; key: string }
  /** Stop this running job; it will report `job-finished` with status cancelled. */
  | { type: 'abort'; key: string; reason: string }
  /** The run is final; emitted exactly once per run. */
  | { type: 'finished'; status: 'success' | 'failure' | 'cancelled' };

/** What job conditions can see besides `needs` and `matrix`. */
export interface ConditionEnv {
  inputs: Record<string, Value>;
  gantry: GantryContext;
  env: Record<string, string>;
}

/** The result of one event. */
export interface RunTransition {
  state: RunState;
  /** Keys of the jobs whose record changed, in the order they first changed. */
  changed: string[];
  commands: RunCommand[];
}

/** A move the lifecycle does not allow (a caller bug or a stale event), e.g. starting a job that is not queued. */
export class IllegalTransitionError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('ILLEGAL_TRANSITION', message, details);
  }
}

/** A run as compiled: every job waiting, nothing started. */
export function initialRunState(runId: string, plan: Plan): RunState {
  const keysByJobId = new Map<string, string[]>();
  for (const job of plan.jobs) keysByJobId.set(job.jobId, [...(keysByJobId.get(job.jobId) ?? []), job.key]);
  const jobs: Record<string, JobState> = {};
  for (const job of plan.jobs) {
    const state: JobState = {
      key: job.key,
      jobId: job.jobId,
      matrix: job.matrix,
      needs: job.needs.flatMap((id) => keysByJobId.get(id) ?? []),
      status: 'waiting',
      attempt: 1,
      maxAttempts: job.config.retry + 1,
      outputs: {},
      reason: null,
      failFast: job.config.matrix?.failFast ?? false,
      interruptions: 0,
    };
    if (job.config.if !== undefined) state.condition = job.config.if;
    if (job.config.matrix?.maxParallel !== undefined) state.maxParallel = job.config.matrix.maxParallel;
    jobs[job.key] = state;
  }
  return { runId, status: 'queued', cancelRequested: false, jobs };
}

/**
 * Applies one event. Never mutates `state`. Throws IllegalTransitionError for moves the
 * lifecycle forbids; a `cancel` of a finished run is a no-op so cancelling stays idempotent.
 * It copies the jobs record (O(jobs) an event): callers that apply every event of a large run
 * use `applyRunEvent`, the same decisions on a state they own.
 */
export function reduceRun(state: RunState, event: RunEvent, env: ConditionEnv): RunTransition {
  const { state: next, changed, commands } = applyRunEvent(copyOf(state), event, env);
  return { state: next, changed, commands };
}

/** The result of `applyRunEvent`: a transition of the state it was given, which it can take back. */
export interface AppliedRunEvent extends RunTransition {
  /** The run as it was before the event: its status, and of its jobs only those in `changed`. */
  before: RunState;
  /** Puts the state back as it was before the event (its transition could not be stored). */
  undo(): void;
}

/**
 * `reduceRun` on a state the caller owns: `state` itself becomes the next state (the result's
 * `state` is the same object) and only the jobs the event changed are touched, so an event costs
 * the same in a run of 10 jobs or of 10,000. Throws, leaving `state` as it was, where
 * `reduceRun` throws. Whoever holds `state` must not expect it to stay as it was.
 */
export function applyRunEvent(state: RunState, event: RunEvent, env: ConditionEnv): AppliedRunEvent {
  if (isFinalRun(state.status)) {
    if (event.type === 'cancel') return { state, changed: [], commands: [], before: { ...state, jobs: {} }, undo: () => undefined };
    throw new IllegalTransitionError(`run ${state.runId} is already ${state.status}; '${event.type}' is not allowed`, { event });
  }
  const draft = new Draft(state);
  try {
    step(draft, event, env);
  } catch (error) {
    draft.undo();
    throw error;
  }
  return draft.result();
}

function step(draft: Draft, event: RunEvent, env: ConditionEnv): void {
  const state = draft.base;
  switch (event.type) {
    case 'start':
      if (state.status !== 'queued') throw new IllegalTransitionError(`run ${state.runId} is already ${state.status}`);
      draft.status = 'running';
      break;
    case 'job-started': {
      const job = draft.get(event.key);
      if (job.status !== 'queued') throw notIn(job, 'queued', event.type);
      draft.set(job.key, { status: 'running' });
      break;
    }
    case 'job-finished':
      finishJob(draft, event.key, event.status, event.outputs);
      break;
    case 'job-interrupted':
      interruptJob(draft, event.key, event.retries ?? 1);
      break;
    case 'cancel':
      cancelRun(draft);
      break;
  }
  settle(draft, env);
}

/** A state `applyRunEvent` may change without changing `state`: its own jobs record (the job records are replaced, never changed). */
function copyOf(state: RunState): RunState {
  const jobs = { ...state.jobs };
  const index = jobIndexes.get(state.jobs);
  if (index !== undefined)
    jobIndexes.set(jobs, { waiting: new Set(index.waiting), open: index.open, finalNeeds: new Map(index.finalNeeds) });
  return { ...state, jobs };
}

/**
 * The starting state of a re-run. 'all' resets every job; 'failed' re-runs a job if it did not
 * succeed or it (transitively) needs a job that is re-run — the rest keep their state (status
 * success and outputs), so their dependents see the same `needs` as before.
 */
export function rerunState(previous: RunState, newRunId: string, mode: 'all' | 'failed'): RunState {
  if (!isFinalRun(previous.status)) {
    throw new IllegalTransitionError(`run ${previous.runId} is still ${previous.status}; only a finished run can be re-run`);
  }
  const rerun = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const job of Object.values(previous.jobs)) {
      if (rerun.has(job.key)) continue;
      if (mode === 'all' || job.status !== 'success' || job.needs.some((key) => rerun.has(key))) {
        rerun.add(job.key);
        grew = true;
      }
    }
  }
  const jobs: Record<string, JobState> = {};
  for (const job of Object.values(previous.jobs)) {
    jobs[job.key] = rerun.has(job.key)
      ? { ...job, status: 'waiting', attempt: 1, outputs: {}, reason: null, interruptions: 0 }
      : { ...job, outputs: { ...job.outputs } };
  }
  return { runId: newRunId, status: 'queued', cancelRequested: false, jobs };
}

// ---------------------------------------------------------------- transitions

function finishJob(draft: Draft, key: string, status: 'success' | 'failure' | 'cancelled', outputs: Record<string, string>): void {
  const job = draft.get(key);
  if (job.status !== 'running') throw notIn(job, 'running', 'job-finished');
  // An aborted job (reason already set) or a cancelled run is never retried.
  if (status === 'failure' && job.attempt < job.maxAttempts && job.reason === null && !draft.cancelRequested) {
    draft.set(key, { status: 'queued', attempt: job.attempt + 1, outputs: {} });
    draft.commands.push({ type: 'dispatch', key });
    return;
  }
  let reason: string | null = null;
  if (status === 'cancelled') reason = job.reason ?? 'cancelled';
  else if (status === 'failure' && job.attempt > 1) reason = `failed after ${job.attempt} attempts`;
  draft.set(key, { status, outputs: { ...outputs }, reason });
  if (status === 'failure') failFast(draft, draft.get(key));
}

function interruptJob(draft: Draft, key: string, retries: number): void {
  const job = draft.get(key);
  if (job.status !== 'running') throw notIn(job, 'running', 'job-interrupted');
  if (job.reason !== null || draft.cancelRequested) {
    // It was being aborted anyway: the runner dying finished the job.
    draft.set(key, { status: 'cancelled', reason: job.reason ?? 'cancelled: the run was cancelled' });
    return;
  }
  if (job.interruptions < retries) {
    draft.set(key, { status: 'queued', attempt: job.attempt + 1, interruptions: job.interruptions + 1, outputs: {} });
    draft.commands.push({ type: 'dispatch', key });
    return;
  }
  const times = job.interruptions + 1;
  draft.set(key, { status: 'failure', interruptions: times, reason: times === 2 ? 'interrupted twice' : `interrupted ${times} times` });
  failFast(draft, draft.get(key));
}

function cancelRun(draft: Draft): void {
  if (draft.cancelRequested) return;
  draft.cancelRequested = true;
  if (draft.status === 'queued') {
    for (const job of draft.list())
      draft.set(job.key, { status: 'cancelled', reason: 'cancelled: the run was cancelled before it started' });
    return;
  }
  const reason = 'cancelled: the run was cancelled';
  for (const job of draft.list()) {
    if (job.status === 'waiting' || job.status === 'queued') {
      // always()/failure()/cancelled() jobs are the clean-up a cancel must still run.
      if (!runsAfterFailure(job.condition)) draft.set(job.key, { status: 'cancelled', reason });
    } else if (job.status === 'running' && job.reason === null) {
      draft.set(job.key, { reason });
      draft.commands.push({ type: 'abort', key: job.key, reason });
    }
  }
}

/** A matrix instance failed for good: its siblings stop (waiting/queued at once, running via abort). */
function failFast(draft: Draft, failed: JobState): void {
  if (failed.matrix === null || !failed.failFast) return;
  const reason = `cancelled: fail-fast after '${failed.key}' failed`;
  for (const sibling of draft.list()) {
    if (sibling.jobId !== failed.jobId || sibling.key === failed.key) continue;
    if (sibling.status === 'waiting' || sibling.status === 'queued') {
      draft.set(sibling.key, { status: 'cancelled', reason });
    } else if (sibling.status === 'running' && sibling.reason === null) {
      draft.set(sibling.key, { reason });
      draft.commands.push({ type: 'abort', key: sibling.key, reason });
    }
  }
}

/** Decides every ready job until nothing moves, then ends the run if every job is final. */
function settle(draft: Draft, env: ConditionEnv): void {
  if (draft.status === 'running') {
    let moved = true;
    while (moved) {
      moved = false;
      // The waiting jobs alone, in plan order: a scan of every job per event made a run of n jobs cost n².
      for (const key of [...draft.waiting]) {
        const job = draft.get(key);
        if (job.status !== 'waiting' || !draft.needsFinal(job)) continue;
        const needs = job.needs.map((key) => draft.get(key));
        const decision = decide(job, needs, draft, env);
        if (decision.status === 'queued') {
          if (!hasSlot(draft, job)) continue;
          draft.set(job.key, { status: 'queued' });
          draft.commands.push({ type: 'dispatch', key: job.key });
        } else {
          draft.set(job.key, { status: decision.status, reason: decision.reason });
          if (decision.status === 'failure') failFast(draft, draft.get(job.key));
        }
        moved = true;
      }
    }
  }
  if (isFinalRun(draft.status) || (draft.status === 'queued' && !draft.cancelRequested)) return;
  if (draft.open > 0) return;
  const jobs = draft.list();
  const status = draft.cancelRequested
    ? 'cancelled'
    : jobs.some((job) => job.status === 'failure' || job.status === 'cancelled')
      ? 'failure'
      : 'success';
  draft.status = status;
  draft.commands.push({ type: 'finished', status });
}

type Decision = { status: 'queued' } | { status: 'skipped' | 'failure'; reason: string };

function decide(job: JobState, needs: JobState[], draft: Draft, env: ConditionEnv): Decision {
  if (!runsAfterFailure(job.condition)) {
    // GitHub semantics: under the implicit success(), any need that did not succeed skips the job.
    const bad =
      needs.find((n) => n.status === 'failure') ?? needs.find((n) => n.status === 'cancelled') ?? needs.find((n) => n.status === 'skipped');
    if (bad !== undefined) {
      const how = bad.status === 'failure' ? 'failed' : bad.status === 'cancelled' ? 'was cancelled' : 'was skipped';
      return { status: 'skipped', reason: `skipped: needed job '${bad.jobId}' ${how}` };
    }
  }
  let ok: boolean;
  try {
    ok = evaluateCondition(job.condition, {
      contexts: {
        inputs: env.inputs,
        gantry: { ...env.gantry },
        env: env.env,
        matrix: job.matrix ?? {},
        needs: needsContext(needs),
      },
      status: {
        failed: needs.some((n) => n.status === 'failure' || n.status === 'cancelled'),
        cancelled: draft.cancelRequested,
      },
    });
  } catch (error) {
    // A bad condition fails its job (state, shown to the user), never the whole reducer.
    return { status: 'failure', reason: `condition error: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (ok) return { status: 'queued' };
  return { status: 'skipped', reason: `skipped: condition \`${(job.condition ?? 'success()').trim()}\` was false` };
}

/** `needs.<jobId>` as conditions see it; a matrix job's instances are folded into one entry. */
function needsContext(needs: JobState[]): Value {
  const byJobId = new Map<string, JobState[]>();
  for (const need of needs) byJobId.set(need.jobId, [...(byJobId.get(need.jobId) ?? []), need]);
  const out: Record<string, Value> = {};
  for (const [jobId, instances] of byJobId) {
    const result = instances.some((j) => j.status === 'failure')
      ? 'failure'
      : instances.some((j) => j.status === 'cancelled')
        ? 'cancelled'
        : instances.every((j) => j.status === 'success')
          ? 'success'
          : 'skipped';
    const outputs: Record<string, Value> = {};
    for (const instance of instances) Object.assign(outputs, instance.outputs);
    out[jobId] = { result, outputs };
  }
  return out;
}

function hasSlot(draft: Draft, job: JobState): boolean {
  if (job.maxParallel === undefined) return true;
  const busy = draft.list().filter((j) => j.jobId === job.jobId && (j.status === 'queued' || j.status === 'running')).length;
  return busy < job.maxParallel;
}

function runsAfterFailure(condition: string | undefined): boolean {
  try {
    return conditionRunsAfterFailure(condition);
  } catch {
    // An unparsable condition is reported when the job is evaluated; here it counts as default.
    return false;
  }
}

function isFinalJob(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

function isFinalRun(status: RunStatus): boolean {
  return FINAL_RUN_STATUSES.includes(status);
}

function notIn(job: JobState, expected: JobStatus, event: string): IllegalTransitionError {
  return new IllegalTransitionError(`'${event}' for job '${job.key}' which is ${job.status}, not ${expected}`, {
    key: job.key,
    status: job.status,
  });
}

/**
 * What `settle` needs of a jobs record without looking at every job: its waiting keys (plan
 * order), how many are not final, and per waiting job how many of its needs (in order) are known
 * to be final.
 */
interface JobIndex {
  waiting: Set<string>;
  open: number;
  finalNeeds: Map<string, number>;
}

/**
 * Per jobs record, kept up to date by each event applied to it, so an event never scans all the
 * jobs; a state built elsewhere (recovery, a re-run) is indexed once, at its first event.
 */
const jobIndexes = new WeakMap<Record<string, JobState>, JobIndex>();

function indexOf(jobs: Record<string, JobState>): JobIndex {
  let index = jobIndexes.get(jobs);
  if (index === undefined) {
    const all = Object.values(jobs);
    index = {
      waiting: new Set(all.filter((j) => j.status === 'waiting').map((j) => j.key)),
      open: all.filter((j) => !isFinalJob(j.status)).length,
      finalNeeds: new Map(),
    };
    jobIndexes.set(jobs, index);
  }
  return index;
}

/** The state being changed by one event, with what it was before (to report and to undo) and the commands to emit. */
class Draft {
  readonly base: RunState;
  readonly jobs: Record<string, JobState>;
  readonly #index: JobIndex;
  /** Each changed job's record before the event, in the order they first changed. */
  readonly #before = new Map<string, JobState>();
  readonly #statusBefore: RunStatus;
  readonly #cancelRequestedBefore: boolean;
  readonly #openBefore: number;
  readonly commands: RunCommand[] = [];

  constructor(base: RunState) {
    this.base = base;
    this.jobs = base.jobs;
    this.#index = indexOf(base.jobs);
    this.#statusBefore = base.status;
    this.#cancelRequestedBefore = base.cancelRequested;
    this.#openBefore = this.#index.open;
  }

  get status(): RunStatus {
    return this.base.status;
  }

  set status(status: RunStatus) {
    this.base.status = status;
  }

  get cancelRequested(): boolean {
    return this.base.cancelRequested;
  }

  set cancelRequested(requested: boolean) {
    this.base.cancelRequested = requested;
  }

  /** The waiting jobs' keys, in plan order. */
  get waiting(): ReadonlySet<string> {
    return this.#index.waiting;
  }

  /** Jobs not in a final status. */
  get open(): number {
    return this.#index.open;
  }

  get(key: string): JobState {
    const job = Object.hasOwn(this.jobs, key) ? this.jobs[key] : undefined;
    if (job === undefined) throw new IllegalTransitionError(`run ${this.base.runId} has no job '${key}'`, { key });
    return job;
  }

  /**
   * Whether every need of `job` is final. A final job never changes again (only `undo` takes
   * one back, and it forgets these counts), so each waiting job keeps how many of its needs are
   * known final and reads on from there: a job needing n others costs n reads over the run, not
   * n per event (a 1,000-job fan-in spent half a second here).
   */
  needsFinal(job: JobState): boolean {
    let final = this.#index.finalNeeds.get(job.key) ?? 0;
    while (final < job.needs.length && isFinalJob(this.get(job.needs[final] as string).status)) final++;
    this.#index.finalNeeds.set(job.key, final);
    return final === job.needs.length;
  }

  list(): JobState[] {
    return Object.values(this.jobs);
  }

  set(key: string, patch: Partial<JobState>): void {
    const before = this.get(key);
    const after = { ...before, ...patch };
    if (!this.#before.has(key)) this.#before.set(key, before);
    this.jobs[key] = after;
    this.#index.open += (isFinalJob(after.status) ? 0 : 1) - (isFinalJob(before.status) ? 0 : 1);
    if (before.status === 'waiting' && after.status !== 'waiting') {
      this.#index.waiting.delete(key);
      this.#index.finalNeeds.delete(key);
    } else if (before.status !== 'waiting' && after.status === 'waiting') this.#reindexWaiting();
  }

  /** Back to waiting (no transition does this today, undo does): plan order again. */
  #reindexWaiting(): void {
    const waiting = Object.keys(this.jobs).filter((k) => this.jobs[k]?.status === 'waiting');
    this.#index.waiting.clear();
    for (const key of waiting) this.#index.waiting.add(key);
  }

  undo(): void {
    let backToWaiting = false;
    for (const [key, before] of this.#before) {
      if (before.status === 'waiting' && this.jobs[key]?.status !== 'waiting') backToWaiting = true;
      this.jobs[key] = before;
    }
    this.#index.open = this.#openBefore;
    this.#index.finalNeeds.clear();
    if (backToWaiting) this.#reindexWaiting();
    this.base.status = this.#statusBefore;
    this.base.cancelRequested = this.#cancelRequestedBefore;
    this.#before.clear();
  }

  result(): AppliedRunEvent {
    const before: RunState = {
      ...this.base,
      status: this.#statusBefore,
      cancelRequested: this.#cancelRequestedBefore,
      jobs: Object.fromEntries(this.#before),
    };
    return { state: this.base, changed: [...this.#before.keys()], commands: this.commands, before, undo: () => this.undo() };
  }
}
