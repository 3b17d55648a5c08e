/**
 * The sample's rule, case by case: a cell keeps its first few traces, an error displaces a plain
 * one, the slow tail keeps cells of its own however much fast traffic there is, the oldest
 * minute gives up its fastest plain traces first, children that arrive before their root join it.
 */
import { describe, expect, it } from 'vitest';
import { latencyRowRange, type Span, TraceSample } from '../../src/traces/index.ts';
import { latencyRow } from '../../src/delivery/index.ts';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
let next = 0;

function root(o: { at?: number; ms: number; error?: boolean; trace?: string }): Span {
  const traceId = o.trace ?? (next++).toString(16).padStart(32, '0');
  return {
    traceId,
    spanId: traceId.slice(16),
    parentSpanId: null,
    name: 'GET /items/:id',
    kind: 2,
    startMs: o.at ?? T0,
    durationMs: o.ms,
    status: o.error ? 2 : 0,
    statusMessage: '',
    attributes: { 'http.route': '/items/:id' },
    service: 'shop',
    version: 'R1',
  };
}

function child(parent: Span, name: string): Span {
  return { ...parent, spanId: `c${name}`.padEnd(16, '0'), parentSpanId: parent.spanId, name, kind: 1, attributes: {} };
}

describe('TraceSample', () => {
  it('keeps a cell to its first few traces, and lets an error displace a plain one', () => {
    const sample = new TraceSample({ perCell: 2 });
    // All in the 10–20 ms row of one minute.
    const [a, b, c] = [root({ ms: 12 }), root({ ms: 13 }), root({ ms: 14 })];
    const failed = root({ ms: 11, error: true });
    sample.add([a, b, c, failed]);
    expect(sample.find({ fromMs: 0, toMs: Infinity, limit: 10 }).map((t) => t.traceId)).toEqual([b.traceId, failed.traceId]);
    expect(sample.dropped).toBe(2);
  });

  it('keeps the slow tail in cells of its own, whatever the fast traffic', () => {
    const sample = new TraceSample({ perCell: 3, maxTraces: 100 });
    for (let i = 0; i < 10_000; i++) sample.add([root({ ms: 15 + (i % 5), at: T0 + (i % 60) * 1000 })]);
    const slow = root({ ms: 800, at: T0 + 30_000 });
    sample.add([slow]);
    const cell = sample.find({ fromMs: T0, toMs: T0 + 60_000, ...latencyRowRange(latencyRow(800)), limit: 5 });
    expect(cell.map((t) => t.traceId)).toEqual([slow.traceId]);
    expect(sample.size).toBe(4);
  });

  it('evicts from the oldest minute, its fastest plain traces first', () => {
    const sample = new TraceSample({ perCell: 3, maxTraces: 3 });
    const oldFast = root({ ms: 10, at: T0 });
    const oldSlow = root({ ms: 900, at: T0 + 1000 });
    const oldError = root({ ms: 10, at: T0 + 2000, error: true });
    sample.add([oldFast, oldSlow, oldError]);
    sample.add([root({ ms: 10, at: T0 + 60_000 })]);
    expect(sample.get(oldFast.traceId)).toBeUndefined();
    sample.add([root({ ms: 11, at: T0 + 61_000 })]);
    expect(sample.get(oldSlow.traceId)).toBeUndefined();
    expect(sample.get(oldError.traceId)).toBeDefined();
    expect(sample.size).toBe(3);
  });

  it('holds spans that come before their root, and adds later ones to a kept trace', () => {
    const sample = new TraceSample();
    const r = root({ ms: 50 });
    sample.add([child(r, 'query')]);
    expect(sample.size).toBe(0);
    sample.add([r, { ...child(r, 'late'), status: 2 }]);
    const kept = sample.get(r.traceId);
    expect(kept?.spans.map((s) => s.name)).toEqual(['GET /items/:id', 'query', 'late']);
    expect(kept?.summary).toMatchObject({ spanCount: 3, error: true, route: '/items/:id' });
  });

  it('bounds the spans waiting for a root', () => {
    const sample = new TraceSample({ maxPendingSpans: 10, perCell: 100 });
    const roots = Array.from({ length: 20 }, () => root({ ms: 5 }));
    sample.add(roots.map((r) => child(r, 'orphan')));
    sample.add(roots);
    // The first ten traces' children were evicted; the last ten found their roots.
    expect(roots.map((r) => sample.get(r.traceId)?.spans.length)).toEqual([...Array(10).fill(1), ...Array(10).fill(2)]);
  });
});
