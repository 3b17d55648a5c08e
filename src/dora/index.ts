/** DORA's pure core: the four keys and the rework rate, with tiers, trend and the table behind them, from the event log alone. No I/O. */
export {
  changeFailureTier,
  DORA_2024_CLUSTERS,
  DORA_DEFINITIONS,
  type DoraDefinition,
  type DoraMetricKey,
  type DoraTier,
  frequencyTier,
  leadTimeTier,
  recoveryTier,
  TIER_RULES,
} from './definitions.ts';
export { type Commit, DORA_EVENT_TYPES, type DoraEvent, type LogEvent, toDoraEvents } from './dora-events.ts';
export {
  type CommitLeadTime,
  type DeliveryHistory,
  deliveryHistory,
  type Failure,
  type IncidentRow,
  type RolloutKind,
  type RolloutRow,
} from './delivery-history.ts';
export {
  type DoraBucket,
  type DoraNumbers,
  type DoraReport,
  type DoraTiers,
  type DoraWindow,
  doraReport,
  numbersOf,
  quantile,
  tiersOf,
} from './dora-report.ts';
export { DEFAULT_SINCE, parseSince } from './since.ts';
export { frequencyText, rateText } from './dora-text.ts';
