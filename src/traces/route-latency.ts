/**
 * Latency by release and route from every server span that names its `http.route` — all spans
 * received, before the trace sample keeps a few, so the percentiles are unbiased. Each
 * (release, route) is a histogram of log-spaced buckets 2 % wide: percentiles within 1 % and a
 * few hundred buckets whatever the traffic. Bounded: past `maxKeys` pairs, new ones are counted
 * under route `(other)`.
 */
import { quantile } from '../delivery/index.ts';
import { isErrorSpan, routeOf, type Span } from './span.ts';

/** OTLP SpanKind SERVER. */
const SERVER = 2;
const GROWTH = Math.log(1.02);
export const OTHER_ROUTE = '(other)';

export interface RouteLatencyRow {
  version: string;
  route: string;
  count: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
}

interface Entry {
  count: number;
  errors: number;
  buckets: Map<number, number>;
}

export class RouteLatency {
  readonly #entries = new Map<string, Entry>();
  readonly #maxKeys: number;

  constructor(maxKeys = 500) {
    this.#maxKeys = maxKeys;
  }

  add(spans: readonly Span[]): void {
    for (const span of spans) {
      if (span.kind !== SERVER) continue;
      const route = routeOf(span);
      if (route === null) continue;
      let key = JSON.stringify([span.version, route]);
      if (!this.#entries.has(key) && this.#entries.size >= this.#maxKeys) key = JSON.stringify([span.version, OTHER_ROUTE]);
      let entry = this.#entries.get(key);
      if (!entry) this.#entries.set(key, (entry = { count: 0, errors: 0, buckets: new Map() }));
      entry.count++;
      if (isErrorSpan(span)) entry.errors++;
      const bucket = span.durationMs > 0 ? Math.round(Math.log(span.durationMs) / GROWTH) : Number.NEGATIVE_INFINITY;
      entry.buckets.set(bucket, (entry.buckets.get(bucket) ?? 0) + 1);
    }
  }

  /** Every (release, route), by release then by p99, slowest first. */
  rows(): RouteLatencyRow[] {
    const out: RouteLatencyRow[] = [];
    for (const [key, entry] of this.#entries) {
      const [version, route] = JSON.parse(key) as [string, string];
      const histogram = [...entry.buckets].map(([b, count]) => ({
        valueMs: b === Number.NEGATIVE_INFINITY ? 0 : Math.exp(b * GROWTH),
        count,
      }));
      out.push({
        version,
        route,
        count: entry.count,
        errors: entry.errors,
        p50: quantile(histogram, 0.5),
        p95: quantile(histogram, 0.95),
        p99: quantile(histogram, 0.99),
      });
    }
    return out.sort((a, b) => a.version.localeCompare(b.version) || b.p99 - a.p99);
  }
}
