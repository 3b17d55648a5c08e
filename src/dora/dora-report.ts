/**
 * DORA's numbers for one project, environment and window, from the log's events alone: the four
 * keys and the rework rate with their 2024 tiers, the same over the previous window (the trend),
 * per-day or per-week buckets for the charts, and the table of rollouts and incidents behind them.
 * Definitions: ./definitions.ts. Pure: the caller passes the events and the window.
 */
import { changeFailureTier, type DoraTier, frequencyTier, leadTimeTier, recoveryTier } from './definitions.ts';
import type { DoraEvent } from './dora-events.ts';
import { deliveryHistory, type IncidentRow, type RolloutRow } from './delivery-history.ts';

const DAY = 86_400_000;

export interface DoraWindow {
  /** Inclusive start, ms since the epoch. */
  from: number;
  /** Exclusive end (usually now). */
  to: number;
}

export interface DoraNumbers {
  deployments: number;
  deploymentsPerDay: number;
  leadTime: { commits: number; medianMs: number | null; p90Ms: number | null };
  changeFailure: { failed: number; rate: number | null };
  recovery: { recovered: number; notRecovered: number; medianMs: number | null };
  rework: { deployments: number; rate: number | null };
}

export interface DoraTiers {
  deploymentFrequency: DoraTier | null;
  leadTime: DoraTier | null;
  changeFailureRate: DoraTier | null;
  recoveryTime: DoraTier | null;
}

export interface DoraBucket extends DoraNumbers {
  from: number;
  to: number;
}

export interface DoraReport {
  projectId: string;
  environment: string;
  window: DoraWindow;
  numbers: DoraNumbers;
  tiers: DoraTiers;
  /** The window of the same length just before: the trend is the difference. */
  previous: DoraNumbers;
  bucket: 'day' | 'week';
  buckets: DoraBucket[];
  /** Every rollout that finished or started in the window (deployments or not), oldest first. */
  rollouts: RolloutRow[];
  /** Incidents of the environment opened in the window. */
  incidents: IncidentRow[];
  /** When the environment was stopped in the window. */
  stops: number[];
}

/**
 * The q-quantile of ascending values by linear interpolation between closest ranks (numpy's
 * default, Excel's PERCENTILE.INC): the median of [1, 2, 3, 4] is 2.5.
 */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const low = sorted[below] as number;
  const high = sorted[Math.min(below + 1, sorted.length - 1)] as number;
  return low + (high - low) * (position - below);
}

function within(at: number | null, w: DoraWindow): boolean {
  return at !== null && at >= w.from && at < w.to;
}

/** The numbers over the deployments that finished in the window. */
export function numbersOf(rows: readonly RolloutRow[], w: DoraWindow): DoraNumbers {
  const deployments = rows.filter((r) => r.counted && within(r.finishedAt, w));
  const leadTimes = deployments.flatMap((r) => r.commits.map((c) => c.leadTimeMs)).sort((a, b) => a - b);
  const failed = deployments.filter((r) => r.failure !== null);
  const recoveries = failed
    .filter((r) => r.failure?.recoveredAt != null)
    .map((r) => (r.failure?.recoveredAt as number) - (r.failure?.startedAt as number))
    .sort((a, b) => a - b);
  const rework = deployments.filter((r) => r.rework).length;
  const n = deployments.length;
  return {
    deployments: n,
    deploymentsPerDay: n / Math.max((w.to - w.from) / DAY, Number.MIN_VALUE),
    leadTime: { commits: leadTimes.length, medianMs: quantile(leadTimes, 0.5), p90Ms: quantile(leadTimes, 0.9) },
    changeFailure: { failed: failed.length, rate: n === 0 ? null : failed.length / n },
    recovery: { recovered: recoveries.length, notRecovered: failed.length - recoveries.length, medianMs: quantile(recoveries, 0.5) },
    rework: { deployments: rework, rate: n === 0 ? null : rework / n },
  };
}

export function tiersOf(n: DoraNumbers): DoraTiers {
  return {
    deploymentFrequency: frequencyTier(n.deploymentsPerDay),
    leadTime: leadTimeTier(n.leadTime.medianMs),
    changeFailureRate: changeFailureTier(n.changeFailure.rate),
    recoveryTime: recoveryTier(n.recovery.medianMs),
  };
}

/** Days up to 31 days, weeks beyond: at most ~13 points for 90 days, 31 for a month. */
export function bucketSize(w: DoraWindow): 'day' | 'week' {
  return w.to - w.from <= 31 * DAY ? 'day' : 'week';
}

export function doraReport(events: readonly DoraEvent[], projectId: string, environment: string, window: DoraWindow): DoraReport {
  const history = deliveryHistory(events, projectId, environment, window.to);
  const length = window.to - window.from;
  const bucket = bucketSize(window);
  const step = bucket === 'day' ? DAY : 7 * DAY;
  const buckets: DoraBucket[] = [];
  for (let from = window.from; from < window.to; from += step) {
    const to = Math.min(from + step, window.to);
    buckets.push({ from, to, ...numbersOf(history.rollouts, { from, to }) });
  }
  const numbers = numbersOf(history.rollouts, window);
  return {
    projectId,
    environment,
    window,
    numbers,
    tiers: tiersOf(numbers),
    previous: numbersOf(history.rollouts, { from: window.from - length, to: window.from }),
    bucket,
    buckets,
    rollouts: history.rollouts.filter((r) => within(r.finishedAt, window) || (r.finishedAt === null && r.startedAt < window.to)),
    incidents: history.incidents.filter((i) => within(i.openedAt, window)),
    stops: history.stops.map((s) => s.at).filter((at) => within(at, window)),
  };
}
