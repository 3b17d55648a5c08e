import { describe, expect, it } from 'vitest';
import type { AnalysisConfig } from '../../src/core/delivery-config.ts';
import { ANALYSIS_DEFAULTS, evaluateAnalysis } from '../../src/delivery/index.ts';
import type { AnalysisCheck, Histogram, Sample } from '../../src/delivery/index.ts';

function config(patch: Partial<AnalysisConfig>): AnalysisConfig {
  return { latency: [], prometheus: [], ...ANALYSIS_DEFAULTS, ...patch };
}

/** `requests` requests, `errors` of them failed, latency `ms` for all unless given. */
function sample(requests: number, errors: number, latency?: Histogram): Sample {
  return { requests, errors, latency: latency ?? [{ valueMs: 100, count: requests }] };
}

function check(checks: AnalysisCheck[], name: string): AnalysisCheck {
  const found = checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check ${name} in ${checks.map((c) => c.name).join(', ')}`);
  return found;
}

describe('evaluateAnalysis', () => {
  it('is inconclusive below minRequests, saying how many of how many', () => {
    const r = evaluateAnalysis(config({ errorRate: { max: 0.01 }, minRequests: 20 }), { canary: sample(12, 12), baseline: sample(900, 0) });
    expect(r.outcome).toBe('inconclusive');
    expect(check(r.checks, 'error-rate')).toMatchObject({ outcome: 'inconclusive', reason: expect.stringContaining('12 of 20') });
  });

  it('fails an error rate clearly above max, with the numbers', () => {
    const r = evaluateAnalysis(config({ errorRate: { max: 0.01 } }), { canary: sample(100, 6), baseline: sample(900, 1) });
    expect(r.outcome).toBe('fail');
    const c = check(r.checks, 'error-rate');
    expect(c).toMatchObject({ outcome: 'fail', value: 0.06, threshold: 0.01, baseline: 1 / 900 });
    expect(c.pValue).toBeLessThan(0.01);
    expect(c.reason).toContain('6 of 100');
  });

  it('never rolls back on fewer than minErrors canary errors, however the tests read them', () => {
    // The old bench's verdict: 2 errors in the first 20 requests against a clean baseline read as
    // p < 1 % against a 1 % bound — and a healthy canary at 1 % errors shows that in its first
    // seconds about 2 % of the time.
    const twoOfTwenty = evaluateAnalysis(config({ errorRate: { max: 0.01, maxIncrease: 0.01 } }), {
      canary: sample(20, 2),
      baseline: sample(180, 0),
    });
    expect(twoOfTwenty.outcome).toBe('pass');
    expect(check(twoOfTwenty.checks, 'error-rate').reason).toMatch(
      /is above the 1% bound .*but 2 errors are fewer than the 4 a rollback needs/,
    );
    // The same rate with the minimum evidence: a fail.
    expect(
      evaluateAnalysis(config({ errorRate: { max: 0.01, maxIncrease: 0.01 } }), { canary: sample(40, 4), baseline: sample(360, 0) })
        .outcome,
    ).toBe('fail');
    // The floor is a setting: at min-errors 2 the two errors are enough again.
    expect(
      evaluateAnalysis(config({ errorRate: { max: 0.01 }, minErrors: 2 }), { canary: sample(20, 2), baseline: sample(180, 0) }).outcome,
    ).toBe('fail');
  });

  it('does not fail a rate above max that could be noise, nor any rate at or below max', () => {
    // 2 errors in 100: above 1 % but a canary at 0.5 % does that 9 % of the time.
    const noisy = check(
      evaluateAnalysis(config({ errorRate: { max: 0.01 } }), { canary: sample(100, 2), baseline: sample(900, 0) }).checks,
      'error-rate',
    );
    expect(noisy.outcome).toBe('pass');
    expect(noisy.reason).toContain('not significantly');
    // At the bound exactly, however much traffic: never a fail.
    expect(
      check(
        evaluateAnalysis(config({ errorRate: { max: 0.01 } }), { canary: sample(100_000, 1000), baseline: sample(1, 0) }).checks,
        'error-rate',
      ).outcome,
    ).toBe('pass');
    // Well above it with lots of traffic: a fail.
    expect(
      check(
        evaluateAnalysis(config({ errorRate: { max: 0.01 } }), { canary: sample(100_000, 1200), baseline: sample(1, 0) }).checks,
        'error-rate',
      ).outcome,
    ).toBe('fail');
  });

  it('compares the error rate with the baseline: significant AND beyond the allowed increase', () => {
    const cfg = config({ errorRate: { maxIncrease: 0.02 } });
    // 10 % against 1 %: both.
    expect(
      check(evaluateAnalysis(cfg, { canary: sample(200, 20), baseline: sample(2000, 20) }).checks, 'error-rate-increase'),
    ).toMatchObject({ outcome: 'fail', value: 0.1, baseline: 0.01, threshold: 0.02 });
    // 2.5 % against 1 % with lots of traffic: significant, but within +2 %.
    const small = check(
      evaluateAnalysis(cfg, { canary: sample(100_000, 2500), baseline: sample(900_000, 9000) }).checks,
      'error-rate-increase',
    );
    expect(small.outcome).toBe('pass');
    // One error against a clean baseline: the z-test would call it p ≈ 0.001; the exact test does not.
    expect(check(evaluateAnalysis(cfg, { canary: sample(40, 1), baseline: sample(900, 0) }).checks, 'error-rate-increase').outcome).toBe(
      'pass',
    );
  });

  it('judges the increase with a sequential test: fails only once the likelihood ratio reaches 1/α, and reports 1/LR as p', () => {
    // 10/90 traffic, allowance +2 %, baseline at 0.56 %: the SPRT's alternative is the baseline
    // (floored at 1 %) + 4 %, a rate ratio of 5. Each canary error multiplies the likelihood
    // ratio by 0.357/0.1, each baseline error by 0.643/0.9; 1/α = 100 at the default 99 %.
    const cfg = config({ errorRate: { maxIncrease: 0.02 } });
    const llr = (x: number, y: number): number => x * Math.log(0.5 / 1.4 / 0.1) + y * Math.log(0.9 / 1.4 / 0.9);
    // 4 canary errors in 40 against 2 in 360: +9.4 % observed, but LR = e^4.42 < 100 — noise a
    // healthy canary shows often enough over 180 looks (the per-look tests failed it).
    const four = check(evaluateAnalysis(cfg, { canary: sample(40, 4), baseline: sample(360, 2) }).checks, 'error-rate-increase');
    expect(four).toMatchObject({ outcome: 'pass', pValue: expect.closeTo(Math.exp(-llr(4, 2)), 10) });
    expect(four.reason).toContain('not yet significantly (sequential p = 0.012 > 0.01)');
    // One more canary error: LR = e^5.69 ≥ 100.
    const five = check(evaluateAnalysis(cfg, { canary: sample(50, 5), baseline: sample(450, 2) }).checks, 'error-rate-increase');
    expect(five).toMatchObject({ outcome: 'fail', pValue: expect.closeTo(Math.exp(-llr(5, 2)), 10) });
    expect(five.reason).toContain('(sequential p = 0.0034)');
  });

  it('is inconclusive on comparisons without baseline traffic', () => {
    const r = evaluateAnalysis(config({ errorRate: { maxIncrease: 0.01 }, latency: [{ quantile: 0.5, maxIncreaseMs: 10 }] }), {
      canary: sample(100, 0),
      baseline: { requests: 0, errors: 0, latency: [] },
    });
    expect(r.outcome).toBe('inconclusive');
    expect(r.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['error-rate-increase', 'inconclusive'],
      ['latency-p50-increase', 'inconclusive'],
    ]);
    expect(r.checks[0]?.reason).toContain('no baseline traffic');
  });

  it('fails a quantile above its absolute bound only with enough samples above it', () => {
    const cfg = config({ latency: [{ quantile: 0.99, maxMs: 300 }] });
    // 5 of 100 above 300 ms: a true p99 ≤ 300 gives that with p = 0.0034.
    const over = check(
      evaluateAnalysis(cfg, {
        canary: sample(100, 0, [
          { valueMs: 100, count: 95 },
          { valueMs: 450, count: 5 },
        ]),
        baseline: sample(900, 0),
      }).checks,
      'latency-p99',
    );
    expect(over).toMatchObject({ outcome: 'fail', value: 450, threshold: 300 });
    expect(over.pValue).toBeCloseTo(0.0034323, 5);
    // 2 of 100: the observed p99 is above, but that is ordinary for a p99 at the bound.
    const noise = check(
      evaluateAnalysis(cfg, {
        canary: sample(100, 0, [
          { valueMs: 100, count: 98 },
          { valueMs: 450, count: 2 },
        ]),
        baseline: sample(900, 0),
      }).checks,
      'latency-p99',
    );
    expect(noise.outcome).toBe('pass');
  });

  it('fails a canary slower than the baseline by more than maxIncreaseMs, via Mann-Whitney', () => {
    const cfg = config({ latency: [{ quantile: 0.5, maxIncreaseMs: 20 }] });
    const spread = (offset: number, n: number): Histogram =>
      Array.from({ length: 10 }, (_, i) => ({ valueMs: 80 + i * 5 + offset, count: n / 10 }));
    const slower = check(
      evaluateAnalysis(cfg, { canary: sample(100, 0, spread(50, 100)), baseline: sample(900, 0, spread(0, 900)) }).checks,
      'latency-p50-increase',
    );
    expect(slower).toMatchObject({ outcome: 'fail', value: 150, baseline: 100, threshold: 20 });
    expect(slower.pValue).toBeLessThan(1e-6);
    // 10 ms slower: real, but within the allowance.
    expect(
      check(
        evaluateAnalysis(cfg, { canary: sample(100, 0, spread(10, 100)), baseline: sample(900, 0, spread(0, 900)) }).checks,
        'latency-p50-increase',
      ).outcome,
    ).toBe('pass');
    // 25 ms slower at p50 on 20 samples that overlap the baseline: not significant enough.
    const few = check(
      evaluateAnalysis(cfg, {
        canary: sample(20, 0, [
          { valueMs: 125, count: 11 },
          { valueMs: 80, count: 9 },
        ]),
        baseline: sample(900, 0, spread(0, 900)),
      }).checks,
      'latency-p50-increase',
    );
    expect(few.outcome).toBe('pass');
    expect(few.reason).toContain('not significantly');
  });

  describe('slo check', () => {
    const availability = { name: 'availability', maxBurnRate: 14.4, objective: 0.999, sli: { kind: 'availability' } } as const;

    it("fails a canary burning the SLO's budget above max-burn-rate, with its burn rate and the stable pool's", () => {
      // 99.9 %: a budget of 0.1 %; 14.4× burns 1.44 % of requests. 8 errors in 200 is 4 %, a burn rate of 40.
      const r = evaluateAnalysis(config({ slo: availability }), { canary: sample(200, 8), baseline: sample(1800, 2) });
      expect(r.outcome).toBe('fail');
      const c = check(r.checks, 'slo-availability-burn-rate');
      expect(c).toMatchObject({
        outcome: 'fail',
        value: expect.closeTo(40, 9),
        baseline: expect.closeTo(2 / 1800 / 0.001, 9),
        threshold: 14.4,
      });
      expect(c.reason).toMatch(/^burn rate 40 of SLO 'availability' \(8 of 200 requests errors, objective 99\.9%\) is above 14\.4 \(p = /);
    });

    it('does not fail on 1 error in 3 requests, nor on a burn rate that could be noise', () => {
      // 1 in 3 is a burn rate of 333, and no evidence: too little traffic, then too few errors.
      expect(
        check(
          evaluateAnalysis(config({ slo: availability }), { canary: sample(3, 1), baseline: sample(30, 0) }).checks,
          'slo-availability-burn-rate',
        ).outcome,
      ).toBe('inconclusive');
      const oneIn30 = check(
        evaluateAnalysis(config({ slo: availability, minRequests: 1 }), { canary: sample(30, 1), baseline: sample(300, 0) }).checks,
        'slo-availability-burn-rate',
      );
      expect(oneIn30.outcome).toBe('pass');
      // 4 errors in 150 (burn rate 26.7) against a bound of 1.44 %: p(≥ 4 | 0.72 %) ≈ 0.02 > 0.01, not significant.
      const noisy = check(
        evaluateAnalysis(config({ slo: availability }), { canary: sample(150, 4), baseline: sample(1350, 1) }).checks,
        'slo-availability-burn-rate',
      );
      expect(noisy).toMatchObject({ outcome: 'pass', reason: expect.stringContaining('not significantly') });
    });

    it('counts requests slower than the threshold for a latency SLO', () => {
      const latency = { name: 'fast', maxBurnRate: 6, objective: 0.99, sli: { kind: 'latency', thresholdMs: 300 } } as const;
      // 99 % within 300 ms; 6× burns 6 %: 20 of 100 canary requests at 500 ms is a burn rate of 20.
      const slow = sample(100, 0, [
        { valueMs: 100, count: 80 },
        { valueMs: 500, count: 20 },
      ]);
      const c = check(evaluateAnalysis(config({ slo: latency }), { canary: slow, baseline: sample(900, 0) }).checks, 'slo-fast-burn-rate');
      expect(c).toMatchObject({ outcome: 'fail', value: expect.closeTo(20, 9), baseline: 0 });
      expect(c.reason).toContain('20 of 100 requests slower than 300 ms');
    });

    it('is inconclusive when the SLO was not resolved from the file', () => {
      const c = check(
        evaluateAnalysis(config({ slo: { name: 'gone', maxBurnRate: 2 } }), { canary: sample(100, 50), baseline: sample(900, 0) }).checks,
        'slo-gone-burn-rate',
      );
      expect(c).toMatchObject({ outcome: 'inconclusive', reason: "SLO 'gone' is not in this configuration" });
    });
  });

  it('checks Prometheus values against min and max; no value is inconclusive', () => {
    const cfg = config({
      prometheus: [
        { name: 'saturation', query: 'q1', max: 0.8 },
        { name: 'throughput', query: 'q2', min: 10 },
      ],
    });
    const r = evaluateAnalysis(cfg, { canary: sample(0, 0), baseline: sample(0, 0), prometheus: { saturation: 0.5, throughput: 4 } });
    expect(r.outcome).toBe('fail');
    expect(r.checks.map((c) => [c.name, c.outcome, c.threshold])).toEqual([
      ['prometheus:saturation', 'pass', 0.8],
      ['prometheus:throughput', 'fail', 10],
    ]);
    const missing = evaluateAnalysis(cfg, { canary: sample(0, 0), baseline: sample(0, 0), prometheus: { saturation: null } });
    expect(missing.outcome).toBe('inconclusive');
    expect(missing.checks.every((c) => c.outcome === 'inconclusive')).toBe(true);
  });

  it('combines: any fail → fail, else any inconclusive → inconclusive, else pass', () => {
    const cfg = config({ errorRate: { max: 0.01 }, prometheus: [{ name: 'm', query: 'q', max: 1 }] });
    const window = { canary: sample(100, 0), baseline: sample(900, 0) };
    expect(evaluateAnalysis(cfg, { ...window, prometheus: { m: 0 } }).outcome).toBe('pass');
    expect(evaluateAnalysis(cfg, { ...window, prometheus: {} }).outcome).toBe('inconclusive');
    expect(evaluateAnalysis(cfg, { canary: sample(100, 20), baseline: sample(900, 0), prometheus: {} }).outcome).toBe('fail');
    expect(evaluateAnalysis(config({}), window)).toEqual({ outcome: 'pass', checks: [] });
  });
});
