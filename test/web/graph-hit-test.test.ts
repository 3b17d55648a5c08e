import { describe, expect, it } from 'vitest';
import { COL_GAP, columnX, itemBox, NODE_H, NODE_W, PAD, ROW_H, rowY } from '../../web/src/graph/geometry.ts';
import { buildHitIndex, itemAt } from '../../web/src/graph/hit-test.ts';
import { type GraphJob, layoutGraph } from '../../web/src/graph/layout.ts';

const job = (key: string, needs: string[] = [], id = key): GraphJob => ({ key, id, needs });

describe('itemAt', () => {
  const jobs = [
    job('build'),
    job('lint'),
    job('test (1)', ['build'], 'test'),
    job('test (2)', ['build'], 'test'),
    job('ship', ['test (1)', 'lint']),
  ];

  it('finds every item at its own box, from the corner to the last pixel inside', () => {
    const layout = layoutGraph(jobs, { expanded: new Set(['test']) });
    const index = buildHitIndex(layout);
    for (const item of layout.items) {
      const box = itemBox(item.column, item.row);
      expect(itemAt(index, box.x, box.y)?.id).toBe(item.id);
      expect(itemAt(index, box.x + box.width / 2, box.y + box.height / 2)?.id).toBe(item.id);
      expect(itemAt(index, box.x + box.width - 0.01, box.y + box.height - 0.01)?.id).toBe(item.id);
    }
    // An open group's instances are items of their own, one row each below the header.
    expect(itemAt(index, columnX(1) + 5, rowY(2) + 5)?.id).toBe('instance:test (2)');
  });

  it('finds nothing in the gaps, the padding, empty cells or outside the graph', () => {
    const layout = layoutGraph(jobs);
    const index = buildHitIndex(layout);
    expect(itemAt(index, PAD - 1, PAD + 5)).toBeNull();
    expect(itemAt(index, PAD + 5, PAD - 1)).toBeNull();
    expect(itemAt(index, -50, -50)).toBeNull();
    expect(itemAt(index, columnX(0) + NODE_W, rowY(0) + 5)).toBeNull(); // right edge: the column gap starts
    expect(itemAt(index, columnX(0) + NODE_W + COL_GAP / 2, rowY(0) + 5)).toBeNull();
    expect(itemAt(index, columnX(0) + 5, rowY(0) + NODE_H)).toBeNull(); // between two rows
    expect(itemAt(index, columnX(0) + 5, rowY(0) + ROW_H - 1)).toBeNull();
    expect(itemAt(index, columnX(2) + 5, rowY(5) + 5)).toBeNull(); // below the last node of a column
    expect(itemAt(index, columnX(9) + 5, rowY(0) + 5)).toBeNull(); // past the last column
  });

  it('answers for a 1,000-job graph from the grid, matching a scan of every box', () => {
    const big: GraphJob[] = [];
    for (let i = 0; i < 1000; i++)
      big.push(job(`j${i}`, i < 50 ? [] : [`j${i - 50}`, `j${((i * 7 + 3) % 50) + Math.floor(i / 50 - 1) * 50}`]));
    const layout = layoutGraph(big);
    const index = buildHitIndex(layout);
    const scan = (x: number, y: number) =>
      layout.items.find((i) => {
        const b = itemBox(i.column, i.row);
        return x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
      })?.id ?? null;
    for (let k = 0; k < 2000; k++) {
      const x = (k * 7919) % (columnX(layout.columns) + 10);
      const y = (k * 104729) % (rowY(layout.rows) + 10);
      expect(itemAt(index, x, y)?.id ?? null).toBe(scan(x, y));
    }
  });
});
