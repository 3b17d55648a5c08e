/**
 * Where a laid-out graph sits in pixels: the one grid both renderers (DOM and canvas) draw on,
 * so a node is hit, scrolled to and drawn at the same place whichever draws it. World
 * coordinates: CSS pixels of the graph at zoom 1, origin at its top left corner.
 */
import type { GraphLayout, LayoutNode } from './layout.ts';

export const NODE_W = 212;
export const NODE_H = 38;
/** A row's pitch: a node and the gap below it (also the pitch of instances inside an open group). */
export const ROW_H = 46;
export const COL_GAP = 56;
export const PAD = 8;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The left edge of a column. */
export function columnX(column: number): number {
  return PAD + column * (NODE_W + COL_GAP);
}

/** The top edge of a row. */
export function rowY(row: number): number {
  return PAD + row * ROW_H;
}

/** The box of one keyboard stop (a job, a group's header or an instance): one row high. */
export function itemBox(column: number, row: number): Box {
  return { x: columnX(column), y: rowY(row), width: NODE_W, height: NODE_H };
}

/** The box of a whole node: an open group spans its header and its instances. */
export function nodeBox(node: LayoutNode): Box {
  return { x: columnX(node.column), y: rowY(node.row), width: NODE_W, height: node.size * ROW_H - (ROW_H - NODE_H) };
}

/** The graph's size in world pixels (never zero, so an empty graph still has a box). */
export function graphSize(layout: Pick<GraphLayout, 'columns' | 'rows'>): { width: number; height: number } {
  return {
    width: PAD * 2 + Math.max(1, layout.columns) * (NODE_W + COL_GAP) - COL_GAP,
    height: PAD * 2 + Math.max(1, layout.rows) * ROW_H - (ROW_H - NODE_H),
  };
}

/** An edge as a cubic Bézier curve from the right side of `from` to the left side of `to`. */
export interface EdgeCurve {
  x1: number;
  y1: number;
  /** The horizontal reach of both control points. */
  bend: number;
  x2: number;
  y2: number;
}

export function edgeCurve(from: LayoutNode, to: LayoutNode): EdgeCurve {
  const x1 = columnX(from.column) + NODE_W;
  const y1 = rowY(from.row) + NODE_H / 2;
  const x2 = columnX(to.column);
  const y2 = rowY(to.row) + NODE_H / 2;
  return { x1, y1, bend: Math.min(COL_GAP, (x2 - x1) / 2), x2, y2 };
}

/** The curve as an SVG path. */
export function edgePath(c: EdgeCurve): string {
  return `M${c.x1} ${c.y1}C${c.x1 + c.bend} ${c.y1} ${c.x2 - c.bend} ${c.y2} ${c.x2} ${c.y2}`;
}

/** True when the two boxes overlap (touching edges do not). */
export function intersects(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
