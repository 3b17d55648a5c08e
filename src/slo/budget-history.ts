/**
 * An SLO's recent past as the dashboard draws it: the error budget burning down over the period,
 * the burn rate over each alert window as time went by, when the alerts fired and resolved, and
 * the deploys and rollbacks on the same time axis, so a person sees which change started a burn.
 *
 * Read from the downsampled history (event-history.ts) at a few hundred evenly spaced points:
 * each point costs two binary searches over prefix sums, whatever the period, so a 30-day SLO
 * costs the same as a 1-hour one. Pure: the server passes the buckets and the events.
 */
import { ROLLOUT_FINISHED_EVENT } from '../core/rollout-phase.ts';
import type { AlertSeverity, BurnRateRule } from '../core/slo-config.ts';
import type { HistoryBucket } from './event-history.ts';

/** An event of the log, as much as the history needs (alert and rollout events of the SLO's environment). */
export interface HistoryEvent {
  type: string;
  atMs: number;
  data: Record<string, unknown>;
}

export interface BudgetHistoryInput {
  slo: string;
  objective: number;
  periodMs: number;
  rules: readonly BurnRateRule[];
  buckets: readonly HistoryBucket[];
  /** When Gantry began measuring the SLO: nothing before it (or before the oldest bucket, if older) is drawn. */
  sinceMs: number;
  nowMs: number;
  /** How many points to draw (at least 2). */
  points: number;
  events: readonly HistoryEvent[];
}

/** An alert window and the rules that read it (a rule reads two: its long and its short window). */
export interface HistoryWindow {
  windowMs: number;
  rules: { severity: AlertSeverity; burnRate: number; role: 'long' | 'short' }[];
}

export interface HistoryPoint {
  t: number;
  /**
   * The share of the period's budget left at `t`: 1 at the start of the span, the budget's
   * `remaining` now (the budget is what the whole period's events allow to fail).
   */
  remaining: number;
  /** The burn rate over each of `windows` ending at `t`; null where the window reaches back before measuring began. */
  burnRates: (number | null)[];
}

export interface AlertInterval {
  severity: string;
  fromMs: number;
  /** null while it is firing. */
  toMs: number | null;
  peakBurnRate: number | null;
}

export interface DeployMarker {
  atMs: number;
  rolloutId: string | null;
  releaseNumber: number | null;
  /** How the rollout ended: succeeded (a deploy, or a rollback by hand), rolled-back or aborted. */
  outcome: string;
}

export interface BudgetHistory {
  fromMs: number;
  toMs: number;
  /** Bad events the period's events allow (total × (1 − objective)). */
  allowedBad: number;
  windows: HistoryWindow[];
  points: HistoryPoint[];
  alerts: AlertInterval[];
  markers: DeployMarker[];
}

/**
 * The span drawn is the part of the period Gantry measured: from the period's start, or from
 * when measuring began if that is later (a new SLO's chart is not a flat line over empty days).
 */
export function budgetHistory(input: BudgetHistoryInput): BudgetHistory {
  const { nowMs, objective } = input;
  const periodStart = nowMs - input.periodMs;
  // A roll-up that began before measuring did is counted from its start: draw from there.
  const measuredFrom = Math.min(input.sinceMs, input.buckets[0]?.startMs ?? input.sinceMs);
  const fromMs = Math.min(nowMs, Math.max(periodStart, measuredFrom));
  const counts = prefixCounts(input.buckets);
  const period = counts.between(periodStart, nowMs);
  const allowedBad = period.total * (1 - objective);
  const windows = alertWindows(input.rules);

  const n = Math.max(2, Math.floor(input.points));
  const points: HistoryPoint[] = [];
  for (let i = 0; i < n; i++) {
    const t = i === n - 1 ? nowMs : Math.round(fromMs + ((nowMs - fromMs) * i) / (n - 1));
    if (points.length > 0 && (points.at(-1) as HistoryPoint).t >= t) continue;
    const spent = counts.between(periodStart, t);
    const remaining = allowedBad > 0 ? 1 - (spent.total - spent.good) / allowedBad : 1;
    const burnRates = windows.map(({ windowMs }) => {
      if (t - windowMs < measuredFrom) return null;
      const w = counts.between(t - windowMs, t);
      return w.total > 0 ? (w.total - w.good) / w.total / (1 - objective) : 0;
    });
    points.push({ t, remaining, burnRates });
  }

  return {
    fromMs,
    toMs: nowMs,
    allowedBad,
    windows,
    points,
    alerts: alertIntervals(input.slo, input.events).filter((a) => a.toMs === null || a.toMs >= fromMs),
    markers: deployMarkers(input.events).filter((m) => m.atMs >= fromMs && m.atMs <= nowMs),
  };
}

/** The distinct windows of the rules, shortest first. */
export function alertWindows(rules: readonly BurnRateRule[]): HistoryWindow[] {
  const byLength = new Map<number, HistoryWindow>();
  for (const rule of rules) {
    for (const [role, windowMs] of [
      ['long', rule.longWindowMs],
      ['short', rule.shortWindowMs],
    ] as const) {
      const window = byLength.get(windowMs) ?? { windowMs, rules: [] };
      window.rules.push({ severity: rule.severity, burnRate: rule.burnRate, role });
      byLength.set(windowMs, window);
    }
  }
  return [...byLength.values()].sort((a, b) => a.windowMs - b.windowMs);
}

/**
 * Good and total events up to any time, from prefix sums over the buckets (sorted, never
 * overlapping). A bucket a time cuts counts in proportion, as `sumEvents` does, so a window read
 * here equals the one the server's evaluation read.
 */
function prefixCounts(buckets: readonly HistoryBucket[]) {
  const good = new Float64Array(buckets.length + 1);
  const total = new Float64Array(buckets.length + 1);
  buckets.forEach((b, i) => {
    good[i + 1] = (good[i] as number) + b.good;
    total[i + 1] = (total[i] as number) + b.total;
  });
  const until = (t: number): { good: number; total: number } => {
    // The last bucket starting before t: every one before it ends by its start.
    let lo = 0;
    let hi = buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((buckets[mid] as HistoryBucket).startMs < t) lo = mid + 1;
      else hi = mid;
    }
    const k = lo - 1;
    if (k < 0) return { good: 0, total: 0 };
    const b = buckets[k] as HistoryBucket;
    const share = Math.min(1, (t - b.startMs) / (b.endMs - b.startMs));
    return { good: (good[k] as number) + b.good * share, total: (total[k] as number) + b.total * share };
  };
  return {
    between(fromMs: number, toMs: number): { good: number; total: number } {
      if (toMs <= fromMs) return { good: 0, total: 0 };
      const a = until(fromMs);
      const b = until(toMs);
      return { good: b.good - a.good, total: b.total - a.total };
    },
  };
}

/**
 * The SLO's alerts as intervals, oldest first: each `slo.alert.fired` paired with the next
 * `slo.alert.resolved` of its severity. A resolution whose firing is older than the events
 * given starts at its `firedAt`; a firing not yet resolved is open-ended.
 */
export function alertIntervals(slo: string, events: readonly HistoryEvent[]): AlertInterval[] {
  const open = new Map<string, AlertInterval>();
  const out: AlertInterval[] = [];
  for (const e of [...events].sort((a, b) => a.atMs - b.atMs)) {
    if (e.data.slo !== slo) continue;
    const severity = String(e.data.severity);
    if (e.type === 'slo.alert.fired') {
      if (open.has(severity)) continue;
      const interval: AlertInterval = { severity, fromMs: e.atMs, toMs: null, peakBurnRate: null };
      open.set(severity, interval);
      out.push(interval);
    } else if (e.type === 'slo.alert.resolved') {
      const peakBurnRate = typeof e.data.peakBurnRate === 'number' ? e.data.peakBurnRate : null;
      const interval = open.get(severity);
      open.delete(severity);
      if (interval !== undefined) {
        interval.toMs = e.atMs;
        interval.peakBurnRate = peakBurnRate;
        continue;
      }
      const firedAt = typeof e.data.firedAt === 'string' ? Date.parse(e.data.firedAt) : Number.NaN;
      out.push({ severity, fromMs: Number.isFinite(firedAt) ? firedAt : e.atMs, toMs: e.atMs, peakBurnRate });
    }
  }
  return out.sort((a, b) => a.fromMs - b.fromMs);
}

/** Each rollout that ended, at its end, with the release number its `rollout.created` named. */
export function deployMarkers(events: readonly HistoryEvent[]): DeployMarker[] {
  const releaseOf = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'rollout.created' && typeof e.data.rolloutId === 'string' && typeof e.data.releaseNumber === 'number')
      releaseOf.set(e.data.rolloutId, e.data.releaseNumber);
  }
  return events
    .filter((e) => e.type === ROLLOUT_FINISHED_EVENT)
    .map((e) => {
      const rolloutId = typeof e.data.rolloutId === 'string' ? e.data.rolloutId : null;
      return {
        atMs: e.atMs,
        rolloutId,
        releaseNumber: rolloutId === null ? null : (releaseOf.get(rolloutId) ?? null),
        outcome: String(e.data.phase ?? 'finished'),
      };
    })
    .sort((a, b) => a.atMs - b.atMs);
}
