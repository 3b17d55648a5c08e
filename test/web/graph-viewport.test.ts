import { describe, expect, it } from 'vitest';
import { clampScale, MAX_SCALE, MIN_SCALE, revealScroll, toWorld, visibleWorld, zoomAround } from '../../web/src/graph/viewport.ts';

const scroll = { left: 300, top: 120, width: 800, height: 500 };
const size = { width: 5000, height: 2000 };

describe('the canvas view', () => {
  it('maps the scroll position and a client point to the world at any scale', () => {
    expect(visibleWorld(scroll, 1)).toEqual({ x: 300, y: 120, width: 800, height: 500 });
    expect(visibleWorld(scroll, 0.5)).toEqual({ x: 600, y: 240, width: 1600, height: 1000 });
    expect(toWorld(scroll, 2, 100, 80)).toEqual({ x: 200, y: 100 });
  });

  it('zooms around a point: the world point under it stays under it', () => {
    const anchor = { x: 250, y: 100 };
    const before = toWorld(scroll, 1, anchor.x, anchor.y);
    for (const next of [0.5, 1.5, 2]) {
      const after = zoomAround(scroll, 1, next, anchor, size);
      expect(toWorld({ ...scroll, ...after }, next, anchor.x, anchor.y)).toEqual(before);
    }
  });

  it('keeps the scroll inside the zoomed graph', () => {
    // Zooming out around the bottom right corner of a view at the end of the graph.
    const atEnd = { left: 4200, top: 1500, width: 800, height: 500 };
    const out = zoomAround(atEnd, 1, 0.2, { x: 800, y: 500 }, size);
    expect(out).toEqual({ left: 200, top: 0 }); // the graph is 1000 × 400 at 0.2: 200 px to scroll across, none down
    expect(zoomAround({ ...scroll, left: 0, top: 0 }, 1, 2, { x: 0, y: 0 }, size)).toEqual({ left: 0, top: 0 });
  });

  it('clamps the scale, and a broken one falls back to 1', () => {
    expect(clampScale(0.01)).toBe(MIN_SCALE);
    expect(clampScale(50)).toBe(MAX_SCALE);
    expect(clampScale(Number.NaN)).toBe(1);
    expect(clampScale(0.8)).toBe(0.8);
  });

  it('reveals a box with the least scrolling, or not at all when it is in view', () => {
    const box = { x: 400, y: 200, width: 212, height: 38 };
    expect(revealScroll(scroll, 1, box, 24)).toBeNull();
    // Below the view: scrolled just enough to show it and the margin.
    expect(revealScroll(scroll, 1, { ...box, y: 700 }, 24)).toEqual({ left: 300, top: 700 + 38 + 24 - 500 });
    // Left of it: aligned on its left side minus the margin.
    expect(revealScroll(scroll, 1, { ...box, x: 100 }, 24)).toEqual({ left: 76, top: 120 });
    // At half size the box is at half the screen coordinates.
    expect(revealScroll(scroll, 0.5, { ...box, x: 3000, y: 300 }, 0)).toEqual({ left: 1500 + 106 - 800, top: 120 });
    // Never a negative scroll.
    expect(revealScroll(scroll, 1, { ...box, x: 5, y: 5 }, 24)).toEqual({ left: 0, top: 0 });
  });
});
