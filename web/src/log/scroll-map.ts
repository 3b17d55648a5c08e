/**
 * Virtual scrolling math for the log viewer. Lines have one fixed height, so the content is
 * `lines × lineHeight` tall — but browsers cap element heights (~16–33 M px), and a 1M-line log
 * at 20 px is 20 M px. Past `maxHeight` the content is drawn `maxHeight` tall and scroll
 * positions map to lines proportionally: the top of the scroll range is line 0 at the top, the
 * bottom is the last line at the bottom, and in between the first visible line moves linearly.
 * Below the cap the same formula reduces to the exact `scrollTop / lineHeight`.
 */

/** Heights above this are scaled (well under every browser's limit). */
export const MAX_SCROLL_HEIGHT = 10_000_000;

export interface ScrollGeometry {
  lineCount: number;
  lineHeight: number;
  /** Height of the scroll container's visible area. */
  viewportHeight: number;
  maxHeight?: number;
}

/** Height to give the scrolled content. */
export function contentHeight(g: ScrollGeometry): number {
  return Math.min(g.lineCount * g.lineHeight, g.maxHeight ?? MAX_SCROLL_HEIGHT);
}

/** Whether positions are scaled (content drawn shorter than its lines). */
export function isScaled(g: ScrollGeometry): boolean {
  return g.lineCount * g.lineHeight > (g.maxHeight ?? MAX_SCROLL_HEIGHT);
}

/** Largest useful scrollTop. */
export function maxScrollTop(g: ScrollGeometry): number {
  return Math.max(0, contentHeight(g) - g.viewportHeight);
}

/** Largest first line (fractional): the last line sits at the bottom of the viewport. */
function maxTopLine(g: ScrollGeometry): number {
  return Math.max(0, g.lineCount - g.viewportHeight / g.lineHeight);
}

/** The (fractional) line at the top of the viewport for a scroll position. */
export function topLineAt(g: ScrollGeometry, scrollTop: number): number {
  const range = maxScrollTop(g);
  if (range <= 0) return 0;
  const s = Math.min(Math.max(scrollTop, 0), range);
  return (s / range) * maxTopLine(g);
}

/** The scroll position that puts (fractional) line `line` at the top of the viewport, clamped to the ends. */
export function scrollTopFor(g: ScrollGeometry, line: number): number {
  const top = maxTopLine(g);
  if (top <= 0) return 0;
  const l = Math.min(Math.max(line, 0), top);
  return (l / top) * maxScrollTop(g);
}

/** The scroll position that shows `line` a third of the way down the viewport (for jumps to a line). */
export function scrollTopToReveal(g: ScrollGeometry, line: number): number {
  return scrollTopFor(g, line - Math.floor(g.viewportHeight / g.lineHeight / 3));
}

export interface VisibleRange {
  /** First line to render (0-based, overscan included). */
  first: number;
  /** One past the last line to render. */
  end: number;
  /** Offset from the content's top at which to draw line `first`. */
  offset: number;
}

/** Lines to render at `scrollTop`, with `overscan` extra lines above and below. */
export function visibleRange(g: ScrollGeometry, scrollTop: number, overscan = 20): VisibleRange {
  if (g.lineCount <= 0) return { first: 0, end: 0, offset: 0 };
  const s = Math.min(Math.max(scrollTop, 0), maxScrollTop(g));
  const top = topLineAt(g, s);
  const first = Math.max(0, Math.floor(top) - overscan);
  const end = Math.min(g.lineCount, Math.ceil(top + g.viewportHeight / g.lineHeight) + overscan);
  // Line `top` is drawn at the viewport's top edge (content offset s); others follow it.
  const offset = s - (top - first) * g.lineHeight;
  return { first, end, offset };
}

/** Whether the viewport shows the end of the log (within `slack` px). */
export function isAtBottom(g: ScrollGeometry, scrollTop: number, slack = 4): boolean {
  return scrollTop >= maxScrollTop(g) - slack;
}
