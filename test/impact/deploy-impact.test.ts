/**
 * The before/after comparison on roll-ups built by hand: each verdict worked out from the counts
 * (the 2×2 tables below), the traffic floor, the measuring state, and the false-alarm rate on
 * deploys that changed nothing (seeded, so the count is the same on every run).
 */
import { describe, expect, it } from 'vitest';
import { deployImpact, type ImpactRollup, MIN_REQUESTS } from '../../src/impact/index.ts';

const MIN = 60_000;
const START = Date.UTC(2026, 11, 1, 12, 0, 0);
const END = START + 3 * MIN;

/** One roll-up holding the whole window's requests, 10 s into it. */
function rollup(at: number, latency: [number, number][], errors = 0): ImpactRollup {
  const requests = latency.reduce((n, [, count]) => n + count, 0);
  return { startMs: at, requests, errors, data: { latency: latency.map(([valueMs, count]) => ({ valueMs, count })) } };
}
const beforeWindow = (latency: [number, number][], errors = 0) => rollup(START - 10 * MIN, latency, errors);
const afterWindow = (latency: [number, number][], errors = 0) => rollup(END + 5 * MIN, latency, errors);

describe('deployImpact', () => {
  it('says p99 +40 ms, significant, when only the tail moved', () => {
    const impact = deployImpact({
      startedAt: START,
      finishedAt: END,
      now: END + 20 * MIN,
      rollups: [
        beforeWindow([
          [20, 1900],
          [50, 80],
          [60, 20],
        ]),
        afterWindow([
          [20, 1900],
          [90, 80],
          [100, 20],
        ]),
      ],
    });
    expect(impact.status).toBe('complete');
    expect(impact.before?.p99).toBe(50);
    expect(impact.after?.p99).toBe(90);
    const p99 = impact.changes.find((c) => c.metric === 'p99');
    // Pooled p99 is 90 ms: 20 of the after window's 2,000 above it, none of the before window's.
    expect(p99?.pValue).toBeLessThan(1e-4);
    expect(p99?.significant).toBe(true);
    expect(impact.changes.filter((c) => c.significant).map((c) => c.metric)).toEqual(['p99']);
    expect(impact.verdict).toBe('p99 +40 ms, significant');
  });

  it('flags an error rate that went from 0.25 % to 3 %', () => {
    const latency: [number, number][] = [[20, 2000]];
    const impact = deployImpact({
      startedAt: START,
      finishedAt: END,
      now: END + 15 * MIN,
      rollups: [beforeWindow(latency, 5), afterWindow(latency, 60)],
    });
    const change = impact.changes.find((c) => c.metric === 'errorRate');
    expect(change?.delta).toBeCloseTo(0.0275, 6);
    expect(change?.significant).toBe(true);
    expect(impact.verdict).toBe('error rate +2.8 pp, significant');
  });

  it('gives no verdict below the traffic floor, however large the change', () => {
    const impact = deployImpact({
      startedAt: START,
      finishedAt: END,
      now: END + 15 * MIN,
      rollups: [beforeWindow([[20, MIN_REQUESTS - 1]]), afterWindow([[900, 500]], 400)],
    });
    expect(impact.status).toBe('not-enough-traffic');
    expect(impact.changes).toEqual([]);
    expect(impact.verdict).toBe('not enough traffic');
  });

  it('does not compare a percentile its windows cannot resolve', () => {
    const impact = deployImpact({
      startedAt: START,
      finishedAt: END,
      now: END + 15 * MIN,
      rollups: [beforeWindow([[20, 300]]), afterWindow([[400, 300]])],
    });
    const p99 = impact.changes.find((c) => c.metric === 'p99');
    expect(p99).toMatchObject({ pValue: null, significant: false, note: 'needs 1000 requests a window' });
    expect(impact.changes.find((c) => c.metric === 'p50')?.significant).toBe(true);
  });

  it('compares equal lengths while the after window fills, and says so', () => {
    const impact = deployImpact({
      startedAt: START,
      finishedAt: END,
      now: END + 6 * MIN + 30_000,
      rollups: [rollup(START - 12 * MIN, [[20, 1000]]), rollup(START - 3 * MIN, [[20, 400]]), rollup(END + MIN, [[20, 400]])],
    });
    expect(impact.status).toBe('measuring');
    // The roll-up 12 minutes before the start lies outside the 6.5-minute before window.
    expect(impact.before?.requests).toBe(400);
    expect(impact.before?.sinceMs).toBe(START - 6 * MIN - 30_000);
    expect(impact.verdict).toBe('no significant change (measuring: 6 of 15 min)');
  });

  it('waits for the rollout to finish', () => {
    expect(deployImpact({ startedAt: START, finishedAt: null, now: END, rollups: [] })).toMatchObject({
      status: 'under-way',
      verdict: 'under way',
    });
  });

  it('rarely calls a deploy that changed nothing significant (≤ 2 % of 200 seeded ones; α is 1 %)', () => {
    const random = mulberry32(26);
    const draw = (): [number, number][] => {
      const counts = new Map<number, number>();
      for (let i = 0; i < 3000; i++) {
        // Log-normal-ish latencies on a 1 ms grid: median ~30 ms, a long tail.
        const value = Math.max(1, Math.round(30 * Math.exp(0.6 * gaussian(random))));
        counts.set(value, (counts.get(value) ?? 0) + 1);
      }
      return [...counts];
    };
    let flagged = 0;
    for (let i = 0; i < 200; i++) {
      const errorsBefore = binomial(random, 3000, 0.01);
      const errorsAfter = binomial(random, 3000, 0.01);
      const impact = deployImpact({
        startedAt: START,
        finishedAt: END,
        now: END + 15 * MIN,
        rollups: [beforeWindow(draw(), errorsBefore), afterWindow(draw(), errorsAfter)],
      });
      if (impact.changes.some((c) => c.significant)) flagged++;
    }
    expect(flagged).toBeLessThanOrEqual(4);
  });
});

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function binomial(random: () => number, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (random() < p) k++;
  return k;
}
