/** Where an SLO's period lies: rolling, or a calendar month or ISO week in UTC. */
import { describe, expect, it } from 'vitest';
import { budgetSpan, calendarPeriodEnd, calendarPeriodStart, longestPeriodMs, periodLengthMs } from '../../src/slo/index.ts';

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

describe('SLO periods', () => {
  it('starts a month on the 1st at 00:00 UTC and ends it at the next 1st, whatever its length', () => {
    expect(calendarPeriodStart('month', at('2026-02-28T23:59:59.999Z'))).toBe(at('2026-02-01T00:00:00Z'));
    expect(calendarPeriodEnd('month', at('2026-02-14T12:00:00Z'))).toBe(at('2026-03-01T00:00:00Z'));
    expect(calendarPeriodStart('month', at('2026-03-01T00:00:00Z'))).toBe(at('2026-03-01T00:00:00Z'));
    expect(calendarPeriodEnd('month', at('2026-12-31T23:00:00Z'))).toBe(at('2027-01-01T00:00:00Z'));
    const month = { periodMs: 30 * DAY, calendar: 'month' as const };
    expect(periodLengthMs(month, at('2026-02-10T00:00:00Z'))).toBe(28 * DAY);
    expect(periodLengthMs(month, at('2028-02-10T00:00:00Z'))).toBe(29 * DAY); // leap year
    expect(periodLengthMs(month, at('2026-04-10T00:00:00Z'))).toBe(30 * DAY);
    expect(periodLengthMs(month, at('2026-03-10T00:00:00Z'))).toBe(31 * DAY);
    // Europe's and America's clock changes (29 March, 8 March 2026) do not touch UTC days.
    expect(periodLengthMs(month, at('2026-03-29T02:30:00Z'))).toBe(31 * DAY);
  });

  it('starts an ISO week on Monday 00:00 UTC, across a month and a year end', () => {
    expect(calendarPeriodStart('week', at('2026-12-06T23:59:59Z'))).toBe(at('2026-11-30T00:00:00Z')); // a Sunday
    expect(calendarPeriodStart('week', at('2026-11-30T00:00:00Z'))).toBe(at('2026-11-30T00:00:00Z')); // a Monday
    expect(calendarPeriodStart('week', at('2027-01-01T08:00:00Z'))).toBe(at('2026-12-28T00:00:00Z'));
    expect(calendarPeriodEnd('week', at('2027-01-01T08:00:00Z'))).toBe(at('2027-01-04T00:00:00Z'));
  });

  it('counts the budget since the calendar period began (reset at its start), or over the rolling period', () => {
    const month = { periodMs: 30 * DAY, calendar: 'month' as const };
    expect(budgetSpan(month, at('2026-12-06T12:00:00Z'))).toEqual({ fromMs: at('2026-12-01T00:00:00Z'), toMs: at('2026-12-06T12:00:00Z') });
    expect(budgetSpan(month, at('2027-01-01T00:00:01Z'))).toEqual({ fromMs: at('2027-01-01T00:00:00Z'), toMs: at('2027-01-01T00:00:01Z') });
    expect(budgetSpan({ periodMs: 7 * DAY }, at('2026-12-08T00:00:00Z'))).toEqual({
      fromMs: at('2026-12-01T00:00:00Z'),
      toMs: at('2026-12-08T00:00:00Z'),
    });
    expect(longestPeriodMs(month)).toBe(31 * DAY);
    expect(longestPeriodMs({ periodMs: 7 * DAY, calendar: 'week' })).toBe(7 * DAY);
    expect(longestPeriodMs({ periodMs: 12 * 3_600_000 })).toBe(12 * 3_600_000);
  });
});
