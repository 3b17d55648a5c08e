/**
 * Before and after a deploy: the environment's request rate, error rate and latency percentiles
 * over the same length of time before the rollout began and after it finished (15 minutes by
 * default), the difference of each and whether it is significant. Pure: the server hands in the
 * stored ten-second roll-ups and the clock; the same numbers come out in tests, API and page.
 *
 * Why these windows: a rollout shifts traffic over its steps, so the time between its start and
 * its end is a mix of both releases. "Before" ends where the rollout began (only the old release
 * served), "after" starts where it finished (only the outcome served). While the after window
 * is still filling, the before window is cut to the same length so the two stay comparable.
 *
 * Why these tests (docs/decisions/0026-deploy-impact.md):
 * - error rate: the pooled two-proportion z-test of analysis-stats, or Fisher's exact test when
 *   an expected count is below 5 (the usual case for rare errors), two-sided;
 * - p50/p95/p99: Mood's quantile test on the roll-up histograms — cut both windows at the pooled
 *   q-quantile and compare the shares above it with the same 2×2 test. The cut is a function of
 *   the pooled sample, so under "same distribution" the split of the above-cut requests between
 *   windows is hypergeometric: exact on bucketed data, and about the percentile itself, which a
 *   rank test (Mann-Whitney) is not — a p99 regression can hide under an unchanged median;
 * - request rate: the split of all requests between two windows of equal length, binomial ½
 *   if the rate did not change (Poisson arrivals).
 * Each is two-sided, at α = 0.01 for the deploy as a whole: five metrics are compared, so each
 * at α / 5 (Bonferroni), and a deploy that changed nothing is called changed at most 1 % of the
 * time — many deploys a day must not cry wolf. A change counts as significant only when it is
 * also large enough to matter: a million requests make a
 * 0.2 ms p99 shift "significant", which nobody should be asked to look at.
 */
import {
  binomialUpperTail,
  countAbove,
  fisherExactGreater,
  type Histogram,
  latencyList,
  quantile,
  sortedHistogram,
  twoProportionZTest,
} from '../delivery/index.ts';
import { InputError } from '../core/errors.ts';

/** The default span of each window: 15 minutes, as the issue asks. */
export const DEFAULT_IMPACT_WINDOW_MS = 15 * 60 * 1000;
/** Two-sided significance level of a deploy's verdict: each of the five metrics is tested at α / 5. */
export const IMPACT_ALPHA = 0.01;
const METRICS = 5;
const PER_METRIC_ALPHA = IMPACT_ALPHA / METRICS;
/** Fewer requests than this in either window: "not enough traffic", no verdict at all. */
export const MIN_REQUESTS = 100;
/**
 * A percentile q is compared only when each window has at least this many requests above it
 * (n·(1−q) ≥ 10): p50 from 20 requests, p95 from 200, p99 from 1,000.
 */
export const MIN_TAIL_REQUESTS = 10;
/** Smallest latency change worth a verdict: 1 ms and 5 % (the roll-up histograms' buckets are ~1 % wide). */
export const MIN_LATENCY_CHANGE = { ms: 1, relative: 0.05 };
/** Smallest error-rate change worth a verdict, in absolute terms (0.1 percentage point). */
export const MIN_ERROR_RATE_CHANGE = 0.001;
/** Smallest request-rate change worth a verdict: traffic wanders by a few per cent on its own. */
export const MIN_RATE_CHANGE = 0.1;

/** The part of a stored roll-up this module reads (store MetricRollup fits it). */
export interface ImpactRollup {
  startMs: number;
  requests: number;
  errors: number;
  data: Record<string, unknown>;
}

export interface ImpactWindow {
  sinceMs: number;
  untilMs: number;
  requests: number;
  errors: number;
  /** Requests per second over the window's length. */
  rps: number;
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export type ImpactMetric = 'rps' | 'errorRate' | 'p50' | 'p95' | 'p99';

export interface MetricChange {
  metric: ImpactMetric;
  before: number | null;
  after: number | null;
  /** after − before (ms for percentiles, a fraction for the error rate, req/s for the rate). */
  delta: number | null;
  /** Two-sided p-value; null when the metric could not be compared. */
  pValue: number | null;
  /** p < α and the change is large enough to matter (see the module comment). */
  significant: boolean;
  /** Why it was not compared, when it was not. */
  note: string | null;
}

/**
 * `measuring`: the after window is still filling (the comparison so far is shown, marked so);
 * `not-enough-traffic`: fewer than MIN_REQUESTS in a window — never a verdict;
 * `under-way`: the rollout has not finished; `complete`: both windows whole.
 */
export type ImpactStatus = 'under-way' | 'not-enough-traffic' | 'measuring' | 'complete';

export interface DeployImpact {
  status: ImpactStatus;
  windowMs: number;
  before: ImpactWindow | null;
  after: ImpactWindow | null;
  changes: MetricChange[];
  /** One line for lists: "p99 +40 ms, significant", "no significant change", "not enough traffic". */
  verdict: string;
}

export interface ImpactInput {
  /** When the rollout began: the before window ends here. */
  startedAt: number;
  /** When it finished (null while under way): the after window starts here. */
  finishedAt: number | null;
  now: number;
  windowMs?: number;
  /** Roll-ups of the environment overlapping [startedAt − windowMs, finishedAt + windowMs). */
  rollups: readonly ImpactRollup[];
}

/** Compares the windows around one deploy. Roll-ups count in the window their start falls in. */
export function deployImpact(input: ImpactInput): DeployImpact {
  const windowMs = input.windowMs ?? DEFAULT_IMPACT_WINDOW_MS;
  if (!(windowMs > 0)) throw new InputError(`the impact window must be positive (got ${windowMs} ms)`);
  if (input.finishedAt === null) return { status: 'under-way', windowMs, before: null, after: null, changes: [], verdict: 'under way' };
  const afterLength = Math.max(0, Math.min(windowMs, input.now - input.finishedAt));
  const status: ImpactStatus = afterLength < windowMs ? 'measuring' : 'complete';
  const before = aggregate(input.rollups, input.startedAt - afterLength, input.startedAt);
  const after = aggregate(input.rollups, input.finishedAt, input.finishedAt + afterLength);
  if (before.window.requests < MIN_REQUESTS || after.window.requests < MIN_REQUESTS) {
    return {
      status: 'not-enough-traffic',
      windowMs,
      before: before.window,
      after: after.window,
      changes: [],
      verdict: 'not enough traffic',
    };
  }
  const changes = [
    rateChange(before.window, after.window),
    errorRateChange(before.window, after.window),
    ...([0.5, 0.95, 0.99] as const).map((q) => percentileChange(q, before, after)),
  ];
  return {
    status,
    windowMs,
    before: before.window,
    after: after.window,
    changes,
    verdict: verdictOf(changes, status, afterLength, windowMs),
  };
}

/** "p99 +40 ms, significant"; several changes joined; the measuring state says how far it got. */
export function verdictOf(changes: readonly MetricChange[], status: ImpactStatus, measuredMs: number, windowMs: number): string {
  const significant = changes.filter((c) => c.significant).map(changeText);
  const text = significant.length === 0 ? 'no significant change' : `${significant.join(', ')}, significant`;
  if (status !== 'measuring') return text;
  return `${text} (measuring: ${Math.floor(measuredMs / 60_000)} of ${Math.round(windowMs / 60_000)} min)`;
}

/** "p99 +40 ms", "error rate +1.2 pp", "rate −30 %". */
export function changeText(c: MetricChange): string {
  const d = c.delta ?? 0;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  const magnitude = Math.abs(d);
  if (c.metric === 'errorRate') return `error rate ${sign}${round(magnitude * 100)} pp`;
  if (c.metric === 'rps') {
    const relative = c.before ? magnitude / c.before : 0;
    return `rate ${sign}${Math.round(relative * 100)} %`;
  }
  return `${c.metric} ${sign}${round(magnitude)} ms`;
}

// ---------------------------------------------------------------- internals

interface Aggregate {
  window: ImpactWindow;
  latency: Histogram;
}

function aggregate(rollups: readonly ImpactRollup[], sinceMs: number, untilMs: number): Aggregate {
  let requests = 0;
  let errors = 0;
  const buckets: Histogram = [];
  for (const r of rollups) {
    if (r.startMs < sinceMs || r.startMs >= untilMs) continue;
    requests += r.requests;
    errors += r.errors;
    for (const b of latencyList(r.data.latency)) buckets.push(b);
  }
  const latency = sortedHistogram(buckets);
  const seconds = (untilMs - sinceMs) / 1000;
  const measured = requests > 0 && latency.length > 0;
  return {
    latency,
    window: {
      sinceMs,
      untilMs,
      requests,
      errors,
      rps: seconds > 0 ? requests / seconds : 0,
      errorRate: requests > 0 ? errors / requests : null,
      p50: measured ? quantile(latency, 0.5) : null,
      p95: measured ? quantile(latency, 0.95) : null,
      p99: measured ? quantile(latency, 0.99) : null,
    },
  };
}

/** Two-sided p-value of "the two windows' shares differ", by z-test or, for small expected counts, Fisher. */
function twoSidedProportions(hitsA: number, totalA: number, hitsB: number, totalB: number): number {
  const total = totalA + totalB;
  const hits = hitsA + hitsB;
  const expectedSmall = Math.min(hits, total - hits) * (Math.min(totalA, totalB) / total) < 5;
  const up = expectedSmall ? fisherExactGreater(hitsA, totalA, hitsB, totalB) : twoProportionZTest(hitsA, totalA, hitsB, totalB).pValue;
  const down = expectedSmall ? fisherExactGreater(hitsB, totalB, hitsA, totalA) : twoProportionZTest(hitsB, totalB, hitsA, totalA).pValue;
  return Math.min(1, 2 * Math.min(up, down));
}

function rateChange(before: ImpactWindow, after: ImpactWindow): MetricChange {
  // Equal lengths: with an unchanged Poisson rate each request fell in either window with probability ½.
  const n = before.requests + after.requests;
  const up = binomialUpperTail(after.requests, n, 0.5);
  const down = binomialUpperTail(before.requests, n, 0.5);
  const pValue = Math.min(1, 2 * Math.min(up, down));
  const delta = after.rps - before.rps;
  const big = before.rps > 0 ? Math.abs(delta) / before.rps >= MIN_RATE_CHANGE : after.rps > 0;
  return { metric: 'rps', before: before.rps, after: after.rps, delta, pValue, significant: pValue < PER_METRIC_ALPHA && big, note: null };
}

function errorRateChange(before: ImpactWindow, after: ImpactWindow): MetricChange {
  const b = before.errorRate ?? 0;
  const a = after.errorRate ?? 0;
  const pValue = twoSidedProportions(after.errors, after.requests, before.errors, before.requests);
  const delta = a - b;
  const big = Math.abs(delta) >= MIN_ERROR_RATE_CHANGE;
  return { metric: 'errorRate', before: b, after: a, delta, pValue, significant: pValue < PER_METRIC_ALPHA && big, note: null };
}

function percentileChange(q: 0.5 | 0.95 | 0.99, before: Aggregate, after: Aggregate): MetricChange {
  const metric: ImpactMetric = q === 0.5 ? 'p50' : q === 0.95 ? 'p95' : 'p99';
  const b = before.window[metric];
  const a = after.window[metric];
  const delta = a !== null && b !== null ? a - b : null;
  const nBefore = total(before.latency);
  const nAfter = total(after.latency);
  const needed = Math.ceil(MIN_TAIL_REQUESTS / (1 - q));
  if (delta === null || nBefore < needed || nAfter < needed) {
    return { metric, before: b, after: a, delta, pValue: null, significant: false, note: `needs ${needed} requests a window` };
  }
  const bound = tailBound(sortedHistogram([...before.latency, ...after.latency]), q);
  const above = countAbove(after.latency, bound);
  const aboveBefore = countAbove(before.latency, bound);
  const pValue = twoSidedProportions(above.above, above.total, aboveBefore.above, aboveBefore.total);
  const big = Math.abs(delta) >= MIN_LATENCY_CHANGE.ms && Math.abs(delta) >= MIN_LATENCY_CHANGE.relative * (b as number);
  return { metric, before: b, after: a, delta, pValue, significant: pValue < PER_METRIC_ALPHA && big, note: null };
}

/**
 * Mood's quantile test cuts at the pooled q-quantile. On bucketed latencies many requests share
 * the cut's bucket, so "above the cut" can hold far fewer than 1 − q of them (no power: a tail
 * that moved wholesale into the top bucket leaves nothing above it). Counting the cut's bucket in
 * or out, whichever leaves the share above nearer 1 − q, is still a function of the pooled sample
 * alone, so the test stays exact. Returns the bound to count strictly above.
 */
function tailBound(pooled: Histogram, q: number): number {
  const cut = quantile(pooled, q);
  const n = total(pooled);
  const index = pooled.findIndex((b) => b.valueMs === cut);
  const below = index > 0 ? (pooled[index - 1] as { valueMs: number }).valueMs : Number.NEGATIVE_INFINITY;
  const shareAbove = countAbove(pooled, cut).above / n;
  const shareFromCut = countAbove(pooled, below).above / n;
  return Math.abs(shareFromCut - (1 - q)) < Math.abs(shareAbove - (1 - q)) ? below : cut;
}

function total(h: Histogram): number {
  let n = 0;
  for (const b of h) n += b.count;
  return n;
}

function round(value: number): string {
  return value >= 10 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
}
