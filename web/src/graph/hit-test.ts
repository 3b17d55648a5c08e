/**
 * Which keyboard stop of a laid-out graph is under a point: what a click or a hover on the
 * canvas renderer means. Items sit on the grid of geometry.ts, so the lookup is arithmetic and
 * one map read (O(1)), however big the graph: a pointer move never scans 1,000 nodes.
 */
import { COL_GAP, NODE_H, NODE_W, PAD, ROW_H } from './geometry.ts';
import type { GraphLayout, LayoutItem } from './layout.ts';

/** The items of a layout by grid cell. */
export interface HitIndex {
  cells: Map<string, LayoutItem>;
}

const cell = (column: number, row: number) => `${column}:${row}`;

export function buildHitIndex(layout: Pick<GraphLayout, 'items'>): HitIndex {
  const cells = new Map<string, LayoutItem>();
  for (const item of layout.items) cells.set(cell(item.column, item.row), item);
  return { cells };
}

/**
 * The item whose box contains the world point, or null over the gaps between nodes, the
 * padding, or an empty cell. A point on a box's right or bottom edge is outside it.
 */
export function itemAt(index: HitIndex, x: number, y: number): LayoutItem | null {
  const pitch = NODE_W + COL_GAP;
  const gx = x - PAD;
  const gy = y - PAD;
  if (gx < 0 || gy < 0) return null;
  const column = Math.floor(gx / pitch);
  const row = Math.floor(gy / ROW_H);
  if (gx - column * pitch >= NODE_W || gy - row * ROW_H >= NODE_H) return null;
  return index.cells.get(cell(column, row)) ?? null;
}
