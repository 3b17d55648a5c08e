/**
 * An error budget at a glance: how much is left as a bar and a number, coloured by level and
 * with the level in words (colour is never the only cue).
 */
import { barFraction, budgetLevel } from '../slo/budget-view.ts';
import './Slo.css';

const WORDS = { ok: 'healthy', low: 'low', exhausted: 'spent' } as const;

export function BudgetBar({ remaining, label, compact = false }: { remaining: number; label: string; compact?: boolean }) {
  const level = budgetLevel(remaining);
  // Far below zero is worth saying as it is: 16 times the budget spent reads -1500 %.
  const shown = `${(remaining * 100).toFixed(Math.abs(remaining) < 0.1 ? 1 : 0)} %`;
  return (
    <span
      className={`budget-bar budget-${level}${compact ? ' compact' : ''}`}
      data-budget-level={level}
      data-remaining={remaining.toFixed(4)}
    >
      <span
        className="budget-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(barFraction(remaining) * 100)}
        aria-valuetext={`${shown} of the error budget left (${WORDS[level]})`}
      >
        <span className="budget-fill" style={{ width: `${barFraction(remaining) * 100}%` }} />
      </span>
      <span className="budget-number">{shown}</span>
      {!compact && <span className="budget-word small">{WORDS[level]}</span>}
    </span>
  );
}
