/**
 * Error-budget arithmetic, as the SRE workbook and Sloth/Pyrra define it: the budget is the
 * share of events allowed to be bad (1 − objective); the burn rate over a window is that
 * window's bad share divided by the budget (1× spends exactly the budget over the period).
 */

/** Good and total events over some span. Counts, so that spans add up exactly. */
export interface EventCounts {
  good: number;
  total: number;
}

export const NO_EVENTS: EventCounts = Object.freeze({ good: 0, total: 0 });

export function addCounts(a: EventCounts, b: EventCounts): EventCounts {
  return { good: a.good + b.good, total: a.total + b.total };
}

/** The bad share of a span; 0 with no events (no traffic spends no budget). */
export function errorRatio(counts: EventCounts): number {
  if (counts.total <= 0) return 0;
  return Math.min(1, Math.max(0, (counts.total - counts.good) / counts.total));
}

export function burnRate(counts: EventCounts, objective: number): number {
  return errorRatio(counts) / (1 - objective);
}

export interface BudgetStatus {
  /** The SLI over the period: good / total (1 with no events). */
  sli: number;
  /** Events over the period and, of them, how many may be bad (total × (1 − objective)). */
  total: number;
  allowedBad: number;
  bad: number;
  /** Shares of the budget: consumed may exceed 1, remaining then goes below 0. */
  consumed: number;
  remaining: number;
  /**
   * When the rest of the budget is gone if the current burn rate lasts: null when nothing
   * burns, 0 when the budget is already spent.
   */
  exhaustedInMs: number | null;
}

/**
 * The budget over the SLO's period. `currentBurnRate` is the rate to project forward (the
 * server uses the shortest page rule's long window: recent enough to matter, long enough not to
 * swing with every request).
 */
export function budgetStatus(period: EventCounts, objective: number, periodMs: number, currentBurnRate: number): BudgetStatus {
  const bad = Math.max(0, period.total - period.good);
  const consumed = burnRate(period, objective);
  const remaining = 1 - consumed;
  return {
    sli: period.total > 0 ? period.good / period.total : 1,
    total: period.total,
    allowedBad: period.total * (1 - objective),
    bad,
    consumed,
    remaining,
    exhaustedInMs: remaining <= 0 ? 0 : currentBurnRate > 0 ? (remaining * periodMs) / currentBurnRate : null,
  };
}
