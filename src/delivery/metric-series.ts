/**
 * Request roll-ups → chart series, for the dashboard's deployment page: per time bucket the
 * request rate, error rate and latency percentiles of each release and of all traffic, and a
 * time × latency heatmap. Pure: the server reads the stored ten-second roll-ups and the proxy's
 * live window, this turns them into points, so the same numbers come out in tests and charts.
 *
 * Percentiles come from the merged latency buckets of every roll-up in a bucket (never from
 * averaging the roll-ups' own p99s, which is meaningless), by nearest rank as the analysis does.
 */
import { quantile, sortedHistogram, type Histogram } from './analysis-stats.ts';

/** The shape of a stored roll-up this module reads (src/store MetricRollup fits it). */
export interface RollupInput {
  /** The release id the requests went to. */
  version: string;
  pool: string;
  startMs: number;
  endMs: number;
  requests: number;
  errors: number;
  /** `latency` holds `{ valueMs, count }[]`; anything else is ignored. */
  data: Record<string, unknown>;
}

/** One chart point: what happened in [t, t + step). Rates and percentiles are null when nothing was asked. */
export interface SeriesPoint {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  requests: number;
  /** Requests per second over the bucket's length. */
  rps: number;
  errors: number;
  /** errors / requests (0..1); null without requests. */
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * A time × latency heatmap: `cells` are `[timeIndex, bucketIndex, count]`, only non-zero ones.
 * A request of latency v counts in the first bucket whose upper bound is ≥ v (the last one
 * takes everything above it too).
 */
export interface LatencyHeatmap {
  /** Upper bounds in ms, ascending, log-spaced. */
  bucketsMs: number[];
  /** Bucket starts (ms since the epoch), the same as the points' `t`. */
  times: number[];
  cells: [number, number, number][];
}

export interface ReleaseSeries {
  points: SeriesPoint[];
  heatmap: LatencyHeatmap;
}

/** What GET …/environments/:env/series answers. */
export interface MetricSeries {
  stepSeconds: number;
  total: SeriesPoint[];
  totalHeatmap: LatencyHeatmap;
  /** By release id. */
  releases: Record<string, ReleaseSeries>;
}

/**
 * Heatmap rows: a 1-2-5 ladder from 0.5 ms to 2 min (log-spaced, readable labels). The proxy
 * clamps latencies at ~134 s, so the top row is where anything that slow lands.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 120_000,
];

/**
 * Buckets the roll-ups overlapping [sinceMs, untilMs) by their start into `stepSeconds` slots
 * aligned to the epoch (so series from two requests line up), one point per slot even when it
 * is empty — charts then show gaps as gaps. Heatmap rows are trimmed to the latency range seen
 * in ANY series of the answer, so every heatmap shares one y axis and stays comparable.
 */
export function metricSeries(rollups: readonly RollupInput[], o: { sinceMs: number; untilMs: number; stepSeconds: number }): MetricSeries {
  const stepMs = o.stepSeconds * 1000;
  if (!(stepMs > 0)) throw new RangeError(`stepSeconds must be positive (got ${o.stepSeconds})`);
  const first = Math.floor(o.sinceMs / stepMs) * stepMs;
  const count = Math.max(0, Math.ceil((o.untilMs - first) / stepMs));
  const times = Array.from({ length: count }, (_, i) => first + i * stepMs);

  const total = new Accumulator(count);
  const byRelease = new Map<string, Accumulator>();
  for (const r of count > 0 ? rollups : []) {
    if (r.endMs <= o.sinceMs || r.startMs >= o.untilMs) continue;
    // A roll-up that began before `sinceMs` still counts, in the first slot.
    const slot = Math.min(count - 1, Math.max(0, Math.floor((r.startMs - first) / stepMs)));
    const latency = latencyOf(r.data);
    total.add(slot, r.requests, r.errors, latency);
    let acc = byRelease.get(r.version);
    if (!acc) byRelease.set(r.version, (acc = new Accumulator(count)));
    acc.add(slot, r.requests, r.errors, latency);
  }

  // One latency axis for all: from the lowest to the highest row any series uses.
  let low = Infinity;
  let high = -Infinity;
  for (const acc of [total, ...byRelease.values()]) {
    for (const row of acc.rowsUsed()) {
      low = Math.min(low, row);
      high = Math.max(high, row);
    }
  }
  const rows = Number.isFinite(low) ? { low, high } : null;

  const releases: Record<string, ReleaseSeries> = {};
  for (const [id, acc] of byRelease) releases[id] = { points: acc.points(times, o.stepSeconds), heatmap: acc.heatmap(times, rows) };
  return { stepSeconds: o.stepSeconds, total: total.points(times, o.stepSeconds), totalHeatmap: total.heatmap(times, rows), releases };
}

/**
 * One point from an aggregate over `seconds` ending now (the proxy's live window), stamped `t`:
 * how the stream moves a chart between ten-second roll-ups.
 */
export function windowPoint(sample: { requests: number; errors: number; latency?: unknown }, t: number, seconds: number): SeriesPoint {
  return pointOf(t, sample.requests, sample.errors, sortedHistogram(latencyList(sample.latency)), seconds);
}

/** The heatmap row of a latency: the first bound ≥ it, else the top row. */
export function latencyRow(valueMs: number): number {
  const i = LATENCY_BOUNDS_MS.findIndex((bound) => valueMs <= bound);
  return i === -1 ? LATENCY_BOUNDS_MS.length - 1 : i;
}

// ---------------------------------------------------------------- internals

class Accumulator {
  readonly requests: number[];
  readonly errors: number[];
  readonly latency: Histogram[];

  constructor(count: number) {
    this.requests = new Array<number>(count).fill(0);
    this.errors = new Array<number>(count).fill(0);
    this.latency = Array.from({ length: count }, () => []);
  }

  add(slot: number, requests: number, errors: number, latency: Histogram): void {
    this.requests[slot] = (this.requests[slot] ?? 0) + requests;
    this.errors[slot] = (this.errors[slot] ?? 0) + errors;
    this.latency[slot]?.push(...latency);
  }

  points(times: number[], stepSeconds: number): SeriesPoint[] {
    return times.map((t, i) => pointOf(t, this.requests[i] ?? 0, this.errors[i] ?? 0, sortedHistogram(this.latency[i] ?? []), stepSeconds));
  }

  *rowsUsed(): Iterable<number> {
    for (const h of this.latency) for (const b of h) if (b.count > 0) yield latencyRow(b.valueMs);
  }

  heatmap(times: number[], rows: { low: number; high: number } | null): LatencyHeatmap {
    if (!rows) return { bucketsMs: [], times, cells: [] };
    const cells: [number, number, number][] = [];
    this.latency.forEach((h, ti) => {
      const counts = new Map<number, number>();
      for (const b of h) if (b.count > 0) counts.set(latencyRow(b.valueMs), (counts.get(latencyRow(b.valueMs)) ?? 0) + b.count);
      for (const [row, n] of [...counts].sort((a, b) => a[0] - b[0])) cells.push([ti, row - rows.low, n]);
    });
    return { bucketsMs: LATENCY_BOUNDS_MS.slice(rows.low, rows.high + 1), times, cells };
  }
}

function pointOf(t: number, requests: number, errors: number, latency: Histogram, seconds: number): SeriesPoint {
  const has = requests > 0;
  const measured = latency.length > 0;
  return {
    t,
    requests,
    rps: seconds > 0 ? requests / seconds : 0,
    errors,
    errorRate: has ? errors / requests : null,
    p50: has && measured ? quantile(latency, 0.5) : null,
    p95: has && measured ? quantile(latency, 0.95) : null,
    p99: has && measured ? quantile(latency, 0.99) : null,
  };
}

function latencyOf(data: Record<string, unknown>): Histogram {
  return latencyList(data.latency);
}

/** A roll-up's stored `latency` as buckets: stored JSON is trusted only as far as its shape checks out (a malformed bucket is skipped). */
export function latencyList(value: unknown): Histogram {
  if (!Array.isArray(value)) return [];
  const out: Histogram = [];
  for (const b of value as unknown[]) {
    if (typeof b !== 'object' || b === null) continue;
    const { valueMs, count } = b as { valueMs?: unknown; count?: unknown };
    if (typeof valueMs === 'number' && typeof count === 'number' && Number.isFinite(valueMs) && count > 0) out.push({ valueMs, count });
  }
  return out;
}
