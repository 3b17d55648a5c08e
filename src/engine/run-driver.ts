/**
 * Drives one run: feeds events to the pure run reducer, persists each transition BEFORE acting
 * on its commands (so a crash never loses accepted work), and runs dispatched jobs on the shared
 * slot pool. The same driver serves `gantry run` (in-memory host) and the server (store host).
 */
import type { JobResult, RunStatus } from '../core/types.ts';
import type { JobSpec, NeedsEntry, RunJob } from '../executor/ports.ts';
import { applyRunEvent, type ConditionEnv, type JobState, type RunCommand, type RunEvent, type RunState } from '../pipeline/run-reducer.ts';
import type { SlotPool } from './slot-pool.ts';

export interface Transition {
  event: RunEvent;
  /** The driver's own state, changed in place by the next event: read it now, do not keep it. */
  state: RunState;
  /** The run before the event: its status, and of its jobs only those in `changed` (a copy of every job per event made a large run cost jobs²). */
  previous: RunState;
  changed: string[];
  /** ISO time the event was applied. */
  at: string;
  /** The executor's report, on `job-finished`. */
  result?: JobResult;
}

/** Where a driver's side effects go. `persist` must be durable when it resolves. */
export interface RunHost {
  persist(t: Transition): Promise<void>;
  /** Builds the executor spec for a job that is about to run (paths, context, secrets). */
  jobSpec(job: JobState, state: RunState, signal: AbortSignal): Promise<JobSpec>;
  runJob: RunJob;
  slots: SlotPool;
  /** A job's own pool when it is not `slots` (jobs run elsewhere, on build agents). */
  slotsFor?(key: string): SlotPool | undefined;
  now(): Date;
}

/**
 * Transitions applied back to back before the driver lets the event loop turn. Storing one is
 * asynchronous in name only with SQLite (promises, no I/O wait): without a turn, a run that starts
 * 10,000 jobs at once (on agents: their capacity bounds them, not this host's slots) applied
 * every job-started before the server answered anything else, agents' polls and renewals included.
 */
const TRANSITIONS_PER_TURN = 64;
/** Per process: every driver's transitions share the one event loop. */
let transitionsSinceTurn = 0;

export class RunDriver {
  #state: RunState;
  readonly #env: ConditionEnv;
  readonly #host: RunHost;
  #queue: Promise<void> = Promise.resolve();
  readonly #controllers = new Map<string, AbortController>();
  readonly #jobsInFlight = new Set<Promise<void>>();
  #detached = false;
  #resolveDone!: (s: RunStatus) => void;
  #rejectDone!: (e: unknown) => void;
  /** Resolves with the run's final status once every job has ended and the last transition is stored. */
  readonly done: Promise<RunStatus>;

  constructor(state: RunState, env: ConditionEnv, host: RunHost) {
    // Its own copy: events change it in place (see applyRunEvent).
    this.#state = { ...state, jobs: { ...state.jobs } };
    this.#env = env;
    this.#host = host;
    this.done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => undefined);
  }

  get state(): RunState {
    return this.#state;
  }

  /**
   * Stops the run's jobs WITHOUT recording their end (server shutdown past its drain deadline):
   * the store still says "running", so the next start treats them as interrupted and retries them.
   */
  detach(): void {
    this.#detached = true;
    for (const controller of this.#controllers.values()) controller.abort(new Error('server shutting down'));
  }

  start(): Promise<void> {
    return this.#apply({ type: 'start' });
  }

  cancel(): Promise<void> {
    if (this.#state.cancelRequested || isFinal(this.#state.status)) return this.#queue;
    return this.#apply({ type: 'cancel' });
  }

  /**
   * Continues a run loaded from the store after a restart: jobs that were running are reported
   * interrupted (the reducer retries them once), queued jobs are dispatched again.
   */
  async resume(interruptedRetries = 1): Promise<void> {
    if (this.#state.status === 'queued') return this.start();
    const jobs = Object.values(this.#state.jobs);
    for (const job of jobs.filter((j) => j.status === 'running')) {
      await this.#apply({ type: 'job-interrupted', key: job.key, retries: interruptedRetries });
    }
    for (const job of Object.values(this.#state.jobs).filter((j) => j.status === 'queued')) {
      if (!this.#controllers.has(job.key)) this.#dispatch(job.key);
    }
  }

  /** Serialises transitions: the reducer sees events one at a time, in order. */
  #apply(event: RunEvent, result?: JobResult): Promise<void> {
    const step = this.#queue.then(async () => {
      if (++transitionsSinceTurn >= TRANSITIONS_PER_TURN) {
        transitionsSinceTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (this.#detached) return;
      // The driver owns its state: the event changes it in place, and is taken back if it cannot be stored.
      const t = applyRunEvent(this.#state, event, this.#env);
      try {
        await this.#host.persist({
          event,
          state: t.state,
          previous: t.before,
          changed: t.changed,
          at: this.#host.now().toISOString(),
          result,
        });
      } catch (error) {
        t.undo();
        throw error;
      }
      for (const command of t.commands) this.#act(command);
    });
    this.#queue = step.catch((e: unknown) => {
      this.#rejectDone(e);
    });
    return step;
  }

  #act(command: RunCommand): void {
    switch (command.type) {
      case 'dispatch':
        this.#dispatch(command.key);
        break;
      case 'abort':
        this.#controllers.get(command.key)?.abort(new Error(command.reason));
        break;
      case 'finished':
        void Promise.all(this.#jobsInFlight).then(() => this.#resolveDone(command.status));
        break;
    }
  }

  #dispatch(key: string): void {
    const controller = new AbortController();
    this.#controllers.set(key, controller);
    const work = this.#runDispatched(key, controller)
      // A transition that could not be stored has already failed the run through `done` (#apply);
      // anything else failing here must do the same, never be left unhandled.
      .catch((error: unknown) => this.#rejectDone(error))
      .finally(() => {
        this.#controllers.delete(key);
        this.#jobsInFlight.delete(work);
      });
    this.#jobsInFlight.add(work);
  }

  async #runDispatched(key: string, controller: AbortController): Promise<void> {
    const release = await (this.#host.slotsFor?.(key) ?? this.#host.slots).acquire();
    try {
      // The job may have been cancelled while it waited for a slot.
      if (this.#state.jobs[key]?.status !== 'queued' || controller.signal.aborted) return;
      await this.#apply({ type: 'job-started', key });
      const job = this.#state.jobs[key];
      if (!job) return;
      let result: JobResult;
      try {
        const spec = await this.#host.jobSpec(job, this.#state, controller.signal);
        result = await this.#host.runJob(spec);
      } catch (error) {
        result = {
          status: 'failure',
          outputs: {},
          steps: [],
          tests: null,
          logTruncated: false,
          error: `could not run the job: ${(error as Error).message}`,
        };
      }
      await this.#apply({ type: 'job-finished', key, status: result.status, outputs: result.outputs }, result);
    } finally {
      release();
    }
  }
}

/** The `needs` context of a job: per needed job id, its merged result and outputs (matrix cells merged in key order). */
export function needsContext(state: RunState, job: JobState): Record<string, NeedsEntry> {
  const byJobId = new Map<string, JobState[]>();
  for (const key of job.needs) {
    const needed = state.jobs[key];
    if (!needed) continue;
    const list = byJobId.get(needed.jobId) ?? [];
    list.push(needed);
    byJobId.set(needed.jobId, list);
  }
  const out: Record<string, NeedsEntry> = {};
  for (const [jobId, cells] of byJobId) {
    cells.sort((a, b) => a.key.localeCompare(b.key));
    const result: NeedsEntry['result'] = cells.some((c) => c.status === 'failure')
      ? 'failure'
      : cells.some((c) => c.status === 'cancelled')
        ? 'cancelled'
        : cells.every((c) => c.status === 'success')
          ? 'success'
          : 'skipped';
    out[jobId] = { result, outputs: Object.assign({}, ...cells.map((c) => c.outputs)) as Record<string, string> };
  }
  return out;
}

function isFinal(s: RunStatus): boolean {
  return s === 'success' || s === 'failure' || s === 'cancelled';
}
