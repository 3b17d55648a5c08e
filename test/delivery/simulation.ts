/**
 * A seeded traffic simulator for canary analysis: Poisson arrivals per second on the canary and
 * the baseline, Bernoulli errors, log-normal latencies (plus optional exponential jitter, as the
 * fixture service adds) bucketed at 1 ms (what an HDR histogram with two significant digits
 * records around 100 ms), evaluated once per simulated second on the config's window counted from
 * the canary's start — what src/server/delivery/analysis-input.ts hands the analysis.
 * Deterministic for a given seed, so the figures in the tests are reproducible.
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
  /** Mean of an exponential delay added to every request (the fixture's JITTER_MS). */
  jitterMs?: number;
}

type Second = { requests: number; errors: number; latency: Map<number, number> };

function simulateSecond(random: () => number, model: PoolModel): Second {
  const requests = poisson(random, model.requestsPerSecond);
  let errors = 0;
  const latency = new Map<number, number>();
  for (let i = 0; i < requests; i++) {
    if (random() < model.errorRate) errors++;
    const jitter = model.jitterMs ? -model.jitterMs * Math.log(1 - random()) : 0;
    const ms = Math.max(1, Math.round(model.medianMs * Math.exp(model.sigma * standardNormal(random)) + (model.shiftMs ?? 0) + jitter));
    latency.set(ms, (latency.get(ms) ?? 0) + 1);
  }
  return { requests, errors, latency };
}

/**
 * A pool's counts over a sliding run of seconds, kept as running sums with latency counted per
 * whole millisecond in a dense array, so a window of minutes stays cheap and its histogram comes
 * out already sorted.
 */
class RunningWindow {
  readonly #seconds: Second[] = [];
  readonly #length: number;
  #latency: number[] = [];
  #requests = 0;
  #errors = 0;

  constructor(length: number) {
    this.#length = length;
  }

  push(second: Second): void {
    this.#seconds.push(second);
    this.#add(second, 1);
    if (this.#seconds.length > this.#length) this.#add(this.#seconds.shift() as Second, -1);
  }

  sample(): Sample {
    const latency: Sample['latency'] = [];
    for (let ms = 0; ms < this.#latency.length; ms++) {
      const count = this.#latency[ms] ?? 0;
      if (count > 0) latency.push({ valueMs: ms, count });
    }
    return { requests: this.#requests, errors: this.#errors, latency };
  }

  #add(second: Second, sign: 1 | -1): void {
    this.#requests += sign * second.requests;
    this.#errors += sign * second.errors;
    for (const [ms, count] of second.latency) {
      while (this.#latency.length <= ms) this.#latency.push(0);
      this.#latency[ms] = (this.#latency[ms] ?? 0) + sign * count;
    }
  }
}

/**
 * Runs one canary for up to `seconds`, evaluating after each simulated second on the last
 * `windowSeconds` (default: the config's window). Returns the second of the first failed
 * evaluation (1-based) or null.
 */
export function secondsToFail(
  config: AnalysisConfig,
  o: { seed: number; canary: PoolModel; baseline: PoolModel; seconds: number; windowSeconds?: number },
  onResult?: (second: number, result: AnalysisResult) => void,
): number | null {
  const random = seededRandom(o.seed);
  const windowSeconds = o.windowSeconds ?? Math.max(1, Math.round(config.windowMs / 1000));
  const canary = new RunningWindow(windowSeconds);
  const baseline = new RunningWindow(windowSeconds);
  for (let second = 1; second <= o.seconds; second++) {
    canary.push(simulateSecond(random, o.canary));
    baseline.push(simulateSecond(random, o.baseline));
    const result = evaluateAnalysis(config, { canary: canary.sample(), baseline: baseline.sample() });
    onResult?.(second, result);
    if (result.outcome === 'fail') return second;
  }
  return null;
}
