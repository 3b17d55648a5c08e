import { describe, expect, it } from 'vitest';
import { alertBands, barFraction, budgetLevel, windowLabel, worstBudgets } from '../../web/src/slo/budget-view.ts';
import type { SloStatus } from '../../web/src/slo/types.ts';

function status(environment: string, name: string, remaining: number, o: Partial<SloStatus> = {}): SloStatus {
  return {
    environment,
    slo: { name, objective: 0.999, periodMs: 30 * 86_400_000, sli: { kind: 'availability' }, alerts: [] },
    budget: { sli: 1, total: 100, allowedBad: 0.1, bad: 0, consumed: 1 - remaining, remaining, exhaustedInMs: null },
    rules: [],
    alerts: { page: { status: 'inactive' }, ticket: { status: 'inactive' } },
    sinceMs: 0,
    evaluatedAtMs: 0,
    evaluated: true,
    problem: null,
    ...o,
  };
}

describe('error budgets at a glance', () => {
  it('calls a budget healthy, low under a quarter, spent at zero and below', () => {
    expect([1, 0.25, 0.2499, 0.01, 0, -3].map(budgetLevel)).toEqual(['ok', 'ok', 'low', 'low', 'exhausted', 'exhausted']);
    expect([1.2, 0.4, -5, Number.NaN].map(barFraction)).toEqual([1, 0.4, 0, 0]);
  });

  it("shows each environment's lowest evaluated budget and every alert firing there", () => {
    const worst = worstBudgets([
      status('production', 'availability', 0.8),
      status('production', 'latency', 0.1, {
        alerts: { page: { status: 'firing', sinceMs: 1, peakBurnRate: 20 }, ticket: { status: 'inactive' } },
      }),
      status('production', 'from-prometheus', -4, {
        evaluated: false,
        alerts: { ticket: { status: 'firing', sinceMs: 1, peakBurnRate: 2 } },
      }),
      status('staging', 'scraped', 0, { evaluated: false }),
    ]);
    expect(worst).toEqual([
      { environment: 'production', slo: 'latency', remaining: 0.1, level: 'low', firing: ['page', 'ticket'] },
      { environment: 'staging', slo: null, remaining: null, level: null, firing: [] },
    ]);
  });

  it('names windows the way people say them', () => {
    expect([417, 5000, 150_000, 300_000, 3_600_000, 21_600_000, 259_200_000].map(windowLabel)).toEqual([
      '0.4 s',
      '5 s',
      '2.5 min',
      '5 min',
      '1 h',
      '6 h',
      '3 d',
    ]);
  });

  it('clips alert intervals to the chart and runs a firing one to its end', () => {
    expect(
      alertBands(
        [
          { severity: 'ticket', fromMs: 0, toMs: 50, peakBurnRate: 1 },
          { severity: 'page', fromMs: 80, toMs: 150, peakBurnRate: 20 },
          { severity: 'page', fromMs: 170, toMs: null, peakBurnRate: null },
          { severity: 'page', fromMs: 300, toMs: null, peakBurnRate: null },
        ],
        100,
        200,
      ),
    ).toEqual([
      { severity: 'page', fromMs: 100, toMs: 150, firing: false },
      { severity: 'page', fromMs: 170, toMs: 200, firing: true },
    ]);
  });
});
