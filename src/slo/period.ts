/**
 * Where an SLO's period lies at a given moment. A rolling period is the `periodMs` before now; a
 * calendar period runs from the start of the current UTC month or ISO week (Monday) to now, so
 * its budget starts afresh at each boundary, as Nobl9's and OpenSLO's calendar-aligned windows
 * and Datadog's "month to date" do. UTC only: a time zone would make days 23 or 25 hours long
 * and the period's start depend on tz data; nothing here needs that yet.
 */
import type { CalendarPeriod, SloConfig } from '../core/slo-config.ts';

const DAY = 86_400_000;

/** The SLO fields that say what its period is. */
export type PeriodSpec = Pick<SloConfig, 'periodMs' | 'calendar'>;

/** The start (inclusive) of the calendar period holding `atMs`. */
export function calendarPeriodStart(calendar: CalendarPeriod, atMs: number): number {
  const at = new Date(atMs);
  if (calendar === 'month') return Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
  const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  // getUTCDay: Sunday 0 … Saturday 6; ISO weeks start on Monday.
  return midnight - ((at.getUTCDay() + 6) % 7) * DAY;
}

/** The start of the calendar period after the one holding `atMs`. */
export function calendarPeriodEnd(calendar: CalendarPeriod, atMs: number): number {
  const start = calendarPeriodStart(calendar, atMs);
  if (calendar === 'week') return start + 7 * DAY;
  const at = new Date(start);
  return Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
}

/** The span the budget is counted over at `nowMs`: [fromMs, nowMs). */
export function budgetSpan(period: PeriodSpec, nowMs: number): { fromMs: number; toMs: number } {
  const fromMs = period.calendar === undefined ? nowMs - period.periodMs : calendarPeriodStart(period.calendar, nowMs);
  return { fromMs, toMs: nowMs };
}

/**
 * The length of the period holding `nowMs` (28 to 31 days for a month): a burn rate of 1 spends
 * exactly the budget over it.
 */
export function periodLengthMs(period: PeriodSpec, nowMs: number): number {
  if (period.calendar === undefined) return period.periodMs;
  return calendarPeriodEnd(period.calendar, nowMs) - calendarPeriodStart(period.calendar, nowMs);
}

/** How far back the history must reach to hold any moment's whole period (31 days for a month). */
export function longestPeriodMs(period: PeriodSpec): number {
  if (period.calendar === 'month') return 31 * DAY;
  if (period.calendar === 'week') return 7 * DAY;
  return period.periodMs;
}
