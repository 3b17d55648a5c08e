/**
 * The default burn-rate alerts (the SRE workbook's, defined with the config in
 * src/core/slo-config.ts so gantry.yaml's schema can fill them in) and what a rule means for
 * the budget.
 */
import type { BurnRateRule } from '../core/slo-config.ts';

export { WORKBOOK_PERIOD_MS, WORKBOOK_RULES, defaultBurnRateRules } from '../core/slo-config.ts';

/** The share of the whole period's budget a rule lets burn before it fires (0.02 for the first). */
export function budgetSpentAtFiring(rule: BurnRateRule, periodMs: number): number {
  return (rule.burnRate * rule.longWindowMs) / periodMs;
}
