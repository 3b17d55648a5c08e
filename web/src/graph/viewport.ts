/**
 * The canvas renderer's view of the graph: a scroll position (in screen pixels, as the scroll
 * container reports it) and a zoom scale. Panning is the browser's own scrolling over a spacer
 * as big as the scaled graph, so it stays on the compositor and keeps working with wheels,
 * touch, scrollbars and keys; these functions turn that into the world box to draw and back.
 */
import type { Box } from './geometry.ts';

export const MIN_SCALE = 0.2;
export const MAX_SCALE = 2;
/** Below this scale node text is unreadable; the renderer draws boxes and status colours only. */
export const TEXT_MIN_SCALE = 0.45;

/** The scroll container's state in screen (CSS) pixels. */
export interface Scroll {
  left: number;
  top: number;
  /** The visible size (clientWidth/clientHeight). */
  width: number;
  height: number;
}

export function clampScale(scale: number): number {
  if (!Number.isFinite(scale)) return 1;
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
}

/** The part of the world on screen. */
export function visibleWorld(scroll: Scroll, scale: number): Box {
  return { x: scroll.left / scale, y: scroll.top / scale, width: scroll.width / scale, height: scroll.height / scale };
}

/** A point in the container's client coordinates (0,0 = its visible top left) → the world. */
export function toWorld(scroll: Scroll, scale: number, clientX: number, clientY: number): { x: number; y: number } {
  return { x: (scroll.left + clientX) / scale, y: (scroll.top + clientY) / scale };
}

/** How far the container can scroll with the world `size` drawn at `scale`. */
function maxScroll(size: { width: number; height: number }, scale: number, scroll: Scroll): { left: number; top: number } {
  return { left: Math.max(0, size.width * scale - scroll.width), top: Math.max(0, size.height * scale - scroll.height) };
}

function clamp(value: number, max: number): number {
  return Math.min(max, Math.max(0, value));
}

/**
 * The scroll position after zooming from `scale` to `next` so that the world point under the
 * client point `anchor` stays under it (the pointer for a wheel zoom, the centre for buttons).
 */
export function zoomAround(
  scroll: Scroll,
  scale: number,
  next: number,
  anchor: { x: number; y: number },
  size: { width: number; height: number },
): { left: number; top: number } {
  const world = toWorld(scroll, scale, anchor.x, anchor.y);
  const max = maxScroll(size, next, scroll);
  return { left: clamp(world.x * next - anchor.x, max.left), top: clamp(world.y * next - anchor.y, max.top) };
}

/**
 * The smallest scroll that shows the world box whole with `margin` screen pixels around it
 * ("nearest", like scrollIntoView), or null when it is already in view. A box bigger than the
 * view is aligned on its top left corner.
 */
export function revealScroll(scroll: Scroll, scale: number, box: Box, margin: number): { left: number; top: number } | null {
  const axis = (start: number, size: number, viewStart: number, viewSize: number): number => {
    const from = start * scale - margin;
    const to = (start + size) * scale + margin;
    if (from >= viewStart && to <= viewStart + viewSize) return viewStart;
    if (from < viewStart || to - from > viewSize) return Math.max(0, from);
    return to - viewSize;
  };
  const left = axis(box.x, box.width, scroll.left, scroll.width);
  const top = axis(box.y, box.height, scroll.top, scroll.height);
  return left === scroll.left && top === scroll.top ? null : { left, top };
}
