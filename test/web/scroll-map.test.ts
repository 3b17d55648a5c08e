import { describe, expect, it } from 'vitest';
import {
  MAX_SCROLL_HEIGHT,
  contentHeight,
  isAtBottom,
  isScaled,
  maxScrollTop,
  scrollTopFor,
  scrollTopToReveal,
  topLineAt,
  visibleRange,
} from '../../web/src/log/scroll-map.ts';
import { PageCache } from '../../web/src/log/page-cache.ts';

const small = { lineCount: 1000, lineHeight: 20, viewportHeight: 600 };
const huge = { lineCount: 2_000_000, lineHeight: 20, viewportHeight: 600 };

describe('scroll map', () => {
  it('maps exactly (scrollTop / lineHeight) below the height cap', () => {
    expect(isScaled(small)).toBe(false);
    expect(contentHeight(small)).toBe(20_000);
    expect(maxScrollTop(small)).toBe(19_400);
    expect(topLineAt(small, 0)).toBe(0);
    expect(topLineAt(small, 200)).toBeCloseTo(10, 9);
    expect(topLineAt(small, 19_400)).toBeCloseTo(970, 9);
    expect(scrollTopFor(small, 10)).toBeCloseTo(200, 9);
    expect(scrollTopFor(small, 970)).toBeCloseTo(19_400, 9);
    expect(visibleRange(small, 200, 5)).toEqual({ first: 5, end: 45, offset: 100 });
  });

  it('maps proportionally above the cap, both ways, with the ends exact', () => {
    expect(isScaled(huge)).toBe(true);
    expect(contentHeight(huge)).toBe(MAX_SCROLL_HEIGHT);
    const range = maxScrollTop(huge);
    expect(topLineAt(huge, 0)).toBe(0);
    expect(topLineAt(huge, range)).toBe(2_000_000 - 30);
    expect(topLineAt(huge, range / 2)).toBeCloseTo((2_000_000 - 30) / 2, 6);
    expect(scrollTopFor(huge, 0)).toBe(0);
    expect(scrollTopFor(huge, 2_000_000 - 30)).toBe(range);
    for (const line of [1, 12_345, 999_999.5, 1_999_000]) {
      expect(topLineAt(huge, scrollTopFor(huge, line))).toBeCloseTo(line, 6);
    }
    for (const top of [1, 777, 5_000_000, range - 1]) {
      expect(scrollTopFor(huge, topLineAt(huge, top))).toBeCloseTo(top, 6);
    }
  });

  it('clamps out-of-range positions and lines to the ends', () => {
    expect(topLineAt(huge, -50)).toBe(0);
    expect(topLineAt(huge, 1e12)).toBe(2_000_000 - 30);
    expect(scrollTopFor(huge, -3)).toBe(0);
    expect(scrollTopFor(huge, 5e9)).toBe(maxScrollTop(huge));
    const short = { lineCount: 10, lineHeight: 20, viewportHeight: 600 };
    expect(maxScrollTop(short)).toBe(0);
    expect(topLineAt(short, 100)).toBe(0);
    expect(scrollTopFor(short, 5)).toBe(0);
    expect(visibleRange(short, 0, 20)).toEqual({ first: 0, end: 10, offset: 0 });
    expect(visibleRange({ ...short, lineCount: 0 }, 0)).toEqual({ first: 0, end: 0, offset: 0 });
  });

  it('renders only the visible lines plus overscan, positioned under the viewport, at both ends of a huge log', () => {
    const range = maxScrollTop(huge);
    for (const top of [0, 1234.5, range / 3, range]) {
      const r = visibleRange(huge, top, 10);
      expect(r.end - r.first).toBeLessThanOrEqual(30 + 2 * 10 + 2);
      const topLine = topLineAt(huge, top);
      // Line `topLine` is drawn at the viewport top: offset + (topLine - first) × height = scrollTop.
      expect(r.offset + (topLine - r.first) * 20).toBeCloseTo(top, 6);
    }
    const last = visibleRange(huge, range, 10);
    expect(last.end).toBe(2_000_000);
    // The last line's bottom edge is the content's bottom edge.
    expect(last.offset + (last.end - last.first) * 20).toBeCloseTo(MAX_SCROLL_HEIGHT, 6);
  });

  it('reveals a line a third of the way down and knows the bottom', () => {
    expect(scrollTopToReveal(small, 500)).toBeCloseTo(scrollTopFor(small, 490), 9);
    expect(scrollTopToReveal(small, 3)).toBe(0);
    expect(isAtBottom(huge, maxScrollTop(huge))).toBe(true);
    expect(isAtBottom(huge, maxScrollTop(huge) - 100)).toBe(false);
  });
});

describe('page cache', () => {
  it('keeps the most recently used pages, extends short pages and takes contiguous live lines only', () => {
    const cache = new PageCache(2, 4);
    cache.put(0, ['a', 'b', 'c', 'd']);
    cache.put(4, ['e', 'f']);
    expect(cache.missingFrom(0, 10)).toBeNull();
    expect(cache.missingFrom(1, 10)).toBe(6);
    expect(cache.missingFrom(1, 6)).toBeNull();
    expect(cache.missingFrom(2, 8)).toBeNull();
    cache.put(6, ['g', 'h', 'i']);
    expect(cache.get(1)).toEqual(['e', 'f', 'g', 'h']);
    expect(cache.append(10, 'l')).toBe(false);
    cache.get(0);
    // A live line starting a page makes it; the least recently used page (1) goes.
    expect(cache.append(8, 'j')).toBe(true);
    expect(cache.append(9, 'k')).toBe(true);
    expect(cache.pageCount).toBe(2);
    expect(cache.line(4)).toBeUndefined();
    expect(cache.line(0)).toBe('a');
    expect(cache.get(2)).toEqual(['j', 'k']);
    cache.put(14, ['gap']);
    expect(cache.line(14)).toBeUndefined();
  });
});
