/**
 * A seeded traffic simulator for canary analysis: Poisson arrivals per second on the canary and
 * the baseline, Bernoulli errors, log-normal latencies bucketed at 1 ms (what an HDR histogram
 * with two significant digits records around 100 ms), evaluated on a sliding window once per
 * simulated second. Deterministic for a given seed, so the figures in the tests are reproducible.
 */
import type { AnalysisConfig } from '../../src/core/delivery-config.ts';
import { evaluateAnalysis } from '../../src/delivery/analysis.ts';
import type { AnalysisResult, Sample } from '../../src/delivery/analysis.ts';

/** mulberry32: small, fast, and good enough for simulations. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poisson(random: () => number, lambda: number): number {
  // Knuth's method; fine for the λ ≤ 100 used here.
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > limit);
  return k - 1;
}

function standardNormal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** How one pool behaves. */
export interface PoolModel {
  requestsPerSecond: number;
  errorRate: number;
  /** Median latency of the log-normal body. */
  medianMs: number;
  /** σ of ln(latency). */
  sigma: number;
  /** Added to every request (a uniformly slower release). */
  shiftMs?: number;
}

type Second = { requests: number; errors: number; latency: Map<number, number> };

function simulateSecond(random: () => number, model: PoolModel): Second {
  const requests = poisson(random, model.requestsPerSecond);
  let errors = 0;
  const latency = new Map<number, number>();
  for (let i = 0; i < requests; i++) {
    if (random() < model.errorRate) errors++;
    const ms = Math.max(1, Math.round(model.medianMs * Math.exp(model.sigma * standardNormal(random)) + (model.shiftMs ?? 0)));
    latency.set(ms, (latency.get(ms) ?? 0) + 1);
  }
  return { requests, errors, latency };
}

function sum(seconds: Second[]): Sample {
  const merged = new Map<number, number>();
  let requests = 0;
  let errors = 0;
  for (const second of seconds) {
    requests += second.requests;
    errors += second.errors;
    for (const [ms, count] of second.latency) merged.set(ms, (merged.get(ms) ?? 0) + count);
  }
  return { requests, errors, latency: [...merged].map(([valueMs, count]) => ({ valueMs, count })) };
}

/**
 * Runs one canary for up to `seconds`, evaluating after each simulated second on the last
 * `windowSeconds`. Returns the second of the first failed evaluation (1-based) or null.
 */
export function secondsToFail(
  config: AnalysisConfig,
  o: { seed: number; canary: PoolModel; baseline: PoolModel; seconds: number; windowSeconds: number },
  onResult?: (second: number, result: AnalysisResult) => void,
): number | null {
  const random = seededRandom(o.seed);
  const canary: Second[] = [];
  const baseline: Second[] = [];
  for (let second = 1; second <= o.seconds; second++) {
    canary.push(simulateSecond(random, o.canary));
    baseline.push(simulateSecond(random, o.baseline));
    const result = evaluateAnalysis(config, {
      canary: sum(canary.slice(-o.windowSeconds)),
      baseline: sum(baseline.slice(-o.windowSeconds)),
    });
    onResult?.(second, result);
    if (result.outcome === 'fail') return second;
  }
  return null;
}
