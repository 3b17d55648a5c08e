import { describe, expect, it } from 'vitest';
import { lineKey } from '../../src/core/line-key.ts';

describe('lineKey', () => {
  it('is FNV-1a over the text (the published test vectors for ASCII)', () => {
    expect(lineKey('')).toBe('811c9dc5');
    expect(lineKey('a')).toBe('e40c292c');
    expect(lineKey('foobar')).toBe('bf9cf968');
  });
  it('tells apart lines of one batch', () => {
    expect(new Set(Array.from({ length: 300 }, (_, i) => lineKey(`request ${i} handled`))).size).toBe(300);
  });
});
