/**
 * Progressive delivery's pure core: the statistics of canary analysis, the analysis verdict on
 * one window, and the rollout state machine. The public entry for the server's rollout
 * controller, the proxy (histogram shape) and the CLI (result types); no I/O anywhere below.
 */
export {
  binomialUpperTail,
  countAbove,
  errorSplitSprt,
  fisherExactGreater,
  mannWhitneyU,
  normalCdf,
  normalUpperTail,
  quantile,
  sortedHistogram,
  sprtErrorRate,
  twoProportionZTest,
} from './analysis-stats.ts';
export type { ErrorSplitSprt, Histogram, SprtOptions } from './analysis-stats.ts';
export { ANALYSIS_DEFAULTS, NULL_FRACTION, evaluateAnalysis, quantileLabel } from './analysis.ts';
export type { AnalysisCheck, AnalysisResult, AnalysisWindow, CheckOutcome, Sample } from './analysis.ts';
export {
  ANALYSIS_INTERVAL_MS,
  FINAL_ROLLOUT_PHASES,
  IllegalTransitionError,
  initialRollback,
  initialRollout,
  isFinalRollout,
  nextDeadline,
  reduceRollout,
} from './rollout-machine.ts';
export type {
  DrainPool,
  FinalRolloutPhase,
  InitialRolloutOptions,
  Pool,
  RollingProgress,
  RolloutCommand,
  RolloutEvent,
  RolloutHistoryEntry,
  RolloutPhase,
  RolloutState,
  RolloutTransition,
} from './rollout-machine.ts';
export { LATENCY_BOUNDS_MS, latencyList, latencyRow, metricSeries, windowPoint } from './metric-series.ts';
export type { LatencyHeatmap, MetricSeries, ReleaseSeries, RollupInput, SeriesPoint } from './metric-series.ts';
