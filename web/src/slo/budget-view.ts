/**
 * How the dashboard reads an error budget at a glance: a level that decides the bar's colour and
 * word, the worst budget of each environment, window lengths as people say them, and alert
 * intervals clipped to a chart's span. Pure, tested in test/web/budget-view.test.ts.
 */
import type { AlertInterval, SloStatus } from './types.ts';

export type BudgetLevel = 'ok' | 'low' | 'exhausted';

/** Below a quarter left is worth a look; nothing left means the SLO is broken for the period. */
const LOW = 0.25;

export function budgetLevel(remaining: number): BudgetLevel {
  if (remaining <= 0) return 'exhausted';
  return remaining < LOW ? 'low' : 'ok';
}

/** The share of a bar to fill: the budget left, 0 once spent (it can go far below zero). */
export function barFraction(remaining: number): number {
  if (!Number.isFinite(remaining)) return 0;
  return Math.min(1, Math.max(0, remaining));
}

export interface WorstBudget {
  environment: string;
  /** The SLO with the least budget left; null when none is evaluated by Gantry. */
  slo: string | null;
  remaining: number | null;
  level: BudgetLevel | null;
  /** Severities of the environment's alerts firing now (any SLO). */
  firing: string[];
}

/**
 * Each environment's least remaining budget among the SLOs Gantry evaluates (Prometheus SLIs
 * are Prometheus's to judge), in the order environments first appear.
 */
export function worstBudgets(slos: readonly SloStatus[]): WorstBudget[] {
  const byEnv = new Map<string, WorstBudget>();
  for (const s of slos) {
    const worst = byEnv.get(s.environment) ?? { environment: s.environment, slo: null, remaining: null, level: null, firing: [] };
    byEnv.set(s.environment, worst);
    for (const [severity, state] of Object.entries(s.alerts))
      if (state.status === 'firing' && !worst.firing.includes(severity)) worst.firing.push(severity);
    if (!s.evaluated || (worst.remaining !== null && worst.remaining <= s.budget.remaining)) continue;
    worst.slo = s.slo.name;
    worst.remaining = s.budget.remaining;
    worst.level = budgetLevel(s.budget.remaining);
  }
  return [...byEnv.values()];
}

/** 417 → "0.4 s", 300000 → "5 min", 3600000 → "1 h", 259200000 → "3 d". */
export function windowLabel(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size) {
      const value = ms / size;
      return `${Number.isInteger(value) ? value : Number(value.toFixed(1))} ${unit}`;
    }
  }
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** Alert intervals within [fromMs, toMs]: clipped to it, a firing one running to its end. */
export function alertBands(
  alerts: readonly AlertInterval[],
  fromMs: number,
  toMs: number,
): { severity: string; fromMs: number; toMs: number; firing: boolean }[] {
  return alerts
    .filter((a) => a.fromMs <= toMs && (a.toMs ?? toMs) >= fromMs)
    .map((a) => ({
      severity: a.severity,
      fromMs: Math.max(fromMs, a.fromMs),
      toMs: Math.min(toMs, a.toMs ?? toMs),
      firing: a.toMs === null,
    }));
}
