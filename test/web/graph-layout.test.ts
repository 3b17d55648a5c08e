import { describe, expect, it } from 'vitest';
import { countCrossings, layoutGraph, moveFocus, type GraphJob, type GraphLayout } from '../../web/src/graph/layout.ts';

const job = (key: string, needs: string[] = [], id = key): GraphJob => ({ key, id, needs });

function place(layout: GraphLayout): Record<string, [number, number]> {
  return Object.fromEntries(layout.nodes.map((n) => [n.id, [n.column, n.row]]));
}

describe('layoutGraph', () => {
  it('puts each node in the column of its longest path from a root', () => {
    const layout = layoutGraph([
      job('lint'),
      job('build'),
      job('test', ['build']),
      job('e2e', ['test']),
      job('deploy', ['lint', 'e2e', 'build']),
    ]);
    const columns = Object.fromEntries(layout.nodes.map((n) => [n.label, n.column]));
    expect(columns).toEqual({ lint: 0, build: 0, test: 1, e2e: 2, deploy: 3 });
    expect(layout.columns).toBe(4);
    expect(layout.edges).toHaveLength(5);
  });

  it('orders rows by barycenter sweeps to remove crossings', () => {
    // In input order a→d and b→c cross; the sweeps untangle them.
    const jobs = [job('a'), job('b'), job('c', ['b']), job('d', ['a'])];
    expect(countCrossings(layoutGraph(jobs, { sweeps: 0 }))).toBe(1);
    const layout = layoutGraph(jobs);
    expect(countCrossings(layout)).toBe(0);
    expect(place(layout)['job:d']?.[1]).toBe(place(layout)['job:a']?.[1]);
  });

  it('groups matrix instances into one node that expands by a row per instance', () => {
    const jobs = [
      job('build'),
      job('test (1)', ['build'], 'test'),
      job('test (2)', ['build'], 'test'),
      job('test (3)', ['build'], 'test'),
      job('package', ['test (1)', 'test (2)', 'test (3)']),
    ];
    const collapsed = layoutGraph(jobs);
    expect(collapsed.nodes.map((n) => [n.id, n.kind, n.size])).toEqual([
      ['job:build', 'job', 1],
      ['group:test', 'group', 1],
      ['job:package', 'job', 1],
    ]);
    expect(collapsed.nodes[1]?.keys).toEqual(['test (1)', 'test (2)', 'test (3)']);
    expect(collapsed.edges).toEqual([
      { from: 'job:build', to: 'group:test' },
      { from: 'group:test', to: 'job:package' },
    ]);
    expect(collapsed.nodeOfKey.get('test (2)')).toBe('group:test');
    expect(collapsed.items.map((i) => i.id)).toEqual(['job:build', 'group:test', 'job:package']);

    const open = layoutGraph(jobs, { expanded: new Set(['test']) });
    expect(open.nodes[1]?.size).toBe(4);
    expect(open.rows).toBe(4);
    expect(open.items.map((i) => [i.id, i.key, i.row])).toEqual([
      ['job:build', 'build', 0],
      ['group:test', null, 0],
      ['instance:test (1)', 'test (1)', 1],
      ['instance:test (2)', 'test (2)', 2],
      ['instance:test (3)', 'test (3)', 3],
      ['job:package', 'package', 0],
    ]);
  });

  it('stacks nodes of a column without overlap, counting expanded groups', () => {
    const jobs = [job('x (1)', [], 'x'), job('x (2)', [], 'x'), job('y'), job('z')];
    const layout = layoutGraph(jobs, { expanded: new Set(['x']) });
    const spans = layout.nodes.map((n) => [n.row, n.row + n.size] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
    expect(layout.rows).toBe(5);
  });

  it('does not hang on cycles, self-needs, unknown needs or duplicate keys', () => {
    const layout = layoutGraph([job('a', ['c']), job('b', ['a']), job('c', ['b']), job('d', ['d', 'ghost']), job('d')]);
    expect(layout.nodes.map((n) => n.id)).toEqual(['job:a', 'job:b', 'job:c', 'job:d']);
    for (const e of layout.edges) {
      const from = layout.nodes.find((n) => n.id === e.from);
      const to = layout.nodes.find((n) => n.id === e.to);
      expect(from && to && from.column < to.column).toBe(true);
    }
    expect(layoutGraph([]).columns).toBe(0);
  });

  // Its speed (≤ 500 ms) is measured by bench/test-timings.ts, not asserted here.
  it('lays out 1,000 jobs with many edges', () => {
    const jobs: GraphJob[] = [];
    for (let layer = 0; layer < 10; layer++) {
      for (let i = 0; i < 100; i++) {
        const needs = layer === 0 ? [] : [`j${layer - 1}-${(i * 7) % 100}`, `j${layer - 1}-${(i * 13 + 5) % 100}`];
        jobs.push(job(`j${layer}-${i}`, needs));
      }
    }
    const layout = layoutGraph(jobs);
    expect(layout.columns).toBe(10);
    expect(layout.rows).toBe(100);
    expect(countCrossings(layout)).toBeLessThan(countCrossings(layoutGraph(jobs, { sweeps: 0 })));
  });
});

describe('moveFocus', () => {
  const layout = layoutGraph([job('a'), job('b'), job('c', ['a']), job('d', ['c'])]);
  it('moves within a column and to the nearest row of the next non-empty column', () => {
    expect(moveFocus(layout, 'job:a', 'down')).toBe('job:b');
    expect(moveFocus(layout, 'job:b', 'down')).toBe('job:b');
    expect(moveFocus(layout, 'job:b', 'right')).toBe('job:c');
    expect(moveFocus(layout, 'job:c', 'left')).toBe('job:a');
    expect(moveFocus(layout, 'job:d', 'right')).toBe('job:d');
    expect(moveFocus(layout, 'job:c', 'home')).toBe('job:a');
    expect(moveFocus(layout, 'job:a', 'end')).toBe('job:d');
    expect(moveFocus(layout, 'missing', 'down')).toBe('job:a');
  });
});
