import { describe, expect, it } from 'vitest';
import { spanMs, timeBackFrom } from '../../src/core/span.ts';

describe('spanMs', () => {
  it('reads a number and one unit', () => {
    expect(spanMs('15m')).toBe(900_000);
    expect(spanMs('12h')).toBe(43_200_000);
    expect(spanMs(' 30d ')).toBe(2_592_000_000);
    expect(spanMs('2w')).toBe(1_209_600_000);
    expect(spanMs('30s')).toBe(30_000);
  });
  it('is null for anything else', () => {
    for (const text of ['', '30', 'd', '1h30m', '1.5d', '-3d', '30 d', '12345678d']) expect(spanMs(text)).toBeNull();
  });

  it('reads a point in time back from now or as a date', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(timeBackFrom('2h', now)).toBe(Date.parse('2026-12-06T10:00:00Z'));
    expect(timeBackFrom('2026-11-01', now)).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(timeBackFrom('2026-11-01T12:30:00+01:00', now)).toBe(Date.parse('2026-11-01T11:30:00Z'));
    expect(timeBackFrom('yesterday', now)).toBeNull();
    expect(timeBackFrom('2026-13-45', now)).toBeNull();
  });
});
