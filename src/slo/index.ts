/**
 * SLOs' pure core: error-budget arithmetic, the SRE workbook's burn-rate alert rules scaled to a
 * period, the alert state machine, and the downsampled event history a budget is read from. The
 * public entry for the server's SLO evaluation and the CLI; no I/O anywhere below.
 */
export { WORKBOOK_PERIOD_MS, WORKBOOK_RULES, budgetSpentAtFiring, defaultBurnRateRules } from './alert-windows.ts';
export { NO_EVENTS, addCounts, budgetStatus, burnRate, errorRatio } from './budget.ts';
export type { BudgetStatus, EventCounts } from './budget.ts';
export { INACTIVE, readRules, stepAlert } from './burn-rate-alerts.ts';
export type { AlertState, AlertTransition, RuleReading } from './burn-rate-alerts.ts';
export { bucketStart, compactHistory, historyTiers, recordEvents, recordSpan, sumEvents } from './event-history.ts';
export type { HistoryBucket, HistoryTier } from './event-history.ts';
export { prometheusRules, promDuration } from './prometheus-rules.ts';
export type { AlertingRule, HistogramBounds, RecordingRule, RuleFile, RuleGroup } from './prometheus-rules.ts';
export { budgetSpan, calendarPeriodEnd, calendarPeriodStart, longestPeriodMs, periodLengthMs } from './period.ts';
export type { PeriodSpec } from './period.ts';
export { sliCounts } from './sli-counts.ts';
export type { RequestCounts } from './sli-counts.ts';
export { alertIntervals, alertWindows, budgetHistory, deployMarkers } from './budget-history.ts';
export type {
  AlertInterval,
  BudgetHistory,
  BudgetHistoryInput,
  DeployMarker,
  HistoryEvent,
  HistoryPoint,
  HistoryWindow,
} from './budget-history.ts';
export type { SloStatus } from './slo-status.ts';
