/**
 * The analysis defaults against the bench's scenario, simulated: 100 req/s split 10/90 between
 * canary and baseline (Poisson arrivals), 0.1 % errors on the baseline, log-normal latencies
 * (median 100 ms, σ 0.4), evaluated every simulated second on a sliding 10 s window. Seeds are
 * fixed, so every figure below is reproducible; the thresholds hold with margin over the rates
 * measured on 1000 trials (noted beside each).
 */
import { describe, expect, it } from 'vitest';
import type { AnalysisConfig } from '../../src/core/delivery-config.ts';
import { ANALYSIS_DEFAULTS } from '../../src/delivery/index.ts';
import { secondsToFail } from './simulation.ts';
import type { PoolModel } from './simulation.ts';

const CONFIG: AnalysisConfig = {
  ...ANALYSIS_DEFAULTS,
  errorRate: { max: 0.01, maxIncrease: 0.01 },
  latency: [
    { quantile: 0.99, maxMs: 500, maxIncreaseMs: 100 },
    { quantile: 0.5, maxIncreaseMs: 25 },
  ],
  prometheus: [],
};
const BASELINE: PoolModel = { requestsPerSecond: 90, errorRate: 0.001, medianMs: 100, sigma: 0.4 };
const HEALTHY: PoolModel = { ...BASELINE, requestsPerSecond: 10 };
const TRIALS = 100;

function trials(canary: PoolModel, seconds: number, seedBase: number): (number | null)[] {
  return Array.from({ length: TRIALS }, (_, i) =>
    secondsToFail(CONFIG, { seed: seedBase + i, canary, baseline: BASELINE, seconds, windowSeconds: 10 }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe('canary analysis, simulated', () => {
  it('fails at most 1 of 100 healthy canaries over 60 s (measured: 1 in 1000)', () => {
    const failed = trials(HEALTHY, 60, 1_000).filter((t) => t !== null);
    expect(failed.length).toBeLessThanOrEqual(1);
  });

  it('rarely fails a canary at half its error bound: ≤ 10/100 over 60 s at 0.5 % against max 1 % (measured: 5 %)', () => {
    // The price of catching bad canaries in seconds (see errorRateCheck): pins NULL_FRACTION.
    const onlyMax: AnalysisConfig = { ...CONFIG, errorRate: { max: 0.01 }, latency: [] };
    const failed = Array.from({ length: TRIALS }, (_, i) =>
      secondsToFail(onlyMax, {
        seed: 4_000 + i,
        canary: { ...HEALTHY, errorRate: 0.005 },
        baseline: BASELINE,
        seconds: 60,
        windowSeconds: 10,
      }),
    ).filter((t) => t !== null);
    expect(failed.length).toBeLessThanOrEqual(10);
  });

  it('catches a 5 % error canary (max 1 %) — median 5 s; ≥ 90/100 within 15 s, ≥ 99/100 within 30 s (measured: 92.7 %, 99.4 %)', () => {
    // ≥ 99/100 within 15 s is out of reach at these rates for any rule that spares healthy
    // canaries: the canary sees ~7.5 errors in its first 15 s and P(Poisson(7.5) ≤ 2) = 2 %, so
    // even firing on the 3rd error misses 2 % of trials, while firing on 2 errors in a 100-request
    // window fails ~5 % of healthy canaries per minute. See errorRateCheck in src/delivery/analysis.ts.
    const times = trials({ ...HEALTHY, errorRate: 0.05 }, 30, 2_000);
    const caught = times.filter((t): t is number => t !== null);
    expect(caught.filter((t) => t <= 15).length).toBeGreaterThanOrEqual(90);
    expect(caught.length).toBeGreaterThanOrEqual(99);
    expect(median(caught)).toBeLessThanOrEqual(6);
  });

  it('detects a canary 50 ms slower at p50 — median 2 s, all within 5 s', () => {
    const times = trials({ ...HEALTHY, shiftMs: 50 }, 30, 3_000);
    const caught = times.filter((t): t is number => t !== null);
    expect(caught.length).toBe(TRIALS);
    expect(median(caught)).toBeLessThanOrEqual(3);
    expect(Math.max(...caught)).toBeLessThanOrEqual(5);
  });

  it('names the failing check and its numbers when it fails a bad canary', () => {
    let failing: unknown = null;
    secondsToFail(
      CONFIG,
      { seed: 7, canary: { ...HEALTHY, errorRate: 0.2 }, baseline: BASELINE, seconds: 30, windowSeconds: 10 },
      (_, result) => {
        if (result.outcome === 'fail') failing = result.checks.find((c) => c.name === 'error-rate');
      },
    );
    expect(failing).toMatchObject({
      outcome: 'fail',
      threshold: 0.01,
      pValue: expect.any(Number),
      reason: expect.stringMatching(/errors \(\d+ of \d+ requests\) is above the 1% bound/),
    });
  });
});
