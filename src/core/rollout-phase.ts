/**
 * A rollout's lifecycle phases, in one place for the machine (src/delivery), the server, the CLI
 * and the dashboard. Transitions between them are the rollout reducer's alone.
 */
export type RolloutPhase =
  | 'pending-approval'
  | 'starting'
  | 'progressing'
  | 'paused'
  | 'promoting'
  | 'succeeded'
  | 'rolling-back'
  | 'rolled-back'
  | 'aborted'
  | 'failed';

export type FinalRolloutPhase = 'succeeded' | 'rolled-back' | 'aborted' | 'failed';

/** Phases a rollout never leaves. */
export const FINAL_ROLLOUT_PHASES: readonly FinalRolloutPhase[] = ['succeeded', 'rolled-back', 'aborted', 'failed'];

/** Whether the rollout is over (takes any string: API clients read phases as text). */
export function isFinalRollout(phase: string): phase is FinalRolloutPhase {
  return (FINAL_ROLLOUT_PHASES as readonly string[]).includes(phase);
}

/**
 * The event log's type for a rollout's end (data: `phase`, `reason`, `rolloutId`, `environment`).
 * The driver records each of the reducer's notes under a `rollout.` prefix, so the reducer's
 * `rollout.finished` note is stored as `rollout.rollout.finished`; readers of the log match this.
 */
export const ROLLOUT_FINISHED_EVENT = 'rollout.rollout.finished';
