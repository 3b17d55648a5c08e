/**
 * A canary's steps as a horizontal stepper: each step's canary weight and how long it holds,
 * done ones checked, the current one marked (`aria-current="step"`), then the promotion to
 * 100 %. Wraps onto several lines on a phone rather than scrolling.
 */
import { duration } from '../format.ts';

export interface CanaryStep {
  weight: number;
  /** null: until someone promotes. */
  pauseMs: number | null;
}

type StepState = 'done' | 'current' | 'todo' | 'stopped';

/** Which steps are behind, under way or ahead, from the rollout's phase and step index. */
function stateOf(index: number, stepIndex: number, phase: string, started: boolean): StepState {
  if (phase === 'promoting' || phase === 'succeeded') return 'done';
  if (!started || phase === 'pending-approval' || phase === 'starting') return 'todo';
  if (index < stepIndex) return 'done';
  if (index > stepIndex) return 'todo';
  if (phase === 'progressing' || phase === 'paused') return 'current';
  return 'stopped';
}

export function RolloutSteps({
  steps,
  stepIndex,
  phase,
  started,
}: {
  steps: CanaryStep[];
  stepIndex: number;
  phase: string;
  started: boolean;
}) {
  const promotion: StepState = phase === 'succeeded' ? 'done' : phase === 'promoting' ? 'current' : 'todo';
  return (
    <ol className="rollout-steps" aria-label="Canary steps">
      {steps.map((step, i) => {
        const state = stateOf(i, stepIndex, phase, started);
        return (
          <li
            key={i}
            className={`step ${state}${state === 'current' && phase === 'paused' ? ' paused' : ''}`}
            aria-current={state === 'current' ? 'step' : undefined}
            data-step={i + 1}
          >
            <span className="step-mark" aria-hidden="true">
              {state === 'done' ? '✓' : state === 'stopped' ? '✗' : i + 1}
            </span>
            <span className="step-body">
              <span className="step-weight">{step.weight} %</span>
              <span className="step-pause muted">{step.pauseMs === null ? 'until promoted' : `for ${duration(step.pauseMs)}`}</span>
              <span className="visually-hidden">
                {state === 'done'
                  ? ' (done)'
                  : state === 'current'
                    ? phase === 'paused'
                      ? ' (current, paused)'
                      : ' (current)'
                    : state === 'stopped'
                      ? ' (stopped here)'
                      : ''}
              </span>
            </span>
          </li>
        );
      })}
      <li className={`step ${promotion}`} aria-current={promotion === 'current' ? 'step' : undefined} data-step="promote">
        <span className="step-mark" aria-hidden="true">
          {promotion === 'done' ? '✓' : '↑'}
        </span>
        <span className="step-body">
          <span className="step-weight">100 %</span>
          <span className="step-pause muted">promote</span>
          <span className="visually-hidden">{promotion === 'done' ? ' (done)' : promotion === 'current' ? ' (current)' : ''}</span>
        </span>
      </li>
    </ol>
  );
}
