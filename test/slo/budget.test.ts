import { describe, expect, it } from 'vitest';
import { budgetStatus, burnRate, errorRatio } from '../../src/slo/index.ts';

const DAY = 86_400_000;

describe('error budget', () => {
  it('burns at 1× when the bad share equals the budget, 14.4× at 1.44 % against 99.9 %', () => {
    expect(burnRate({ good: 999, total: 1000 }, 0.999)).toBeCloseTo(1, 12);
    expect(burnRate({ good: 9856, total: 10_000 }, 0.999)).toBeCloseTo(14.4, 9);
  });

  it('spends nothing without traffic', () => {
    expect(errorRatio({ good: 0, total: 0 })).toBe(0);
    expect(budgetStatus({ good: 0, total: 0 }, 0.999, 30 * DAY, 0)).toEqual({
      sli: 1,
      total: 0,
      allowedBad: 0,
      bad: 0,
      consumed: 0,
      remaining: 1,
      exhaustedInMs: null,
    });
  });

  it('reports consumed and remaining shares and when the rest runs out at the current rate', () => {
    // 1,000,000 requests, 250 bad against 99.9 %: 1,000 allowed, a quarter spent.
    const status = budgetStatus({ good: 999_750, total: 1_000_000 }, 0.999, 30 * DAY, 6);
    expect(status.allowedBad).toBeCloseTo(1000, 9);
    expect(status.bad).toBe(250);
    expect(status.consumed).toBeCloseTo(0.25, 12);
    expect(status.remaining).toBeCloseTo(0.75, 12);
    // At 6× the whole budget lasts 5 days; three quarters of it, 3.75 days.
    expect(status.exhaustedInMs).toBeCloseTo(3.75 * DAY, 0);
    expect(status.sli).toBeCloseTo(0.99975, 12);
  });

  it('lets consumption pass 100 % and says the budget is gone now', () => {
    const status = budgetStatus({ good: 970, total: 1000 }, 0.99, 30 * DAY, 3);
    expect(status.consumed).toBeCloseTo(3, 12);
    expect(status.remaining).toBeCloseTo(-2, 12);
    expect(status.exhaustedInMs).toBe(0);
  });
});
