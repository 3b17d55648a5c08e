/**
 * Canary analysis: one window of canary and baseline metrics in, a pass/fail/inconclusive
 * verdict out, with every check's numbers so a rollback can say exactly why. Stateless and pure:
 * the rollout controller builds the window (the proxy's per-second buckets summed over
 * `windowMs`, never before the rollout started, plus any Prometheus values) and calls this every
 * second or so.
 *
 * Every statistical check fails only when two things hold: the canary is worse than its bound
 * in the point estimate, AND a one-sided test says so at α = 1 − `confidence`. The first keeps a
 * significant-but-tiny difference from rolling back; the second keeps noise from doing it.
 *
 * Being called every second is the hard part: each call is another chance for noise to pass a
 * test at α. The error-rate increase, the check a noisy healthy canary meets most, is therefore
 * a sequential test whose false alarms stay below α over every look (docs/decisions/0020). The
 * others are fixed-level tests; on the default window (everything since the canary began) a
 * healthy canary's counts only grow, its evidence only gets stronger, and the chance that a later
 * look fails it shrinks fast — with 1 % errors on both sides every simulated false rollback came
 * in the first ten seconds. That first stretch is closed by `minErrors`, the least evidence a
 * rollback needs (docs/decisions/0014).
 */
import {
  ANALYSIS_DEFAULTS,
  type AnalysisConfig,
  type LatencyCheckConfig,
  type PrometheusCheckConfig,
  type SloBurnCheckConfig,
} from '../core/delivery-config.ts';
import { binomialUpperTail, countAbove, errorSplitSprt, mannWhitneyU, quantile, sortedHistogram } from './analysis-stats.ts';
import type { Histogram } from './analysis-stats.ts';

/** What one pool did in the window. `errors` are failures the app is blamed for (5xx it produced, and connection failures the proxy could not retry). */
export interface Sample {
  requests: number;
  errors: number;
  latency: Histogram;
}

/** The input of one evaluation: the same window for both pools, and Prometheus values by check name (null = the query returned nothing). */
export interface AnalysisWindow {
  canary: Sample;
  baseline: Sample;
  prometheus?: Record<string, number | null>;
}

export type CheckOutcome = 'pass' | 'fail' | 'inconclusive';

/**
 * One check's verdict and numbers. `value` is the canary's figure (a rate 0..1, milliseconds,
 * or the Prometheus value), `baseline` the stable pool's in the same window. `threshold` is the
 * configured bound: on `*-increase` checks it bounds `value − baseline`.
 */
export interface AnalysisCheck {
  name: string;
  outcome: CheckOutcome;
  value: number | null;
  baseline: number | null;
  threshold: number | null;
  pValue: number | null;
  reason: string;
}

/** Any fail → fail; else any inconclusive → inconclusive; else pass (also when nothing is configured). */
export interface AnalysisResult {
  outcome: CheckOutcome;
  checks: AnalysisCheck[];
}

/**
 * Defaults for the analysis settings gantry.yaml may leave out, tuned by the simulation in
 * test/delivery/analysis-simulation.test.ts and bench/delivery-analysis-noise.ts: at 10 req/s on
 * the canary, 20 requests is two seconds of traffic; the 5-minute window is the canary's whole
 * history for its first five minutes; 4 errors and 99 % fail ~0.5 % of healthy canaries at 1 %
 * background errors and catch a 6 % one in a median of 9 s (p90 21 s).
 */
export { ANALYSIS_DEFAULTS };

/**
 * Where each statistical check puts its null hypothesis, as a fraction of the allowance: the
 * error-rate `max` check tests H0 "rate ≤ max × ½", the increase checks H0 "canary ≤ baseline +
 * ½ × allowed increase". A check fails only when the point estimate is beyond the whole
 * allowance and the test rejects this null (see `errorRateCheck` for the figures behind ½).
 */
export const NULL_FRACTION = 0.5;

/** Evaluates every configured check on one window. */
export function evaluateAnalysis(config: AnalysisConfig, input: AnalysisWindow): AnalysisResult {
  // Normalised once: every latency check below then scans the buckets linearly.
  const window: AnalysisWindow = {
    ...input,
    canary: { ...input.canary, latency: sortedHistogram(input.canary.latency) },
    baseline: { ...input.baseline, latency: sortedHistogram(input.baseline.latency) },
  };
  const alpha = Math.min(1, Math.max(0, 1 - config.confidence));
  const checks: AnalysisCheck[] = [];
  const gate = trafficGate(config, window.canary);
  const errorRate = config.errorRate;
  if (errorRate?.max !== undefined)
    checks.push(
      gate('error-rate', errorRate.max) ?? fewErrors(errorRateCheck(errorRate.max, window, alpha), window.canary.errors, config.minErrors),
    );
  if (errorRate?.maxIncrease !== undefined)
    checks.push(
      gate('error-rate-increase', errorRate.maxIncrease) ??
        fewErrors(errorIncreaseCheck(errorRate.maxIncrease, window, alpha), window.canary.errors, config.minErrors),
    );
  for (const latency of config.latency) {
    const name = `latency-${quantileLabel(latency.quantile)}`;
    if (latency.maxMs !== undefined)
      checks.push(gate(name, latency.maxMs) ?? latencyBoundCheck(name, latency, latency.maxMs, window, alpha));
    if (latency.maxIncreaseMs !== undefined)
      checks.push(
        gate(`${name}-increase`, latency.maxIncreaseMs) ??
          latencyIncreaseCheck(`${name}-increase`, latency, latency.maxIncreaseMs, window, alpha),
      );
  }
  if (config.slo !== undefined) {
    const slo = config.slo;
    const name = `slo-${slo.name}-burn-rate`;
    const bad = sloBadEvents(slo, window.canary);
    checks.push(gate(name, slo.maxBurnRate) ?? fewErrors(sloBurnCheck(name, slo, window, alpha), bad.bad, config.minErrors));
  }
  for (const prometheus of config.prometheus) checks.push(prometheusCheck(prometheus, window.prometheus?.[prometheus.name]));
  return { outcome: overall(checks), checks };
}

function overall(checks: AnalysisCheck[]): CheckOutcome {
  if (checks.some((c) => c.outcome === 'fail')) return 'fail';
  if (checks.some((c) => c.outcome === 'inconclusive')) return 'inconclusive';
  return 'pass';
}

/** Traffic checks say nothing below `minRequests` canary requests (Prometheus checks have their own data). */
function trafficGate(config: AnalysisConfig, canary: Sample): (name: string, threshold: number) => AnalysisCheck | null {
  return (name, threshold) => {
    if (canary.requests >= config.minRequests && canary.requests > 0) return null;
    return {
      name,
      outcome: 'inconclusive',
      value: null,
      baseline: null,
      threshold,
      pValue: null,
      reason: `too little traffic: ${canary.requests} of ${Math.max(1, config.minRequests)} required canary requests in the window`,
    };
  };
}

/**
 * The least evidence a rollback needs: an error-rate check that failed on fewer than `minErrors`
 * canary errors passes instead, saying so. The checks run every second on counts that grow from
 * the canary's first request, so the first seconds — a handful of requests, where one or two
 * errors already look significant — are where repeated looks would fail healthy canaries; a
 * floor on the errors themselves closes that door while a bad canary reaches it within seconds
 * (see the simulation in test/delivery/analysis-simulation.test.ts for the figures).
 */
function fewErrors(check: AnalysisCheck, errors: number, minErrors: number): AnalysisCheck {
  if (check.outcome !== 'fail' || errors >= minErrors) return check;
  return { ...check, outcome: 'pass', reason: `${check.reason}, but ${errors} errors are fewer than the ${minErrors} a rollback needs` };
}

/**
 * Absolute error-rate bound. Fails when the observed rate is above `max` AND an exact binomial
 * test rejects H0 "rate ≤ max/2" at α.
 *
 * Why not H0 "rate ≤ max" (the textbook one-sample test) or Wald's SPRT with p0 = max/2,
 * p1 = max: at the bench's 10 canary requests/s a 5 % canary produces ~0.5 errors/s, so over a
 * 10 s window a rule must fire on 3–4 errors to catch it within seconds. Against H0 = max that
 * takes 4–5 errors per 100 requests and caught the bad canary within 15 s in only ~81 % of
 * simulated trials; the SPRT (p0 = max/2, p1 = max) needs ~8 errors in 150 requests (ln 2 per
 * error against ln(99) ≈ 4.6), slower still — telling 0.5 % from 1 % takes thousands of
 * requests. The exact test at max/2 (with the default window, 98 % and `minErrors` 4: 0014) catches
 * it in ~94 % of trials within 15 s (median 8 s, all within 30 s) while a canary at the
 * baseline's 0.1 % is failed in 0.1 % of 60 s trials. The price is stated plainly: a canary
 * sitting at half its bound is failed ~3.4 % of the time over a minute, one exactly at the bound
 * ~39 % (simulation figures, same setup); a canary whose observed rate is at or below `max` is
 * never failed by this check.
 */
function errorRateCheck(max: number, window: AnalysisWindow, alpha: number): AnalysisCheck {
  const { requests, errors } = window.canary;
  const rate = errors / requests;
  const baseline = window.baseline.requests > 0 ? window.baseline.errors / window.baseline.requests : null;
  const pValue = binomialUpperTail(errors, requests, max * NULL_FRACTION);
  const above = rate > max;
  const fail = above && pValue <= alpha;
  const observed = `${percent(rate)} errors (${errors} of ${requests} requests)`;
  const reason = fail
    ? `${observed} is above the ${percent(max)} bound (p = ${pvalue(pValue)})`
    : above
      ? `${observed} is above the ${percent(max)} bound but not significantly (p = ${pvalue(pValue)} > ${pvalue(alpha)})`
      : `${observed} is within the ${percent(max)} bound`;
  return { name: 'error-rate', outcome: fail ? 'fail' : 'pass', value: rate, baseline, threshold: max, pValue, reason };
}

/**
 * The alternative the error-rate-increase SPRT is tuned for, in allowances above the baseline: a
 * canary failing at the baseline's rate + 2 × `maxIncrease` (5 % against 1 % with `max-increase:
 * 2%`). Wald's test is quickest at its alternative; the 6 %-against-1 % bad canary of the
 * benchmarks sits just past it. Tuning it at 1 allowance (3 %) caught 6 % canaries later, at 3
 * (7 %) no sooner and with more false rollbacks (bench/delivery-analysis-noise.ts).
 */
export const ALTERNATIVE_ALLOWANCES = 2;

/**
 * Error rate against the baseline. Fails when canary − baseline exceeds `maxIncrease` in the
 * point estimate AND a sequential probability ratio test on how the errors split between the
 * pools (`errorSplitSprt`: H0 "the canary fails no more often than the baseline" against "it
 * fails at the baseline's rate + 2 × maxIncrease") reaches 1/α. The SPRT's false-alarm rate
 * holds however often it is looked at, so a healthy canary is failed with probability ≤ α over
 * its whole analysis, not α per look (docs/decisions/0020). The alternative's rate ratio is set
 * from the baseline's rate so far (floored at half the allowance); the baseline has most of the
 * traffic, so it moves little once the canary has a few errors, and the simulation shows the
 * bound holding with it (a ratio fixed in advance would make it exact, but no fixed ratio fits
 * both a 0.1 % and a 5 % baseline).
 *
 * The price is stated plainly: H0 is "no worse than the baseline", so a canary worse by less
 * than the allowance (2 % against 1 % with max-increase 2 %) is eventually significant, and is
 * failed whenever its noisy point estimate then crosses the allowance — 17–19 of 100 such
 * canaries in 3 minutes at 10 requests/s (11 with the fixed-level tests this replaced). A
 * null at half the allowance spares them but needs twice the errors to catch a bad canary.
 */
function errorIncreaseCheck(maxIncrease: number, window: AnalysisWindow, alpha: number): AnalysisCheck {
  const { canary, baseline } = window;
  const rate = canary.errors / canary.requests;
  if (baseline.requests <= 0) {
    return {
      name: 'error-rate-increase',
      outcome: 'inconclusive',
      value: rate,
      baseline: null,
      threshold: maxIncrease,
      pValue: null,
      reason: 'no baseline traffic in the window to compare with',
    };
  }
  const baseRate = baseline.errors / baseline.requests;
  // The baseline's rate, but never below half the allowance: a clean baseline (no errors yet in
  // the first seconds) would otherwise put the alternative at an enormous ratio, where two or
  // three canary errors already reach 1/α. The floor caps the ratio at 1 + 2·2 = 5.
  const rateFloor = Math.max(baseRate, maxIncrease / 2);
  const ratio = Math.min(1, rateFloor + ALTERNATIVE_ALLOWANCES * maxIncrease) / rateFloor;
  const sprt = errorSplitSprt(canary.errors, canary.requests, baseline.errors, baseline.requests, ratio);
  // 1 / likelihood ratio: the always-valid p-value of this look (Ville), comparable with α.
  const pValue = Math.min(1, Math.exp(-sprt.llr));
  const increase = rate - baseRate;
  const above = increase > maxIncrease;
  const fail = above && pValue <= alpha;
  const observed = `${percent(rate)} errors (${canary.errors}/${canary.requests}) against ${percent(baseRate)} on stable (${baseline.errors}/${baseline.requests})`;
  const reason = fail
    ? `${observed}: +${percent(increase)} is more than the allowed +${percent(maxIncrease)} (sequential p = ${pvalue(pValue)})`
    : above
      ? `${observed}: +${percent(increase)} is more than +${percent(maxIncrease)} but not yet significantly (sequential p = ${pvalue(pValue)} > ${pvalue(alpha)})`
      : `${observed}: within +${percent(maxIncrease)}`;
  return {
    name: 'error-rate-increase',
    outcome: fail ? 'fail' : 'pass',
    value: rate,
    baseline: baseRate,
    threshold: maxIncrease,
    pValue,
    reason,
  };
}

/** A pool's bad and total events under an SLO's SLI: 5xx for availability, requests slower than the threshold for latency. */
function sloBadEvents(slo: SloBurnCheckConfig, sample: Sample): { bad: number; total: number } {
  if (slo.sli?.kind === 'latency') {
    const { above, total } = countAbove(sample.latency, slo.sli.thresholdMs);
    return { bad: above, total };
  }
  return { bad: sample.errors, total: sample.requests };
}

/**
 * An SLO's burn rate as a canary check: the canary's bad share of its own events in the window
 * over the SLO's error budget (1 − objective). The same care as the absolute error-rate bound,
 * which it is once the budget is multiplied out: it fails when the observed burn rate is above
 * `maxBurnRate` AND an exact binomial test rejects "the bad share is at most half the share
 * that bound allows" at α — and, through `fewErrors`, never on fewer than `minErrors` bad events
 * (1 error in 3 requests is a burn rate of 333 against 99.9 %, and no evidence of anything).
 */
function sloBurnCheck(name: string, slo: SloBurnCheckConfig, window: AnalysisWindow, alpha: number): AnalysisCheck {
  if (slo.objective === undefined) {
    return {
      name,
      outcome: 'inconclusive',
      value: null,
      baseline: null,
      threshold: slo.maxBurnRate,
      pValue: null,
      reason: `SLO '${slo.name}' is not in this configuration`,
    };
  }
  const budget = 1 - slo.objective;
  const { bad, total } = sloBadEvents(slo, window.canary);
  const stable = sloBadEvents(slo, window.baseline);
  const burn = bad / total / budget;
  const baselineBurn = stable.total > 0 ? stable.bad / stable.total / budget : null;
  const pValue = binomialUpperTail(bad, total, Math.min(1, slo.maxBurnRate * budget * NULL_FRACTION));
  const above = burn > slo.maxBurnRate;
  const fail = above && pValue <= alpha;
  const what = slo.sli?.kind === 'latency' ? `slower than ${ms(slo.sli.thresholdMs)}` : 'errors';
  const observed = `burn rate ${Number(burn.toPrecision(3))} of SLO '${slo.name}' (${bad} of ${total} requests ${what}, objective ${percent(slo.objective)})`;
  const reason = fail
    ? `${observed} is above ${slo.maxBurnRate} (p = ${pvalue(pValue)})`
    : above
      ? `${observed} is above ${slo.maxBurnRate} but not significantly (p = ${pvalue(pValue)} > ${pvalue(alpha)})`
      : `${observed} is within ${slo.maxBurnRate}`;
  return { name, outcome: fail ? 'fail' : 'pass', value: burn, baseline: baselineBurn, threshold: slo.maxBurnRate, pValue, reason };
}

/**
 * Absolute bound on the canary's q-quantile: the exact quantile (sign) test. If the true
 * quantile were ≤ maxMs, a request would exceed maxMs with probability ≤ 1 − q, so k of n above
 * the bound has p = P(Binomial(n, 1 − q) ≥ k). Fails when the observed quantile is above the
 * bound and p ≤ α — "enough samples above the bound", no more, no fewer.
 */
function latencyBoundCheck(name: string, check: LatencyCheckConfig, maxMs: number, window: AnalysisWindow, alpha: number): AnalysisCheck {
  const { above, total } = countAbove(window.canary.latency, maxMs);
  const baselineValue = nullIfNaN(quantile(window.baseline.latency, check.quantile));
  if (total === 0) {
    return {
      name,
      outcome: 'inconclusive',
      value: null,
      baseline: baselineValue,
      threshold: maxMs,
      pValue: null,
      reason: 'no canary latency samples in the window',
    };
  }
  const value = quantile(window.canary.latency, check.quantile);
  const pValue = binomialUpperTail(above, total, 1 - check.quantile);
  const fail = value > maxMs && pValue <= alpha;
  const label = quantileLabel(check.quantile);
  const observed = `${label} ${ms(value)} (${above} of ${total} requests slower than ${ms(maxMs)})`;
  const reason = fail
    ? `${observed} is above the ${ms(maxMs)} bound (p = ${pvalue(pValue)})`
    : value > maxMs
      ? `${observed} is above the ${ms(maxMs)} bound but not significantly (p = ${pvalue(pValue)} > ${pvalue(alpha)})`
      : `${observed} is within the ${ms(maxMs)} bound`;
  return { name, outcome: fail ? 'fail' : 'pass', value, baseline: baselineValue, threshold: maxMs, pValue, reason };
}

/**
 * Latency against the baseline: fails when canary − baseline at the quantile exceeds
 * `maxIncreaseMs` AND Mann-Whitney U says the canary is slower than the baseline by more than
 * half the allowance at α (the canary's values shifted down by maxIncreaseMs/2 before the test:
 * H0 "canary ≤ baseline + maxIncreaseMs/2" in the location-shift model). A plain U test would
 * have a healthy canary sitting exactly on its null, false-alarming at α on every one of the
 * once-a-second looks; with the shift it has a margin. The U test compares whole
 * distributions, so it is most sensitive to a shift of the bulk (p50–p90); a regression confined
 * to the far tail (p99.9) shows in the quantile difference but may not reach significance here —
 * an absolute `maxMs` bound catches that case.
 */
function latencyIncreaseCheck(
  name: string,
  check: LatencyCheckConfig,
  maxIncreaseMs: number,
  window: AnalysisWindow,
  alpha: number,
): AnalysisCheck {
  const value = nullIfNaN(quantile(window.canary.latency, check.quantile));
  const baselineValue = nullIfNaN(quantile(window.baseline.latency, check.quantile));
  if (value === null) {
    return {
      name,
      outcome: 'inconclusive',
      value: null,
      baseline: baselineValue,
      threshold: maxIncreaseMs,
      pValue: null,
      reason: 'no canary latency samples in the window',
    };
  }
  if (baselineValue === null) {
    return {
      name,
      outcome: 'inconclusive',
      value,
      baseline: null,
      threshold: maxIncreaseMs,
      pValue: null,
      reason: 'no baseline latency samples in the window to compare with',
    };
  }
  const shift = maxIncreaseMs * NULL_FRACTION;
  const test = mannWhitneyU(
    window.canary.latency.map((b) => ({ valueMs: b.valueMs - shift, count: b.count })),
    window.baseline.latency,
  );
  const increase = value - baselineValue;
  const above = increase > maxIncreaseMs;
  const fail = above && test.pValue <= alpha;
  const label = quantileLabel(check.quantile);
  const observed = `${label} ${ms(value)} against ${ms(baselineValue)} on stable (${test.n1} and ${test.n2} requests)`;
  const reason = fail
    ? `${observed}: +${ms(increase)} is more than the allowed +${ms(maxIncreaseMs)} (Mann-Whitney p = ${pvalue(test.pValue)})`
    : above
      ? `${observed}: +${ms(increase)} is more than +${ms(maxIncreaseMs)} but not significantly slower (Mann-Whitney p = ${pvalue(test.pValue)} > ${pvalue(alpha)})`
      : `${observed}: within +${ms(maxIncreaseMs)}`;
  return { name, outcome: fail ? 'fail' : 'pass', value, baseline: baselineValue, threshold: maxIncreaseMs, pValue: test.pValue, reason };
}

/** A Prometheus value against min/max; a missing value is inconclusive, never a pass. */
function prometheusCheck(check: PrometheusCheckConfig, value: number | null | undefined): AnalysisCheck {
  const name = `prometheus:${check.name}`;
  const bound = check.max ?? check.min ?? null;
  if (value === null || value === undefined || Number.isNaN(value)) {
    return {
      name,
      outcome: 'inconclusive',
      value: null,
      baseline: null,
      threshold: bound,
      pValue: null,
      reason: `the query returned no value`,
    };
  }
  if (check.min !== undefined && value < check.min) {
    return {
      name,
      outcome: 'fail',
      value,
      baseline: null,
      threshold: check.min,
      pValue: null,
      reason: `${value} is below the minimum ${check.min}`,
    };
  }
  if (check.max !== undefined && value > check.max) {
    return {
      name,
      outcome: 'fail',
      value,
      baseline: null,
      threshold: check.max,
      pValue: null,
      reason: `${value} is above the maximum ${check.max}`,
    };
  }
  return { name, outcome: 'pass', value, baseline: null, threshold: bound, pValue: null, reason: `${value} is within bounds` };
}

/** 0.99 → "p99", 0.5 → "p50", 0.999 → "p99.9". */
export function quantileLabel(q: number): string {
  return `p${Number((q * 100).toFixed(4))}`;
}

function nullIfNaN(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

function percent(rate: number): string {
  return `${Number((rate * 100).toPrecision(3))}%`;
}

function ms(value: number): string {
  return `${Number(value.toFixed(1))} ms`;
}

function pvalue(p: number): string {
  return p < 0.0001 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}
