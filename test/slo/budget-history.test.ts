import { describe, expect, it } from 'vitest';
import type { BurnRateRule } from '../../src/core/slo-config.ts';
import type { HistoryBucket, HistoryEvent } from '../../src/slo/index.ts';
import { alertIntervals, alertWindows, budgetHistory, deployMarkers, sumEvents } from '../../src/slo/index.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = 1_800_000_000_000;

/** One bucket a minute: 1,000 requests, `bad` of them failed. */
function minutes(badPerMinute: number[]): HistoryBucket[] {
  return badPerMinute.map((bad, i) => ({ startMs: T0 + i * MINUTE, endMs: T0 + (i + 1) * MINUTE, good: 1000 - bad, total: 1000 }));
}

const RULES: BurnRateRule[] = [
  { severity: 'page', burnRate: 14.4, longWindowMs: 2 * MINUTE, shortWindowMs: 1 * MINUTE },
  { severity: 'ticket', burnRate: 1, longWindowMs: 4 * MINUTE, shortWindowMs: 1 * MINUTE },
];

describe('the budget history the dashboard draws', () => {
  it('burns the budget down from 1 to what is left now, and reads each window at each point', () => {
    // 10 minutes measured of a 1-hour period, 99 % objective: 10,000 requests allow 100 failures.
    // 40 fail in minute 4 and 20 in minute 7: 60 % of the budget spent, 40 % left.
    const buckets = minutes([0, 0, 0, 0, 40, 0, 0, 20, 0, 0]);
    const history = budgetHistory({
      slo: 'availability',
      objective: 0.99,
      periodMs: HOUR,
      rules: RULES,
      buckets,
      sinceMs: T0,
      nowMs: T0 + 10 * MINUTE,
      points: 11,
      events: [],
    });
    expect(history.fromMs).toBe(T0);
    expect(history.allowedBad).toBeCloseTo(100, 9);
    expect(history.windows.map((w) => w.windowMs)).toEqual([MINUTE, 2 * MINUTE, 4 * MINUTE]);
    expect(history.windows[0]?.rules).toEqual([
      { severity: 'page', burnRate: 14.4, role: 'short' },
      { severity: 'ticket', burnRate: 1, role: 'short' },
    ]);
    expect(history.points.map((p) => p.t)).toEqual(Array.from({ length: 11 }, (_, i) => T0 + i * MINUTE));
    const remaining = history.points.map((p) => Math.round(p.remaining * 1e9) / 1e9);
    expect(remaining).toEqual([1, 1, 1, 1, 1, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4]);
    // Burn rate at the end of minute 4 (t = 5 min): 1 min window 40/1000/0.01 = 4; 2 min 2; 4 min 1.
    const at5 = history.points[5]?.burnRates.map((r) => (r === null ? null : Math.round(r * 1e9) / 1e9));
    expect(at5).toEqual([4, 2, 1]);
    // Windows that reach back before measuring began are not drawn.
    expect(history.points[1]?.burnRates).toEqual([0, null, null]);
    // Now, it is the budget's own arithmetic: 1 − 60 / 100.
    expect(history.points.at(-1)?.remaining).toBeCloseTo(0.4, 12);
  });

  it('reads a window cutting a coarse bucket as the evaluation does (pro-rated), at any point', () => {
    const buckets: HistoryBucket[] = [
      { startMs: T0, endMs: T0 + 10 * MINUTE, good: 900, total: 1000 },
      { startMs: T0 + 10 * MINUTE, endMs: T0 + 11 * MINUTE, good: 95, total: 100 },
    ];
    const history = budgetHistory({
      slo: 's',
      objective: 0.9,
      periodMs: HOUR,
      rules: [{ severity: 'page', burnRate: 2, longWindowMs: 3 * MINUTE, shortWindowMs: MINUTE }],
      buckets,
      sinceMs: T0,
      nowMs: T0 + 11 * MINUTE,
      points: 12,
      events: [],
    });
    for (const point of history.points) {
      if (point.t - 3 * MINUTE < T0) continue;
      const w = sumEvents(buckets, point.t - 3 * MINUTE, point.t);
      expect(point.burnRates[1]).toBeCloseTo((w.total - w.good) / w.total / 0.1, 9);
    }
    // By minute 5, half of the first bucket: 50 bad of the 1,100 × 0.1 = 110 the period allows.
    expect(history.points[5]?.remaining).toBeCloseTo(1 - 50 / 110, 9);
  });

  it('draws the measured part of the period only, and a period without traffic keeps its whole budget', () => {
    const history = budgetHistory({
      slo: 's',
      objective: 0.999,
      periodMs: HOUR,
      rules: [],
      buckets: [],
      sinceMs: T0 - 5 * HOUR,
      nowMs: T0,
      points: 5,
      events: [],
    });
    expect(history.fromMs).toBe(T0 - HOUR);
    // A roll-up that began before measuring did: the span starts with it, at a full budget.
    const early = budgetHistory({
      slo: 's',
      objective: 0.99,
      periodMs: HOUR,
      rules: [{ severity: 'page', burnRate: 1, longWindowMs: 5 * MINUTE, shortWindowMs: MINUTE }],
      buckets: [{ startMs: T0 - 10 * MINUTE, endMs: T0, good: 90, total: 100 }],
      sinceMs: T0 - 5 * MINUTE,
      nowMs: T0,
      points: 3,
      events: [],
    });
    const round = (n: number | null) => (n === null ? null : Math.round(n * 1e9) / 1e9);
    expect(early.points.map((p) => [p.t, round(p.remaining), p.burnRates.map(round)])).toEqual([
      [T0 - 10 * MINUTE, 1, [null, null]],
      [T0 - 5 * MINUTE, -4, [10, 10]],
      [T0, -9, [10, 10]],
    ]);
    expect(history.points.map((p) => [p.t, p.remaining])).toEqual([
      [T0 - HOUR, 1],
      [T0 - 45 * MINUTE, 1],
      [T0 - 30 * MINUTE, 1],
      [T0 - 15 * MINUTE, 1],
      [T0, 1],
    ]);
  });

  it('pairs firings with resolutions per severity, keeps one still firing open, and starts an early one at firedAt', () => {
    const ev = (type: string, atMs: number, data: Record<string, unknown>): HistoryEvent => ({ type, atMs, data });
    const events = [
      ev('slo.alert.resolved', T0 + MINUTE, {
        slo: 'a',
        severity: 'ticket',
        firedAt: new Date(T0 - HOUR).toISOString(),
        peakBurnRate: 1.5,
      }),
      ev('slo.alert.fired', T0 + 2 * MINUTE, { slo: 'a', severity: 'page' }),
      ev('slo.alert.fired', T0 + 2 * MINUTE, { slo: 'other', severity: 'page' }),
      ev('slo.alert.resolved', T0 + 5 * MINUTE, { slo: 'a', severity: 'page', peakBurnRate: 30 }),
      ev('slo.alert.fired', T0 + 8 * MINUTE, { slo: 'a', severity: 'page' }),
    ];
    expect(alertIntervals('a', events)).toEqual([
      { severity: 'ticket', fromMs: T0 - HOUR, toMs: T0 + MINUTE, peakBurnRate: 1.5 },
      { severity: 'page', fromMs: T0 + 2 * MINUTE, toMs: T0 + 5 * MINUTE, peakBurnRate: 30 },
      { severity: 'page', fromMs: T0 + 8 * MINUTE, toMs: null, peakBurnRate: null },
    ]);
    // Only those overlapping the span are drawn.
    const history = budgetHistory({
      slo: 'a',
      objective: 0.99,
      periodMs: HOUR,
      rules: [],
      buckets: [],
      sinceMs: T0 + 2 * MINUTE,
      nowMs: T0 + 10 * MINUTE,
      points: 2,
      events,
    });
    expect(history.alerts.map((a) => a.fromMs)).toEqual([T0 + 2 * MINUTE, T0 + 8 * MINUTE]);
  });

  it('marks each rollout that ended with the release it rolled out', () => {
    const events: HistoryEvent[] = [
      { type: 'rollout.created', atMs: T0, data: { rolloutId: 'r1', releaseNumber: 3 } },
      { type: 'rollout.step', atMs: T0 + 1000, data: { rolloutId: 'r1' } },
      { type: 'rollout.rollout.finished', atMs: T0 + 5000, data: { rolloutId: 'r1', phase: 'succeeded' } },
      { type: 'rollout.rollout.finished', atMs: T0 + 9000, data: { rolloutId: 'r0', phase: 'rolled-back' } },
    ];
    expect(deployMarkers(events)).toEqual([
      { atMs: T0 + 5000, rolloutId: 'r1', releaseNumber: 3, outcome: 'succeeded' },
      { atMs: T0 + 9000, rolloutId: 'r0', releaseNumber: null, outcome: 'rolled-back' },
    ]);
    expect(alertWindows([])).toEqual([]);
  });
});
