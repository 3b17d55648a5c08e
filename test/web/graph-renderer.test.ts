import { describe, expect, it } from 'vitest';
import { CANVAS_FROM_ITEMS, chooseRenderer } from '../../web/src/graph/renderer.ts';

describe('chooseRenderer', () => {
  it('draws big graphs on a canvas and small ones as DOM nodes', () => {
    expect(chooseRenderer(CANVAS_FROM_ITEMS - 1, '')).toBe('dom');
    expect(chooseRenderer(CANVAS_FROM_ITEMS, '')).toBe('canvas');
    expect(chooseRenderer(1000, '?tab=log')).toBe('canvas');
  });

  it('follows graph=dom or graph=canvas in the URL, and ignores anything else there', () => {
    expect(chooseRenderer(1000, '?graph=dom')).toBe('dom');
    expect(chooseRenderer(3, 'graph=canvas')).toBe('canvas');
    expect(chooseRenderer(3, '?graph=webgl')).toBe('dom');
    expect(chooseRenderer(1000, '?graph=')).toBe('canvas');
  });
});
