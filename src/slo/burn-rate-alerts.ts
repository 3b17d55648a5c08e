/**
 * Burn-rate alerts as a pure state machine. An SLO has one alert per severity (page, ticket);
 * it fires when any of that severity's rules holds (long AND short window above the rule's burn
 * rate — the workbook's "OR across pairs") and resolves when none does. Because each rule needs
 * its short window too, an alert stops soon after the burning stops rather than when the long
 * window forgets it. One alert per severity, not per rule or per evaluation, so a page opens one
 * incident however many rules and evaluations agree.
 */
import type { AlertSeverity, BurnRateRule } from '../core/slo-config.ts';

/** A rule's two burn rates at one evaluation. */
export interface RuleReading {
  rule: BurnRateRule;
  longBurnRate: number;
  shortBurnRate: number;
  holds: boolean;
}

export type AlertState = { status: 'inactive' } | { status: 'firing'; sinceMs: number; peakBurnRate: number };

export const INACTIVE: AlertState = Object.freeze({ status: 'inactive' });

/** What changed at an evaluation; the server records each as an event with these numbers. */
export type AlertTransition =
  | { type: 'fired'; severity: AlertSeverity; atMs: number; readings: RuleReading[] }
  | { type: 'resolved'; severity: AlertSeverity; atMs: number; firedAtMs: number; peakBurnRate: number; readings: RuleReading[] };

/**
 * Reads every rule's windows through `burnRateOver(windowMs)`. A rule holds only once the
 * history covers its long window (`observedMs`, how far back events have been recorded): over a
 * few seconds of a new service's traffic one failed request is a burn rate of hundreds, and
 * the workbook's thresholds assume the whole window was measured.
 */
export function readRules(rules: readonly BurnRateRule[], burnRateOver: (windowMs: number) => number, observedMs: number): RuleReading[] {
  return rules.map((rule) => {
    const longBurnRate = burnRateOver(rule.longWindowMs);
    const shortBurnRate = burnRateOver(rule.shortWindowMs);
    const covered = observedMs >= rule.longWindowMs;
    return { rule, longBurnRate, shortBurnRate, holds: covered && longBurnRate > rule.burnRate && shortBurnRate > rule.burnRate };
  });
}

/** One evaluation of one severity's alert: the next state, and the transition if there was one. */
export function stepAlert(
  state: AlertState,
  severity: AlertSeverity,
  readings: readonly RuleReading[],
  nowMs: number,
): { state: AlertState; transition?: AlertTransition } {
  const own = readings.filter((r) => r.rule.severity === severity);
  const holding = own.filter((r) => r.holds);
  if (state.status === 'inactive') {
    if (holding.length === 0) return { state };
    return {
      state: { status: 'firing', sinceMs: nowMs, peakBurnRate: highest(holding) },
      transition: { type: 'fired', severity, atMs: nowMs, readings: own },
    };
  }
  if (holding.length > 0) return { state: { ...state, peakBurnRate: Math.max(state.peakBurnRate, highest(holding)) } };
  return {
    state: INACTIVE,
    transition: { type: 'resolved', severity, atMs: nowMs, firedAtMs: state.sinceMs, peakBurnRate: state.peakBurnRate, readings: own },
  };
}

/** The burn rate to report for firing rules: each rule's lower window, the one that proves it. */
function highest(readings: readonly RuleReading[]): number {
  return Math.max(...readings.map((r) => Math.min(r.longBurnRate, r.shortBurnRate)));
}
