/**
 * The statistics behind canary analysis: one-sided tests that ask "is the canary worse?" on the
 * counts and latency histograms the proxy records. Pure functions, no I/O; every test works on
 * aggregated data (counts, histogram buckets), so its cost does not grow with traffic.
 *
 * Conventions shared by every test here: p-values are one-sided (small = evidence that A is
 * worse than B, or that a rate is above its null), and "no data" or "no variation" yields
 * `pValue: 1` — the exact answer for a degenerate sample, and one no threshold ever acts on.
 */
import { InputError } from '../core/errors.ts';

/** Latency as the proxy records it: HDR histogram buckets (any order; zero counts allowed). */
export type Histogram = { valueMs: number; count: number }[];

// ------------------------------------------------------------------ distributions

/**
 * Complementary error function (Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7
 * everywhere): accurate in the far tail too, where 1 − erf(x) would cancel to 0.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Φ(z), the standard normal CDF; used for z-table lookups and for tests' own expectations. */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** 1 − Φ(z) computed directly, so tiny upper-tail p-values keep their precision. */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return 0.5 * erfc(z / Math.SQRT2);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7): binomial coefficients of large n without overflow. */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = LANCZOS[0] as number;
  const t = y + 7.5;
  for (let i = 1; i < LANCZOS.length; i++) a += (LANCZOS[i] as number) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Sums `term(i)` for i = from, from + step, … while i stays within [lo, hi], stopping once the
 * terms are negligible: the caller starts at the side of the mode so terms only shrink, which
 * makes a tail sum O(standard deviations) instead of O(n).
 */
function tailSum(term: (i: number) => number, from: number, step: 1 | -1, lo: number, hi: number): number {
  let sum = 0;
  for (let i = from; i >= lo && i <= hi; i += step) {
    const value = term(i);
    sum += value;
    // Terms only shrink from here, so once one is negligible (or underflows) so is the rest.
    if (value <= sum * 1e-17) break;
  }
  return sum;
}

/**
 * P(X ≥ k) for X ~ Binomial(n, p): the exact one-sample test of "rate ≤ p" after seeing k
 * events in n trials. Exact because canary error counts are small (a handful per window),
 * where the normal approximation is badly anti-conservative.
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const pmf = (i: number): number => Math.exp(logChoose(n, i) + i * logP + (n - i) * logQ);
  const mean = n * p;
  if (k > mean) return Math.min(1, tailSum(pmf, k, 1, k, n));
  return Math.max(0, 1 - tailSum(pmf, k - 1, -1, 0, k - 1));
}

/**
 * Fisher's exact test, one-sided: P(A gets ≥ errorsA of the errors) when both groups share one
 * rate, i.e. the hypergeometric upper tail given the margins. Used instead of the z-test when
 * expected counts are too small for the normal approximation (the usual case for error rates).
 */
export function fisherExactGreater(errorsA: number, totalA: number, errorsB: number, totalB: number): number {
  const total = totalA + totalB;
  const errors = errorsA + errorsB;
  if (totalA <= 0 || totalB <= 0 || errors === 0 || errors === total) return 1;
  const lo = Math.max(0, errors - totalB);
  const hi = Math.min(errors, totalA);
  const logDenominator = logChoose(total, totalA);
  const pmf = (i: number): number => Math.exp(logChoose(errors, i) + logChoose(total - errors, totalA - i) - logDenominator);
  const mean = (errors * totalA) / total;
  if (errorsA > mean) return Math.min(1, tailSum(pmf, errorsA, 1, lo, hi));
  return Math.max(0, 1 - tailSum(pmf, errorsA - 1, -1, lo, hi));
}

// ------------------------------------------------------------------ tests

/**
 * Pooled two-proportion z-test, one-sided: is A's error rate greater than B's? Valid when each
 * group's expected errors and successes are ≥ 5; below that use `fisherExactGreater`. A zero
 * total or no variation (no errors, or only errors, in both) is no evidence: `{ z: 0, pValue: 1 }`.
 */
export function twoProportionZTest(errorsA: number, totalA: number, errorsB: number, totalB: number): { z: number; pValue: number } {
  if (totalA <= 0 || totalB <= 0) return { z: 0, pValue: 1 };
  const pooled = (errorsA + errorsB) / (totalA + totalB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / totalA + 1 / totalB));
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (errorsA / totalA - errorsB / totalB) / se;
  return { z, pValue: normalUpperTail(z) };
}

/** Options of Wald's SPRT: H0 rate ≤ p0 against H1 rate ≥ p1, with error probabilities alpha (false alarm) and beta (miss). */
export interface SprtOptions {
  p0: number;
  p1: number;
  alpha: number;
  beta: number;
}

/**
 * Wald's sequential probability ratio test for a Bernoulli rate, on cumulative counts. Its
 * thresholds ln((1−β)/α) and ln(β/(1−α)) keep the false-alarm rate at α however often it is
 * re-evaluated as counts grow — what a test looked at every second needs. `llr` is the
 * log-likelihood ratio of H1 over H0.
 */
export function sprtErrorRate(
  o: SprtOptions,
  errors: number,
  total: number,
): { decision: 'accept-h0' | 'accept-h1' | 'continue'; llr: number } {
  if (!(o.p0 > 0 && o.p1 < 1 && o.p0 < o.p1)) throw new InputError(`SPRT needs 0 < p0 < p1 < 1 (got p0=${o.p0}, p1=${o.p1})`);
  if (!(o.alpha > 0 && o.alpha < 1 && o.beta > 0 && o.beta < 1))
    throw new InputError(`SPRT needs alpha and beta in (0, 1) (got ${o.alpha}, ${o.beta})`);
  const successes = Math.max(0, total - errors);
  const llr = errors * Math.log(o.p1 / o.p0) + successes * Math.log((1 - o.p1) / (1 - o.p0));
  const upper = Math.log((1 - o.beta) / o.alpha);
  const lower = Math.log(o.beta / (1 - o.alpha));
  return { decision: llr >= upper ? 'accept-h1' : llr <= lower ? 'accept-h0' : 'continue', llr };
}

/** The log-likelihood ratio of an error-split SPRT and what it compared, for a check's report. */
export interface ErrorSplitSprt {
  /** ln(L(ρ1) / L(1)): how much likelier the split is if the canary fails `ratio` times as often as the baseline. */
  llr: number;
  /** The canary's share of all errors expected if both pools fail alike: its share of the requests. */
  shareIfEqual: number;
  /** The canary's share of all errors expected if it fails `ratio` times as often. */
  shareIfWorse: number;
}

/**
 * Wald's SPRT on how the errors split between canary and baseline, the test of Lindon & Malek
 * (arXiv:2011.03567, §5) for two Poisson counting processes with a point alternative: given the
 * total number of errors, each one came from the canary with probability θ = ρ·n_c / (ρ·n_c + n_b),
 * where ρ is the canary's error rate over the baseline's and n the pools' requests. Conditioning
 * on the total removes the unknown baseline rate, so H0 "ρ = 1" is a simple hypothesis and the
 * likelihood ratio of `ratio` over 1 is a martingale under it (a supermartingale when ρ < 1):
 * by Ville's inequality it ever reaches 1/α with probability ≤ α, however often it is looked at
 * and however long the canary runs. That is the property a check evaluated every second needs,
 * and what the fixed-level tests repeated every second lacked.
 *
 * The binomial form of the split is the Poisson limit of rare errors; with error rates of a few
 * per cent on both sides the exact (hypergeometric) split differs by less than the rates.
 * `llr` = x·ln(θ1/θ0) + y·ln((1−θ1)/(1−θ0)) for x canary and y baseline errors — the closed form
 * test/delivery/analysis-stats.test.ts checks against SciPy's binomial log-pmf.
 */
export function errorSplitSprt(
  canaryErrors: number,
  canaryRequests: number,
  baselineErrors: number,
  baselineRequests: number,
  ratio: number,
): ErrorSplitSprt {
  if (!(ratio > 1) || !Number.isFinite(ratio))
    throw new InputError(`the SPRT's alternative error-rate ratio must be a number above 1 (got ${ratio})`);
  if (!(canaryRequests > 0 && baselineRequests > 0)) return { llr: 0, shareIfEqual: Number.NaN, shareIfWorse: Number.NaN };
  const shareIfEqual = canaryRequests / (canaryRequests + baselineRequests);
  const shareIfWorse = (ratio * canaryRequests) / (ratio * canaryRequests + baselineRequests);
  const llr =
    canaryErrors * Math.log(shareIfWorse / shareIfEqual) + baselineErrors * (Math.log1p(-shareIfWorse) - Math.log1p(-shareIfEqual));
  return { llr, shareIfEqual, shareIfWorse };
}

/**
 * The histogram with buckets merged by value, ascending, zero counts dropped. Returns its input
 * unchanged when it already has that shape (the proxy's snapshots do), so callers that evaluate
 * several checks on one window can normalise once and every later call is a linear scan.
 */
export function sortedHistogram(h: Histogram): Histogram {
  let ordered = true;
  for (let i = 0; i < h.length && ordered; i++) {
    const bucket = h[i] as { valueMs: number; count: number };
    if (!(bucket.count > 0) || (i > 0 && !((h[i - 1] as { valueMs: number }).valueMs < bucket.valueMs))) ordered = false;
  }
  if (ordered) return h;
  const byValue = new Map<number, number>();
  for (const bucket of h) if (bucket.count > 0) byValue.set(bucket.valueMs, (byValue.get(bucket.valueMs) ?? 0) + bucket.count);
  return [...byValue].sort((x, y) => x[0] - y[0]).map(([valueMs, count]) => ({ valueMs, count }));
}

/** Merges two histograms into ascending [value, countA, countB] rows (a linear merge of the sorted forms). */
function mergeBuckets(a: Histogram, b: Histogram): { rows: [number, number, number][]; n1: number; n2: number } {
  const x = sortedHistogram(a);
  const y = sortedHistogram(b);
  const rows: [number, number, number][] = [];
  let n1 = 0;
  let n2 = 0;
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const bx = x[i];
    const by = y[j];
    if (bx !== undefined && (by === undefined || bx.valueMs < by.valueMs)) {
      rows.push([bx.valueMs, bx.count, 0]);
      n1 += bx.count;
      i++;
    } else if (by !== undefined && (bx === undefined || by.valueMs < bx.valueMs)) {
      rows.push([by.valueMs, 0, by.count]);
      n2 += by.count;
      j++;
    } else if (bx !== undefined && by !== undefined) {
      rows.push([bx.valueMs, bx.count, by.count]);
      n1 += bx.count;
      n2 += by.count;
      i++;
      j++;
    }
  }
  return { rows, n1, n2 };
}

/**
 * Mann-Whitney U, one-sided: is A stochastically greater (slower) than B? Works on histogram
 * buckets — each bucket is one block of ties — so it costs O(buckets log buckets), not
 * O(samples). `u` counts pairs (a, b) with a > b, ties as ½. The p-value is the normal
 * approximation with tie correction and continuity correction (as R's wilcox.test and SciPy's
 * default), good from about 10 samples a side.
 */
export function mannWhitneyU(a: Histogram, b: Histogram): { u: number; z: number; pValue: number; n1: number; n2: number } {
  const { rows, n1, n2 } = mergeBuckets(a, b);
  if (n1 === 0 || n2 === 0) return { u: 0, z: 0, pValue: 1, n1, n2 };
  let u = 0;
  let bBelow = 0;
  let tieTerm = 0;
  for (const [, countA, countB] of rows) {
    u += countA * (bBelow + countB / 2);
    bBelow += countB;
    const t = countA + countB;
    tieTerm += t * t * t - t;
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, z: 0, pValue: 1, n1, n2 };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, pValue: normalUpperTail(z), n1, n2 };
}

/**
 * The q-quantile (0..1) of a histogram by nearest rank: the smallest bucket value with at least
 * ⌈q·n⌉ samples at or below it — a value that was actually observed. NaN for an empty histogram.
 */
export function quantile(h: Histogram, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new InputError(`quantile must be within 0..1 (got ${q})`);
  const buckets = sortedHistogram(h);
  const total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of buckets) {
    seen += bucket.count;
    if (seen >= rank) return bucket.valueMs;
  }
  return (buckets[buckets.length - 1] as { valueMs: number }).valueMs;
}

/** Number of samples above `boundMs`, and the total: the counts behind a quantile-bound test. */
export function countAbove(h: Histogram, boundMs: number): { above: number; total: number } {
  let above = 0;
  let total = 0;
  for (const bucket of h) {
    if (!(bucket.count > 0)) continue;
    total += bucket.count;
    if (bucket.valueMs > boundMs) above += bucket.count;
  }
  return { above, total };
}
