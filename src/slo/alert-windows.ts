/**
 * The default burn-rate alerts: the SRE workbook's recommended multi-window, multi-burn-rate
 * parameters ("Alerting on SLOs", "Recommended parameters for an SLO-based alert") for a 30-day period, with every window scaled in
 * proportion to the SLO's period so that a 1-day SLO pages on 2-minute and 10-second windows and
 * tests can see real alerts in seconds. The burn rates stay as they are: a burn rate is already
 * relative to the period, so each rule still fires at the same share of the budget spent.
 */
import type { BurnRateRule } from '../core/slo-config.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The period the workbook's table is written for. */
export const WORKBOOK_PERIOD_MS = 30 * DAY;

/**
 * The workbook's table: page on 2 % of the budget spent in 1 h (14.4×) or 5 % in 6 h (6×),
 * open a ticket on 10 % in 3 days (1×); each long window paired with a short one of 1/12 of it
 * so that the alert stops soon after the burning does.
 */
export const WORKBOOK_RULES: readonly BurnRateRule[] = Object.freeze([
  { severity: 'page', burnRate: 14.4, longWindowMs: HOUR, shortWindowMs: 5 * MINUTE },
  { severity: 'page', burnRate: 6, longWindowMs: 6 * HOUR, shortWindowMs: 30 * MINUTE },
  { severity: 'ticket', burnRate: 1, longWindowMs: 3 * DAY, shortWindowMs: 6 * HOUR },
]);

/** The workbook's rules for an SLO of `periodMs`, windows scaled to it (whole milliseconds). */
export function defaultBurnRateRules(periodMs: number): BurnRateRule[] {
  const scale = periodMs / WORKBOOK_PERIOD_MS;
  return WORKBOOK_RULES.map((rule) => ({
    ...rule,
    longWindowMs: Math.round(rule.longWindowMs * scale),
    shortWindowMs: Math.round(rule.shortWindowMs * scale),
  }));
}

/** The share of the whole period's budget a rule lets burn before it fires (0.02 for the first). */
export function budgetSpentAtFiring(rule: BurnRateRule, periodMs: number): number {
  return (rule.burnRate * rule.longWindowMs) / periodMs;
}
