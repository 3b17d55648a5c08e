import { describe, expect, it } from 'vitest';
import { GantryError } from '../../src/core/errors.ts';
import {
  binomialUpperTail,
  errorSplitSprt,
  fisherExactGreater,
  mannWhitneyU,
  normalCdf,
  normalUpperTail,
  quantile,
  sortedHistogram,
  sprtErrorRate,
  twoProportionZTest,
} from '../../src/delivery/index.ts';
import type { Histogram } from '../../src/delivery/index.ts';

/** Raw samples as a histogram, one bucket per sample (unsorted, duplicates left for the code to merge). */
function hist(values: number[]): Histogram {
  return values.map((valueMs) => ({ valueMs, count: 1 }));
}

function choose(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Every way to pick `k` of `n` indices. */
function* combinations(n: number, k: number, start = 0, picked: number[] = []): Generator<number[]> {
  if (picked.length === k) {
    yield picked;
    return;
  }
  for (let i = start; i <= n - (k - picked.length); i++) yield* combinations(n, k, i + 1, [...picked, i]);
}

/** U by definition: pairs (a, b) with a > b, ties ½. */
function bruteU(a: number[], b: number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

/** Exact one-sided p-value of U by enumerating every relabelling of the pooled samples (ties kept). */
function exactMannWhitneyP(a: number[], b: number[]): number {
  const pooled = [...a, ...b];
  const observed = bruteU(a, b);
  let atLeast = 0;
  let total = 0;
  for (const pick of combinations(pooled.length, a.length)) {
    const chosen = new Set(pick);
    const ga = pooled.filter((_, i) => chosen.has(i));
    const gb = pooled.filter((_, i) => !chosen.has(i));
    if (bruteU(ga, gb) >= observed - 1e-9) atLeast++;
    total++;
  }
  return atLeast / total;
}

describe('normalCdf', () => {
  it('matches the z-table', () => {
    const table: [number, number][] = [
      [0, 0.5],
      [1, 0.8413],
      [-1, 0.1587],
      [1.645, 0.95],
      [1.96, 0.975],
      [2.326, 0.99],
      [3, 0.99865],
      [-2.576, 0.005],
    ];
    for (const [z, p] of table) expect(normalCdf(z)).toBeCloseTo(p, 4);
  });

  it('keeps precision in the far upper tail', () => {
    // 1 − Φ(5) = 2.8665e-7 (Abramowitz & Stegun table 26.1).
    expect(normalUpperTail(5) / 2.866515718791933e-7).toBeCloseTo(1, 5);
    expect(normalUpperTail(-5)).toBeCloseTo(1, 6);
  });
});

describe('twoProportionZTest', () => {
  it('computes the pooled one-sided test (30/200 against 15/200: z = 2.374, p = 0.0088)', () => {
    const r = twoProportionZTest(30, 200, 15, 200);
    expect(r.z).toBeCloseTo(2.3736, 3);
    expect(r.pValue).toBeCloseTo(0.008809, 5);
  });

  it('is one-sided: A better than B is no evidence that A is worse', () => {
    expect(twoProportionZTest(15, 200, 30, 200).pValue).toBeGreaterThan(0.99);
  });

  it('treats zero totals and no variation as no evidence', () => {
    expect(twoProportionZTest(0, 0, 3, 100)).toEqual({ z: 0, pValue: 1 });
    expect(twoProportionZTest(0, 100, 0, 900)).toEqual({ z: 0, pValue: 1 });
    expect(twoProportionZTest(100, 100, 900, 900)).toEqual({ z: 0, pValue: 1 });
  });
});

describe('binomialUpperTail', () => {
  it('equals the sum of the exact probabilities', () => {
    for (const [n, p] of [
      [20, 0.1],
      [50, 0.01],
      [7, 0.5],
    ] as const) {
      for (let k = 0; k <= n; k++) {
        let expected = 0;
        for (let i = k; i <= n; i++) expected += choose(n, i) * p ** i * (1 - p) ** (n - i);
        expect(binomialUpperTail(k, n, p)).toBeCloseTo(expected, 10);
      }
    }
  });

  it('matches published values and stays cheap for large n', () => {
    expect(binomialUpperTail(5, 100, 0.01)).toBeCloseTo(0.0034323, 6);
    expect(binomialUpperTail(3, 20, 0.1)).toBeCloseTo(0.3230732, 6);
    // 10 million trials: the sum stops once terms vanish instead of walking all of them (its
    // speed, ≤ 100 ms, is measured by bench/test-timings.ts).
    expect(binomialUpperTail(10_100, 10_000_000, 0.001)).toBeCloseTo(normalUpperTail((10_099.5 - 10_000) / Math.sqrt(10_000 * 0.999)), 2);
  });

  it('handles the edges', () => {
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    expect(binomialUpperTail(1, 10, 0)).toBe(0);
    expect(binomialUpperTail(10, 10, 1)).toBe(1);
  });
});

describe('fisherExactGreater', () => {
  it('gives the lady-tasting-tea p-value (3 of 4 right: 17/70)', () => {
    expect(fisherExactGreater(3, 4, 1, 4)).toBeCloseTo(17 / 70, 10);
  });

  it('equals the enumerated hypergeometric tail', () => {
    const [ea, na, eb, nb] = [4, 30, 2, 90];
    const k = ea + eb;
    let expected = 0;
    for (let i = ea; i <= Math.min(k, na); i++) expected += (choose(na, i) * choose(nb, k - i)) / choose(na + nb, k);
    expect(fisherExactGreater(ea, na, eb, nb)).toBeCloseTo(expected, 10);
    expect(fisherExactGreater(0, 100, 0, 900)).toBe(1);
  });
});

describe('errorSplitSprt', () => {
  // Reference: the same log-likelihood ratio as SciPy computes it from the binomial pmf of the
  // canary's share of all errors (scipy 1.17):
  //   binom.logpmf(x, x + y, θ1) − binom.logpmf(x, x + y, θ0),
  //   θ0 = n_c / (n_c + n_b), θ1 = ρ·n_c / (ρ·n_c + n_b)
  it.each([
    [9, 150, 14, 1350, 5, 6.746079769619005],
    [2, 150, 13, 1350, 5, -1.8282077244499946],
    [0, 100, 5, 900, 3, -0.9116077839697728],
    [30, 500, 20, 500, 2.5, -0.4920674405464833],
  ])('x=%i of %i canary, y=%i of %i baseline, ρ=%d: ln LR agrees with SciPy', (x, nc, y, nb, ratio, expected) => {
    expect(errorSplitSprt(x, nc, y, nb, ratio).llr).toBeCloseTo(expected, 10);
  });

  it('reports the canary shares of errors it compared', () => {
    const r = errorSplitSprt(1, 100, 1, 900, 4);
    expect(r.shareIfEqual).toBeCloseTo(0.1, 12);
    expect(r.shareIfWorse).toBeCloseTo(400 / 1300, 12);
  });

  it('is no evidence without traffic on both sides, and refuses an alternative that is not worse', () => {
    expect(errorSplitSprt(3, 0, 0, 100, 5).llr).toBe(0);
    expect(errorSplitSprt(3, 30, 0, 0, 5).llr).toBe(0);
    expect(() => errorSplitSprt(1, 10, 1, 10, 1)).toThrow(GantryError);
    expect(() => errorSplitSprt(1, 10, 1, 10, Number.NaN)).toThrow(GantryError);
  });

  it('keeps its false-alarm rate below α however often it is looked at (Ville), at equal rates', () => {
    // 2,000 seeded streams of 3 minutes at 10/90 traffic and 1 % errors on both sides, looked at
    // every second: the share that ever reaches 1/α = 100 must stay below α = 1 %.
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    let alarms = 0;
    for (let trial = 0; trial < 2000; trial++) {
      let canaryErrors = 0;
      let baselineErrors = 0;
      for (let second = 1; second <= 180; second++) {
        for (let i = 0; i < 10; i++) if (random() < 0.01) canaryErrors++;
        for (let i = 0; i < 90; i++) if (random() < 0.01) baselineErrors++;
        if (errorSplitSprt(canaryErrors, 10 * second, baselineErrors, 90 * second, 5).llr >= Math.log(100)) {
          alarms++;
          break;
        }
      }
    }
    expect(alarms / 2000).toBeLessThan(0.01);
  });
});

describe('sprtErrorRate', () => {
  // p0 = 1 %, p1 = 5 %, α = 5 %, β = 10 %: A = ln(18) = 2.890, B = ln(0.1/0.95) = −2.251;
  // each error adds ln 5, each success ln(0.95/0.99).
  const o = { p0: 0.01, p1: 0.05, alpha: 0.05, beta: 0.1 };
  const llr = (e: number, n: number): number => e * Math.log(5) + (n - e) * Math.log(0.95 / 0.99);

  it('accepts H1 on many errors, H0 on many clean requests, and continues in between', () => {
    expect(sprtErrorRate(o, 3, 20)).toEqual({ decision: 'accept-h1', llr: expect.closeTo(llr(3, 20), 10) });
    expect(sprtErrorRate(o, 0, 100)).toEqual({ decision: 'accept-h0', llr: expect.closeTo(llr(0, 100), 10) });
    expect(sprtErrorRate(o, 1, 20).decision).toBe('continue');
    expect(llr(3, 20)).toBeGreaterThan(Math.log(18));
    expect(llr(0, 100)).toBeLessThan(Math.log(0.1 / 0.95));
  });

  it('keeps its false-alarm rate near α at p0, however long it runs', () => {
    // Simulated with a fixed LCG: at the null rate, few sequences ever reach accept-h1.
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    let alarms = 0;
    for (let trial = 0; trial < 2000; trial++) {
      let errors = 0;
      for (let n = 1; n <= 3000; n++) {
        if (random() < o.p0) errors++;
        const decision = sprtErrorRate(o, errors, n).decision;
        if (decision === 'accept-h1') alarms++;
        if (decision !== 'continue') break;
      }
    }
    expect(alarms / 2000).toBeLessThan(o.alpha);
  });

  it('rejects impossible hypotheses with a typed error', () => {
    expect(() => sprtErrorRate({ ...o, p1: 0.005 }, 1, 10)).toThrow(GantryError);
    expect(() => sprtErrorRate({ ...o, alpha: 0 }, 1, 10)).toThrow(/alpha and beta/);
  });
});

describe('mannWhitneyU', () => {
  const slow = [12, 15, 18, 21, 24, 30, 33, 40];
  const fast = [10, 11, 13, 15, 16, 17, 20, 22];

  it('computes U by pairs and the normal approximation as SciPy does (U = 50.5, p = 0.02926)', () => {
    const r = mannWhitneyU(hist(slow), hist(fast));
    expect(r).toMatchObject({ u: 50.5, n1: 8, n2: 8 });
    expect(r.u).toBe(bruteU(slow, fast));
    // scipy.stats.mannwhitneyu(slow, fast, alternative='greater', method='asymptotic')
    expect(r.pValue).toBeCloseTo(0.029260840535550767, 6);
  });

  it('stays close to the exact enumerated p-value, ties included, closer as samples grow', () => {
    // [a, b, largest allowed |approximate − exact|]: the normal approximation is rough for six
    // heavily tied samples and good by ten a side.
    const cases: [number[], number[], number][] = [
      [[1, 2, 2, 3, 3, 3, 4, 5], [1, 1, 2, 2, 3, 3], 0.03],
      [[5, 5, 6, 7, 9, 9, 9], [4, 5, 5, 6, 6, 8, 9], 0.015],
      [slow, fast, 0.005],
      [[3, 4, 4, 5, 6, 6, 7, 8, 8, 9], [2, 3, 3, 4, 5, 5, 6, 6, 7, 8], 0.005],
    ];
    for (const [a, b, tolerance] of cases) {
      const r = mannWhitneyU(hist(a), hist(b));
      expect(r.u).toBe(bruteU(a, b));
      expect(Math.abs(r.pValue - exactMannWhitneyP(a, b))).toBeLessThan(tolerance);
    }
    // The tied case against SciPy's tie-corrected approximation.
    expect(mannWhitneyU(hist([1, 2, 2, 3, 3, 3, 4, 5]), hist([1, 1, 2, 2, 3, 3])).pValue).toBeCloseTo(0.10115335028958206, 6);
  });

  it('gives the same answer for buckets as for the samples they hold', () => {
    const a: Histogram = [
      { valueMs: 120, count: 40 },
      { valueMs: 100, count: 25 },
      { valueMs: 140, count: 10 },
    ];
    const b: Histogram = [
      { valueMs: 100, count: 60 },
      { valueMs: 90, count: 30 },
      { valueMs: 120, count: 30 },
      { valueMs: 100, count: 5 },
    ];
    const expand = (h: Histogram): number[] => h.flatMap((x) => Array<number>(x.count).fill(x.valueMs));
    const bucketed = mannWhitneyU(a, b);
    const raw = mannWhitneyU(hist(expand(a)), hist(expand(b)));
    expect(bucketed).toEqual(raw);
    expect(bucketed.u).toBe(bruteU(expand(a), expand(b)));
  });

  // O(buckets): its speed (≤ 50 ms for a billion samples) is measured by bench/test-timings.ts.
  it('takes a billion samples in three buckets', () => {
    const r = mannWhitneyU(
      [
        { valueMs: 101, count: 5e8 },
        { valueMs: 100, count: 1e8 },
      ],
      [
        { valueMs: 100, count: 5e8 },
        { valueMs: 99, count: 1 },
      ],
    );
    expect(r.n1).toBe(6e8);
    expect(r.pValue).toBeLessThan(1e-10);
  });

  it('is one-sided and says nothing without data or variation', () => {
    expect(mannWhitneyU(hist(fast), hist(slow)).pValue).toBeGreaterThan(0.95);
    expect(mannWhitneyU([], hist(slow))).toEqual({ u: 0, z: 0, pValue: 1, n1: 0, n2: 8 });
    expect(mannWhitneyU(hist([5, 5, 5]), hist([5, 5])).pValue).toBe(1);
  });
});

describe('quantile', () => {
  it('is the nearest-rank value of unsorted buckets', () => {
    const h: Histogram = [
      { valueMs: 300, count: 1 },
      { valueMs: 100, count: 50 },
      { valueMs: 200, count: 49 },
      { valueMs: 150, count: 0 },
    ];
    expect(quantile(h, 0.5)).toBe(100);
    expect(quantile(h, 0.51)).toBe(200);
    expect(quantile(h, 0.99)).toBe(200);
    expect(quantile(h, 0.995)).toBe(300);
    expect(quantile(h, 1)).toBe(300);
    expect(quantile(h, 0)).toBe(100);
    expect(quantile([], 0.5)).toBeNaN();
    expect(() => quantile(h, 1.5)).toThrow(GantryError);
  });

  it('merges duplicate buckets once and leaves normalised input alone', () => {
    const normal: Histogram = [
      { valueMs: 1, count: 2 },
      { valueMs: 3, count: 1 },
    ];
    expect(sortedHistogram(normal)).toBe(normal);
    expect(
      sortedHistogram([
        { valueMs: 3, count: 1 },
        { valueMs: 1, count: 1 },
        { valueMs: 1, count: 1 },
        { valueMs: 2, count: 0 },
      ]),
    ).toEqual(normal);
  });
});
