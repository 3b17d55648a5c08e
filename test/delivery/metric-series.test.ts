import { describe, expect, it } from 'vitest';
import { LATENCY_BOUNDS_MS, latencyRow, metricSeries, windowPoint, type RollupInput } from '../../src/delivery/metric-series.ts';

const T0 = 1_699_999_980_000; // a multiple of 60 s

function rollup(
  version: string,
  startMs: number,
  requests: number,
  errors: number,
  latency: { valueMs: number; count: number }[],
  pool = 'stable',
): RollupInput {
  return { version, pool, startMs, endMs: startMs + 10_000, requests, errors, data: { latency, p50: 999 } };
}

describe('metricSeries', () => {
  it('buckets roll-ups by their start into aligned steps, one point per step even when empty', () => {
    const series = metricSeries(
      [
        rollup('r1', T0, 10, 1, [{ valueMs: 5, count: 10 }]),
        rollup('r1', T0 + 10_000, 20, 0, [{ valueMs: 7, count: 20 }]),
        rollup('r1', T0 + 120_000, 6, 3, [{ valueMs: 9, count: 6 }]),
      ],
      { sinceMs: T0 + 5_000, untilMs: T0 + 180_000, stepSeconds: 60 },
    );
    expect(series.stepSeconds).toBe(60);
    expect(series.total.map((p) => p.t)).toEqual([T0, T0 + 60_000, T0 + 120_000]);
    expect(series.total.map((p) => p.requests)).toEqual([30, 0, 6]);
    expect(series.total[0]).toMatchObject({ rps: 0.5, errors: 1, errorRate: 1 / 30 });
    expect(series.total[1]).toEqual({ t: T0 + 60_000, requests: 0, rps: 0, errors: 0, errorRate: null, p50: null, p95: null, p99: null });
    expect(series.total[2]).toMatchObject({ errorRate: 0.5, p50: 9, p99: 9 });
  });

  it("takes percentiles from the merged latency buckets, not from the roll-ups' own", () => {
    // 90 fast requests in one roll-up and 10 slow ones in the next, same minute: p50 fast, p95/p99 slow.
    const series = metricSeries(
      [
        rollup('r1', T0, 90, 0, [{ valueMs: 4, count: 90 }]),
        rollup('r1', T0 + 10_000, 10, 0, [
          { valueMs: 400, count: 6 },
          { valueMs: 800, count: 4 },
        ]),
      ],
      { sinceMs: T0, untilMs: T0 + 60_000, stepSeconds: 60 },
    );
    expect(series.total).toHaveLength(1);
    expect(series.total[0]).toMatchObject({ requests: 100, p50: 4, p95: 400, p99: 800 });
  });

  it('keeps releases apart (pools of one release merged) and sums them in the total', () => {
    const series = metricSeries(
      [
        rollup('stable-rel', T0, 90, 0, [{ valueMs: 3, count: 90 }], 'stable'),
        rollup('canary-rel', T0, 10, 5, [{ valueMs: 30, count: 10 }], 'canary'),
        // After a promotion the same release serves as stable: still one series.
        rollup('canary-rel', T0 + 10_000, 4, 0, [{ valueMs: 30, count: 4 }], 'stable'),
      ],
      { sinceMs: T0, untilMs: T0 + 20_000, stepSeconds: 10 },
    );
    expect(Object.keys(series.releases).sort()).toEqual(['canary-rel', 'stable-rel']);
    expect(series.releases['canary-rel']?.points.map((p) => [p.requests, p.errorRate])).toEqual([
      [10, 0.5],
      [4, 0],
    ]);
    expect(series.releases['stable-rel']?.points.map((p) => p.requests)).toEqual([90, 0]);
    expect(series.total.map((p) => [p.requests, p.errors, p.rps])).toEqual([
      [100, 5, 10],
      [4, 0, 0.4],
    ]);
  });

  it('leaves out roll-ups outside the range and tolerates malformed latency data', () => {
    const series = metricSeries(
      [
        rollup('r1', T0 - 20_000, 50, 50, [{ valueMs: 1, count: 50 }]),
        rollup('r1', T0 + 60_000, 50, 50, [{ valueMs: 1, count: 50 }]),
        {
          version: 'r1',
          pool: 'stable',
          startMs: T0,
          endMs: T0 + 10_000,
          requests: 2,
          errors: 0,
          data: { latency: [{ valueMs: 'x', count: 1 }, null, { valueMs: 2, count: 2 }] },
        },
        { version: 'r1', pool: 'stable', startMs: T0 + 10_000, endMs: T0 + 20_000, requests: 3, errors: 0, data: {} },
      ],
      { sinceMs: T0, untilMs: T0 + 60_000, stepSeconds: 30 },
    );
    expect(series.total.map((p) => p.requests)).toEqual([5, 0]);
    expect(series.total[0]?.p50).toBe(2);
  });

  it('builds a heatmap on a shared, trimmed log-spaced latency axis', () => {
    const series = metricSeries(
      [
        rollup('a', T0, 3, 0, [
          { valueMs: 3, count: 2 },
          { valueMs: 4.5, count: 1 },
        ]),
        rollup('b', T0 + 10_000, 2, 0, [{ valueMs: 150, count: 2 }]),
        rollup('b', T0 + 20_000, 1, 0, [{ valueMs: 1e9, count: 1 }]),
      ],
      { sinceMs: T0, untilMs: T0 + 30_000, stepSeconds: 10 },
    );
    // 3 and 4.5 ms fall under the 5 ms bound; 150 ms under 200; anything huge in the top row.
    expect(series.totalHeatmap.bucketsMs).toEqual(LATENCY_BOUNDS_MS.slice(latencyRow(5), LATENCY_BOUNDS_MS.length));
    expect(series.releases.a?.heatmap.bucketsMs).toEqual(series.totalHeatmap.bucketsMs);
    const rowOf = (ms: number) => latencyRow(ms) - latencyRow(5);
    expect(series.releases.a?.heatmap.cells).toEqual([[0, 0, 3]]);
    expect(series.releases.b?.heatmap.cells).toEqual([
      [1, rowOf(150), 2],
      [2, rowOf(120_000), 1],
    ]);
    expect(series.totalHeatmap.times).toEqual([T0, T0 + 10_000, T0 + 20_000]);
    expect(series.totalHeatmap.cells).toHaveLength(3);
  });

  it('answers an empty range and empty data without inventing anything', () => {
    const empty = metricSeries([], { sinceMs: T0, untilMs: T0 + 20_000, stepSeconds: 10 });
    expect(empty.total).toHaveLength(2);
    expect(empty.releases).toEqual({});
    expect(empty.totalHeatmap).toEqual({ bucketsMs: [], times: [T0, T0 + 10_000], cells: [] });
    expect(() => metricSeries([], { sinceMs: T0, untilMs: T0, stepSeconds: 0 })).toThrow(RangeError);
  });
});

describe('windowPoint', () => {
  it('turns a live window into a point over its length', () => {
    expect(
      windowPoint(
        {
          requests: 20,
          errors: 2,
          latency: [
            { valueMs: 8, count: 19 },
            { valueMs: 2, count: 1 },
          ],
        },
        T0,
        10,
      ),
    ).toEqual({ t: T0, requests: 20, rps: 2, errors: 2, errorRate: 0.1, p50: 8, p95: 8, p99: 8 });
    expect(windowPoint({ requests: 0, errors: 0 }, T0, 10)).toMatchObject({ rps: 0, errorRate: null, p99: null });
  });
});

describe('latencyRow', () => {
  it('maps a latency to the first bound at or above it', () => {
    expect(latencyRow(0)).toBe(0);
    expect(latencyRow(0.5)).toBe(0);
    expect(latencyRow(0.51)).toBe(1);
    expect(LATENCY_BOUNDS_MS[latencyRow(1_000)]).toBe(1_000);
    expect(latencyRow(Number.MAX_VALUE)).toBe(LATENCY_BOUNDS_MS.length - 1);
  });
});
