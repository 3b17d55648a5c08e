import { describe, expect, it } from 'vitest';
import type { EventCounts, HistoryBucket } from '../../src/slo/index.ts';
import { compactHistory, historyTiers, recordEvents, recordSpan, sumEvents } from '../../src/slo/index.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('downsampled event history', () => {
  it('keeps 10-second buckets for 2 hours, then 1 minute, 10 minutes and hours for a 30-day period', () => {
    expect(historyTiers(30 * DAY)).toEqual([
      { resolutionMs: 10 * SECOND, retainMs: 2 * HOUR },
      { resolutionMs: MINUTE, retainMs: DAY },
      { resolutionMs: 10 * MINUTE, retainMs: 3 * DAY },
      { resolutionMs: HOUR, retainMs: 30 * DAY + HOUR },
    ]);
  });

  it('scales the tiers to shorter periods, never finer than a second and each a multiple of the last', () => {
    const tiers = historyTiers(DAY);
    expect(tiers.map((t) => t.resolutionMs)).toEqual([SECOND, 2 * SECOND, 20 * SECOND, 2 * MINUTE]);
    for (let i = 1; i < tiers.length; i++)
      expect((tiers[i] as { resolutionMs: number }).resolutionMs % (tiers[i - 1] as { resolutionMs: number }).resolutionMs).toBe(0);
  });

  it('answers every alert window of a 1-day SLO within one edge bucket of the exact sums, in a fraction of the buckets', () => {
    const periodMs = DAY;
    const tiers = historyTiers(periodMs);
    const start = 1_700_000_000_000 - (1_700_000_000_000 % HOUR);
    const seconds = DAY / SECOND + 3600; // a day and an hour, so the oldest data has aged out
    const step = 5; // a sample every 5 s, like a roll-up, keeps the test fast
    const raw: EventCounts[] = [];
    let history: HistoryBucket[] = [];
    for (let s = 0; s < seconds; s += step) {
      // Traffic that varies (a daily wave) with error bursts, so a misplaced bucket shows.
      const total = step * (40 + Math.round(20 * Math.sin((2 * Math.PI * s) / 86_400)));
      const bad = s % 3600 < 60 ? Math.round(total / 4) : s % 35 === 0 ? 1 : 0;
      raw.push({ good: total - bad, total });
      history = recordEvents(history, tiers, start + s * SECOND + 500, { good: total - bad, total });
      if (s % 30 === 0) history = compactHistory(history, tiers, start + (s + step) * SECOND);
    }
    const now = start + seconds * SECOND;
    history = compactHistory(history, tiers, now);

    const exact = (windowMs: number): EventCounts => {
      let good = 0;
      let total = 0;
      for (let i = (seconds - windowMs / SECOND) / step; i < raw.length; i++) {
        good += (raw[i] as EventCounts).good;
        total += (raw[i] as EventCounts).total;
      }
      return { good, total };
    };
    const stored = tiers.reduce((n, t) => n + t.retainMs / t.resolutionMs, 0);
    expect(history.length).toBeLessThanOrEqual(Math.ceil(stored) + tiers.length);
    expect(history.length).toBeLessThan(seconds / 20);

    for (const windowMs of [10 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE, 12 * MINUTE, 2.4 * HOUR, DAY]) {
      const got = sumEvents(history, now - windowMs, now);
      const want = exact(windowMs);
      // The one bucket the window's start cuts: at most its whole count (≤ 60 req/s × its span,
      // and a sample is 5 s of traffic).
      const edge = tiers.find((t) => windowMs <= t.retainMs) ?? tiers[tiers.length - 1];
      const slack = 60 * Math.max(step, (edge as { resolutionMs: number }).resolutionMs / SECOND);
      expect(Math.abs(got.total - want.total), `total over ${windowMs} ms`).toBeLessThanOrEqual(slack);
      expect(Math.abs(got.total - got.good - (want.total - want.good)), `bad over ${windowMs} ms`).toBeLessThanOrEqual(slack);
    }
  });

  it('compacts idempotently and never loses a count', () => {
    const tiers = historyTiers(DAY);
    let history: HistoryBucket[] = [];
    for (let s = 0; s < 4000; s++) history = recordEvents(history, tiers, s * SECOND, { good: 2, total: 3 });
    const once = compactHistory(history, tiers, 4000 * SECOND);
    expect(compactHistory(once, tiers, 4000 * SECOND)).toEqual(once);
    expect(sumEvents(once, 0, 4000 * SECOND)).toEqual({ good: 8000, total: 12_000 });
    for (let i = 1; i < once.length; i++)
      expect((once[i] as HistoryBucket).startMs).toBeGreaterThanOrEqual((once[i - 1] as HistoryBucket).endMs);
  });

  it('spreads a span of events over the finest buckets it covers', () => {
    const tiers = historyTiers(DAY); // 1-second buckets
    const history = recordSpan([], tiers, 10_500, 20_500, { good: 90, total: 100 });
    expect(history).toHaveLength(11);
    expect(history[0]).toEqual({ startMs: 10_000, endMs: 11_000, good: 4.5, total: 5 });
    expect(history[5]).toEqual({ startMs: 15_000, endMs: 16_000, good: 9, total: 10 });
    expect(sumEvents(history, 0, 30_000)).toEqual({ good: 90, total: 100 });
    expect(sumEvents(history, 15_000, 20_000).total).toBeCloseTo(50, 9);
  });

  it('reads whole events back whole after spreading them (65 roll-up requests were 64.99999999999994)', () => {
    const tiers = historyTiers(HOUR); // 1-second buckets: a 10-second roll-up is spread in tenths
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let trial = 0; trial < 200; trial++) {
      let history: HistoryBucket[] = [];
      let expected = 0;
      for (let start = 0; start < 70_000; start += 10_000) {
        const total = 1 + Math.floor(random() * 20);
        const good = Math.floor(random() * (total + 1));
        history = recordSpan(history, tiers, start, start + 10_000, { good, total });
        expected += total;
      }
      expect(sumEvents(history, 0, HOUR).total).toBe(expected);
    }
  });

  it('drops what is older than the period (and one bucket of slack)', () => {
    const tiers = historyTiers(DAY);
    const history = recordEvents([], tiers, 0, { good: 1, total: 1 });
    expect(compactHistory(history, tiers, DAY)).toHaveLength(1);
    expect(compactHistory(history, tiers, DAY + 3 * MINUTE)).toEqual([]);
  });
});
