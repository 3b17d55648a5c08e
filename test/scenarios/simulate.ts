/**
 * A deterministic stand-in for the server's dispatch loop: it feeds the run reducer the events an
 * executor pool would produce (start when a slot is free, finish with a scripted outcome, report
 * `cancelled` after an abort) and records the commands it gets back. The choice of which action
 * happens next is pluggable so the property test can explore interleavings.
 */
import { FINAL_RUN_STATUSES } from '../../src/core/types.ts';
import { reduceRun } from '../../src/pipeline/run-reducer.ts';
import type { ConditionEnv, RunCommand, RunEvent, RunState } from '../../src/pipeline/run-reducer.ts';

export type OutcomeStatus = 'success' | 'failure' | 'cancelled' | 'interrupted';
export type Outcome = OutcomeStatus | { status: OutcomeStatus; outputs?: Record<string, string> };

export type Action = { kind: 'start'; key: string } | { kind: 'finish'; key: string } | { kind: 'cancel' };

export interface SimulationOptions {
  /** What the n-th run (1-based) of a job reports. */
  outcome: (key: string, run: number) => Outcome;
  /** What an aborted job reports; default 'cancelled'. */
  abortOutcome?: (key: string) => Outcome;
  /** Executor slots; default unlimited. */
  slots?: number;
  /** Picks the next action; default: aborted jobs report first, then starts (FIFO), then finishes (FIFO). */
  choose?: (actions: Action[], step: number) => Action;
  /** Extra events to send after an event, e.g. a cancel once some job has started. */
  after?: (event: RunEvent, state: RunState) => RunEvent[];
  /** Called with every state the reducer returns (invariant checks). */
  check?: (state: RunState) => void;
  maxSteps?: number;
}

export interface SimulationResult {
  state: RunState;
  commands: RunCommand[];
  /** Commands as short strings: `dispatch build`, `abort test (2)`, `finished failure`. */
  log: string[];
  /** Most instances of each job id running at the same time. */
  maxConcurrent: Record<string, number>;
}

export function formatCommand(command: RunCommand): string {
  return command.type === 'finished' ? `finished ${command.status}` : `${command.type} ${command.key}`;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export function simulate(initial: RunState, env: ConditionEnv, opts: SimulationOptions): SimulationResult {
  let state = deepFreeze(initial);
  const commands: RunCommand[] = [];
  const queue: string[] = [];
  const running: string[] = [];
  const aborted = new Set<string>();
  const runs = new Map<string, number>();
  const maxConcurrent: Record<string, number> = {};
  const slots = opts.slots ?? Infinity;
  const maxSteps = opts.maxSteps ?? 10_000;

  const apply = (event: RunEvent): void => {
    const t = reduceRun(state, event, env);
    state = deepFreeze(t.state);
    opts.check?.(state);
    for (const command of t.commands) {
      commands.push(command);
      if (command.type === 'dispatch') queue.push(command.key);
      if (command.type === 'abort') aborted.add(command.key);
    }
    for (const extra of opts.after?.(event, state) ?? []) apply(extra);
  };

  apply({ type: 'start' });
  for (let step = 0; !FINAL_RUN_STATUSES.includes(state.status); step++) {
    if (step > maxSteps) throw new Error(`no end after ${maxSteps} steps: ${JSON.stringify(statuses(state))}`);
    // The server drops a dispatch whose job is no longer queued (cancelled while it waited).
    for (let i = queue.length - 1; i >= 0; i--) if (state.jobs[queue[i] as string]?.status !== 'queued') queue.splice(i, 1);

    const actions: Action[] = [];
    for (const key of running) if (aborted.has(key)) actions.push({ kind: 'finish', key });
    if (running.length < slots) for (const key of queue) actions.push({ kind: 'start', key });
    for (const key of running) if (!aborted.has(key)) actions.push({ kind: 'finish', key });
    if (actions.length === 0) throw new Error(`stuck: nothing to do in ${JSON.stringify(statuses(state))}`);
    const action = opts.choose ? opts.choose(actions, step) : (actions[0] as Action);

    if (action.kind === 'cancel') {
      apply({ type: 'cancel' });
    } else if (action.kind === 'start') {
      queue.splice(queue.indexOf(action.key), 1);
      running.push(action.key);
      runs.set(action.key, (runs.get(action.key) ?? 0) + 1);
      const jobId = state.jobs[action.key]?.jobId ?? action.key;
      apply({ type: 'job-started', key: action.key });
      const busy = running.filter((key) => state.jobs[key]?.jobId === jobId).length;
      maxConcurrent[jobId] = Math.max(maxConcurrent[jobId] ?? 0, busy);
    } else {
      running.splice(running.indexOf(action.key), 1);
      const wasAborted = aborted.delete(action.key);
      const outcome = normalise(
        wasAborted ? (opts.abortOutcome?.(action.key) ?? 'cancelled') : opts.outcome(action.key, runs.get(action.key) ?? 1),
      );
      if (outcome.status === 'interrupted') apply({ type: 'job-interrupted', key: action.key });
      else apply({ type: 'job-finished', key: action.key, status: outcome.status, outputs: outcome.outputs ?? {} });
    }
  }
  return { state, commands, log: commands.map(formatCommand), maxConcurrent };
}

function normalise(outcome: Outcome): { status: OutcomeStatus; outputs?: Record<string, string> } {
  return typeof outcome === 'string' ? { status: outcome } : outcome;
}

export function statuses(state: RunState): Record<string, string> {
  return Object.fromEntries(Object.values(state.jobs).map((job) => [job.key, job.status]));
}
