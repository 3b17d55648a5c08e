/**
 * The traces Gantry keeps for one environment: a bounded sample that favours what someone will
 * come looking for — slow requests and errors — and still covers every minute and every latency
 * the heatmap shows, so any heatmap cell with traffic links to a trace in it.
 *
 * The rule:
 * - a trace is placed by its root span (the request) into a cell: its minute × its latency row
 *   of the heatmap (`latencyRow`, the 1-2-5 ladder of the charts);
 * - each cell keeps at most `perCell` traces (first come); an error trace (a span with status
 *   error, or a 5xx) displaces the cell's oldest non-error trace; others are dropped;
 * - past `maxTraces`, the oldest minute gives up traces, its fastest non-error ones first, then
 *   its errors — so within a minute the slow and failed requests are the last to go.
 * Rare rows (the slow tail) have cells of their own, so fast traffic can never crowd them out:
 * a 1 % tail of 20 ms requests at 1,000 req/s keeps as many traces as the 99 %.
 *
 * Spans of a trace may arrive before its root (batches close on a timer, per process): they wait
 * in a bounded pending pool (oldest evicted first) until the root decides. Spans arriving for a
 * kept trace join it (at most `maxSpansPerTrace`). No I/O; memory is bounded by the options.
 */
import { LATENCY_BOUNDS_MS, latencyRow } from '../delivery/index.ts';
import { isErrorSpan, routeOf, type Span } from './span.ts';

export interface TraceSampleOptions {
  /** Traces kept per environment (default 2,000). */
  maxTraces: number;
  /** Traces kept per minute × latency row (default 3). */
  perCell: number;
  /** Spans kept per trace (default 500). */
  maxSpansPerTrace: number;
  /** Spans waiting for their root, per environment (default 5,000). */
  maxPendingSpans: number;
}

export const TRACE_SAMPLE_DEFAULTS: TraceSampleOptions = { maxTraces: 2000, perCell: 3, maxSpansPerTrace: 500, maxPendingSpans: 5000 };

const MINUTE = 60_000;

/** One kept trace as lists show it: its root span's numbers. */
export interface TraceSummary {
  traceId: string;
  startMs: number;
  durationMs: number;
  name: string;
  route: string | null;
  service: string;
  /** The release (`service.version`) that served it. */
  version: string;
  error: boolean;
  spanCount: number;
}

export interface TraceFilter {
  fromMs: number;
  toMs: number;
  /** Latency range of a heatmap row: above `aboveMs`, at most `atMostMs`. */
  aboveMs?: number;
  atMostMs?: number;
  version?: string;
  limit: number;
}

interface Kept {
  summary: TraceSummary;
  spans: Span[];
  minute: number;
  row: number;
}

export class TraceSample {
  readonly #o: TraceSampleOptions;
  readonly #kept = new Map<string, Kept>();
  /** minute → row → trace ids, oldest first. */
  readonly #cells = new Map<number, Map<number, string[]>>();
  readonly #pending = new Map<string, Span[]>();
  #pendingCount = 0;
  #dropped = 0;

  constructor(options: Partial<TraceSampleOptions> = {}) {
    this.#o = { ...TRACE_SAMPLE_DEFAULTS, ...options };
  }

  get size(): number {
    return this.#kept.size;
  }

  /** Root spans seen whose trace was not kept (the cell was full of its kind). */
  get dropped(): number {
    return this.#dropped;
  }

  add(spans: readonly Span[]): void {
    for (const span of spans) {
      const kept = this.#kept.get(span.traceId);
      if (kept) this.#join(kept, span);
      else if (span.parentSpanId === null) this.#admit(span);
      else this.#wait(span);
    }
  }

  /** Kept traces whose root started in [fromMs, toMs) (and within the latency range), slowest first. */
  find(f: TraceFilter): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const { summary: s } of this.#kept.values()) {
      if (s.startMs < f.fromMs || s.startMs >= f.toMs) continue;
      if (f.aboveMs !== undefined && !(s.durationMs > f.aboveMs)) continue;
      if (f.atMostMs !== undefined && !(s.durationMs <= f.atMostMs)) continue;
      if (f.version !== undefined && s.version !== f.version) continue;
      out.push(s);
    }
    return out.sort((a, b) => b.durationMs - a.durationMs).slice(0, f.limit);
  }

  get(traceId: string): { summary: TraceSummary; spans: Span[] } | undefined {
    const kept = this.#kept.get(traceId);
    return kept && { summary: kept.summary, spans: kept.spans };
  }

  #admit(root: Span): void {
    const waiting = this.#pending.get(root.traceId) ?? [];
    this.#pending.delete(root.traceId);
    this.#pendingCount -= waiting.length;
    const minute = Math.floor(root.startMs / MINUTE) * MINUTE;
    const row = latencyRow(root.durationMs);
    const error = isErrorSpan(root) || waiting.some(isErrorSpan);
    let rows = this.#cells.get(minute);
    if (!rows) this.#cells.set(minute, (rows = new Map()));
    let cell = rows.get(row);
    if (!cell) rows.set(row, (cell = []));
    if (cell.length >= this.#o.perCell) {
      const displaced = error ? cell.find((id) => !this.#kept.get(id)?.summary.error) : undefined;
      if (displaced === undefined) {
        this.#dropped++;
        return;
      }
      this.#evict(displaced);
      this.#dropped++;
    }
    const spans = [root, ...waiting].slice(0, this.#o.maxSpansPerTrace);
    const summary: TraceSummary = {
      traceId: root.traceId,
      startMs: root.startMs,
      durationMs: root.durationMs,
      name: root.name,
      route: routeOf(root),
      service: root.service,
      version: root.version,
      error,
      spanCount: spans.length,
    };
    this.#kept.set(root.traceId, { summary, spans, minute, row });
    cell.push(root.traceId);
    while (this.#kept.size > this.#o.maxTraces) this.#evictOldest();
  }

  #join(kept: Kept, span: Span): void {
    if (kept.spans.length >= this.#o.maxSpansPerTrace) return;
    kept.spans.push(span);
    kept.summary.spanCount = kept.spans.length;
    if (isErrorSpan(span)) kept.summary.error = true;
  }

  #wait(span: Span): void {
    let list = this.#pending.get(span.traceId);
    if (!list) this.#pending.set(span.traceId, (list = []));
    list.push(span);
    this.#pendingCount++;
    // Oldest traces first: Map iteration follows insertion order.
    for (const [traceId, spans] of this.#pending) {
      if (this.#pendingCount <= this.#o.maxPendingSpans) break;
      this.#pending.delete(traceId);
      this.#pendingCount -= spans.length;
    }
  }

  #evictOldest(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const minute of this.#cells.keys()) oldest = Math.min(oldest, minute);
    const rows = this.#cells.get(oldest);
    if (!rows) return;
    const ordered = [...rows.entries()].sort((a, b) => a[0] - b[0]);
    for (const [, ids] of ordered) {
      const plain = ids.find((id) => !this.#kept.get(id)?.summary.error);
      if (plain !== undefined) {
        this.#evict(plain);
        return;
      }
    }
    const first = ordered[0]?.[1][0];
    if (first !== undefined) this.#evict(first);
  }

  #evict(traceId: string): void {
    const kept = this.#kept.get(traceId);
    if (!kept) return;
    this.#kept.delete(traceId);
    const rows = this.#cells.get(kept.minute);
    const cell = rows?.get(kept.row);
    if (!rows || !cell) return;
    cell.splice(cell.indexOf(traceId), 1);
    if (cell.length === 0) rows.delete(kept.row);
    if (rows.size === 0) this.#cells.delete(kept.minute);
  }
}

/** The latency range of heatmap row `row` (as `latencyRow` assigns them): above the previous bound, at most its own. */
export function latencyRowRange(row: number): { aboveMs: number; atMostMs: number } {
  const last = LATENCY_BOUNDS_MS.length - 1;
  const aboveMs = row <= 0 ? Number.NEGATIVE_INFINITY : (LATENCY_BOUNDS_MS[row - 1] as number);
  // The top row takes everything above its bound too.
  const atMostMs = row >= last ? Number.POSITIVE_INFINITY : (LATENCY_BOUNDS_MS[row] as number);
  return { aboveMs, atMostMs };
}
