import { describe, expect, it } from 'vitest';
import { spanMs } from '../../src/core/span.ts';

describe('spanMs', () => {
  it('reads a number and one unit', () => {
    expect(spanMs('15m')).toBe(900_000);
    expect(spanMs('12h')).toBe(43_200_000);
    expect(spanMs(' 30d ')).toBe(2_592_000_000);
    expect(spanMs('2w')).toBe(1_209_600_000);
  });
  it('is null for anything else', () => {
    for (const text of ['', '30', 'd', '1h30m', '1.5d', '-3d', '30 d', '1234567d']) expect(spanMs(text)).toBeNull();
  });
});
