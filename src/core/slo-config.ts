/**
 * The normalised `slos` section of gantry.yaml (objectives as fractions, periods and windows in
 * ms), produced by src/pipeline/config-slo-schema.ts and read by the SLO core (src/slo) and the
 * server's SLO evaluation. No I/O.
 */

/** Where the good and total events of an SLO come from. */
export type SliConfig =
  /** The proxy's requests: good = answered without a 5xx (or a proxy error). */
  | { kind: 'availability' }
  /** The proxy's requests: good = answered within `thresholdMs`. */
  | { kind: 'latency'; thresholdMs: number }
  /**
   * Any two PromQL rate expressions; `{{window}}` in each is replaced by the window being
   * evaluated (`5m`, `1h`, …), as Sloth's SLI templates do (Sloth's own `{{.window}}` works too).
   */
  | { kind: 'prometheus'; good: string; total: string };

export type AlertSeverity = 'page' | 'ticket';

/** A period aligned to the calendar in UTC: months start on the 1st, weeks on Monday (ISO 8601). */
export type CalendarPeriod = 'month' | 'week';

/**
 * Where the range goes in a Prometheus SLI's queries: `{{window}}`, or Sloth's Go-template
 * spelling `{{.window}}`, with or without spaces inside the braces, so that queries pasted from
 * a Sloth spec work as they are.
 */
const WINDOW_PLACEHOLDER = /\{\{\s*\.?window\s*\}\}/g;

export function hasWindowPlaceholder(query: string): boolean {
  return new RegExp(WINDOW_PLACEHOLDER.source).test(query);
}

/** The query with every window placeholder replaced by a PromQL duration (`5m`, `1h30m`). */
export function withWindow(query: string, window: string): string {
  return query.replace(WINDOW_PLACEHOLDER, window);
}

/**
 * One multi-window, multi-burn-rate condition (SRE workbook, "Alerting on SLOs", approach 6): it holds
 * when the burn rate over the long window AND over the short window both exceed `burnRate`.
 */
export interface BurnRateRule {
  severity: AlertSeverity;
  burnRate: number;
  longWindowMs: number;
  shortWindowMs: number;
}

export interface SloConfig {
  name: string;
  /** The target share of good events, 0 < objective < 1 (0.999 for 99.9%). */
  objective: number;
  /**
   * The period's length: a rolling period ending now, or for a calendar period its nominal
   * length (30 days for a month, 7 for a week), which the alert windows scale from.
   */
  periodMs: number;
  /** Set for a calendar period: the budget resets at the start of each (UTC) month or ISO week. */
  calendar?: CalendarPeriod;
  sli: SliConfig;
  /** The alert conditions; the workbook's three scaled to the period unless overridden ([] = none). */
  alerts: BurnRateRule[];
  /** The environments it applies to; undefined = every environment of the project. */
  environments?: string[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The nominal length of a calendar period, which its alert windows scale from: a month is the
 * workbook's 30 days whatever its length, so its alerts are the workbook's own.
 */
export const CALENDAR_PERIOD_MS: Readonly<Record<CalendarPeriod, number>> = Object.freeze({ month: 30 * DAY, week: 7 * DAY });

/** The period the SRE workbook's alerting table is written for. */
export const WORKBOOK_PERIOD_MS = 30 * DAY;

/**
 * The SRE workbook's recommended multi-window, multi-burn-rate alerts ("Alerting on SLOs",
 * "Recommended parameters for an SLO-based alert"): page on 2 % of the budget spent in 1 h
 * (14.4×) or 5 % in 6 h (6×), open a ticket on 10 % in 3 days (1×); each long window paired with
 * a short one of 1/12 of it so that the alert stops soon after the burning does.
 */
export const WORKBOOK_RULES: readonly BurnRateRule[] = Object.freeze([
  { severity: 'page', burnRate: 14.4, longWindowMs: HOUR, shortWindowMs: 5 * MINUTE },
  { severity: 'page', burnRate: 6, longWindowMs: 6 * HOUR, shortWindowMs: 30 * MINUTE },
  { severity: 'ticket', burnRate: 1, longWindowMs: 3 * DAY, shortWindowMs: 6 * HOUR },
]);

/**
 * The workbook's rules for an SLO of `periodMs`, every window scaled in proportion to the period
 * (a 1-day SLO pages on 2-minute and 10-second windows, so tests see real alerts in seconds).
 * The burn rates stay: a burn rate is already relative to the period, so each rule still fires
 * at the same share of the budget spent.
 */
export function defaultBurnRateRules(periodMs: number): BurnRateRule[] {
  const scale = periodMs / WORKBOOK_PERIOD_MS;
  return WORKBOOK_RULES.map((rule) => ({
    ...rule,
    longWindowMs: Math.round(rule.longWindowMs * scale),
    shortWindowMs: Math.round(rule.shortWindowMs * scale),
  }));
}
