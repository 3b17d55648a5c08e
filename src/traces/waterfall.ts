/**
 * A trace as a waterfall: its spans in tree order (each parent before its children, siblings
 * by start), each with its depth and its offset from the trace's start. A span whose parent
 * was not received (dropped by its exporter, or still in flight) is drawn as a root, so nothing
 * sent is hidden.
 */
import { isErrorSpan, type AttributeValue, type Span } from './span.ts';

export interface WaterfallRow {
  spanId: string;
  parentSpanId: string | null;
  name: string;
  service: string;
  kind: number;
  depth: number;
  offsetMs: number;
  durationMs: number;
  error: boolean;
  statusMessage: string;
  attributes: Record<string, AttributeValue>;
}

export interface Waterfall {
  traceId: string;
  startMs: number;
  durationMs: number;
  rows: WaterfallRow[];
}

export function waterfall(traceId: string, spans: readonly Span[]): Waterfall {
  if (spans.length === 0) return { traceId, startMs: 0, durationMs: 0, rows: [] };
  const startMs = Math.min(...spans.map((s) => s.startMs));
  const endMs = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, Span[]>();
  for (const span of spans) {
    const parent = span.parentSpanId !== null && ids.has(span.parentSpanId) ? span.parentSpanId : null;
    let list = children.get(parent);
    if (!list) children.set(parent, (list = []));
    list.push(span);
  }
  for (const list of children.values()) list.sort((a, b) => a.startMs - b.startMs);
  const rows: WaterfallRow[] = [];
  // Iterative depth-first walk: a deep trace must not overflow the stack.
  const stack: { span: Span; depth: number }[] = [...(children.get(null) ?? [])].reverse().map((span) => ({ span, depth: 0 }));
  const seen = new Set<string>();
  while (stack.length > 0) {
    const { span, depth } = stack.pop() as { span: Span; depth: number };
    if (seen.has(span.spanId)) continue;
    seen.add(span.spanId);
    rows.push({
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      name: span.name,
      service: span.service,
      kind: span.kind,
      depth,
      offsetMs: span.startMs - startMs,
      durationMs: span.durationMs,
      error: isErrorSpan(span),
      statusMessage: span.statusMessage,
      attributes: span.attributes,
    });
    for (const child of [...(children.get(span.spanId) ?? [])].reverse()) stack.push({ span: child, depth: depth + 1 });
  }
  return { traceId, startMs, durationMs: endMs - startMs, rows };
}
