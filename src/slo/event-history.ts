/**
 * An SLO's good/total history over its whole period, downsampled like a round-robin database:
 * fine buckets for the recent past that the short alert windows read, coarser ones further back
 * that only the long windows and the budget read. For a 30-day period that is 10-second buckets
 * for 2 hours, 1-minute for a day, 10-minute for 3 days and hourly for the rest: about 3,300
 * buckets instead of 259,200 ten-second roll-ups. Counts add, so merging buckets loses nothing
 * but the time resolution, and a window's sum is exact except for the one bucket it cuts at its
 * start (pro-rated: at most 1/360 of a 6-hour window, 1/432 of a 3-day one).
 *
 * Pure: the server stores the buckets and calls `compact` as time passes.
 */
import type { EventCounts } from './budget.ts';
import { NO_EVENTS } from './budget.ts';
import { WORKBOOK_PERIOD_MS } from './alert-windows.ts';

/**
 * Events counted in [startMs, endMs). A merged bucket spans only what its parts covered, so
 * buckets never overlap, even while a coarse one is still being filled from finer ones.
 */
export interface HistoryBucket extends EventCounts {
  startMs: number;
  endMs: number;
}

export interface HistoryTier {
  resolutionMs: number;
  /** How far back from now this tier reaches; older buckets move to the next tier. */
  retainMs: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The tiers for a 30-day period; other periods scale them (never finer than 1 s). */
const TIERS_30D: readonly HistoryTier[] = [
  { resolutionMs: 10 * SECOND, retainMs: 2 * HOUR },
  { resolutionMs: MINUTE, retainMs: DAY },
  { resolutionMs: 10 * MINUTE, retainMs: 3 * DAY },
  { resolutionMs: HOUR, retainMs: 30 * DAY },
];

/**
 * The tiers for a period. Each resolution divides the next (so merged buckets line up) and the
 * last tier reaches one bucket past the period, so the period's sum never lacks its oldest part.
 */
export function historyTiers(periodMs: number): HistoryTier[] {
  const scale = periodMs / WORKBOOK_PERIOD_MS;
  let previous = 0;
  return TIERS_30D.map((tier, i) => {
    const wanted = Math.max(SECOND, Math.round((tier.resolutionMs * scale) / SECOND) * SECOND);
    // Keep each resolution a multiple of the previous one, or merged buckets would straddle.
    const resolutionMs = previous === 0 ? wanted : Math.max(previous, Math.round(wanted / previous) * previous);
    previous = resolutionMs;
    const last = i === TIERS_30D.length - 1;
    return { resolutionMs, retainMs: last ? periodMs + resolutionMs : Math.round(tier.retainMs * scale) };
  });
}

/** The bucket of the finest tier that a sample at `atMs` belongs to. */
export function bucketStart(atMs: number, resolutionMs: number): number {
  return Math.floor(atMs / resolutionMs) * resolutionMs;
}

/** Adds counts to the finest-tier bucket at `atMs` of `buckets`, in place (sorted by start). */
function addInPlace(buckets: HistoryBucket[], resolutionMs: number, atMs: number, counts: EventCounts): void {
  const startMs = bucketStart(atMs, resolutionMs);
  // New samples almost always land in or after the newest bucket: look from the end.
  let index = buckets.length - 1;
  while (index >= 0 && (buckets[index] as HistoryBucket).startMs > startMs) index--;
  const found = index >= 0 ? buckets[index] : undefined;
  if (found !== undefined && found.endMs > startMs) {
    buckets[index] = { ...found, good: found.good + counts.good, total: found.total + counts.total };
    return;
  }
  buckets.splice(index + 1, 0, { startMs, endMs: startMs + resolutionMs, good: counts.good, total: counts.total });
}

/**
 * Adds a sample (events observed at `atMs`) to the history: into its finest-tier bucket,
 * created if absent. Returns a new array; buckets stay sorted by start.
 */
export function recordEvents(
  history: readonly HistoryBucket[],
  tiers: readonly HistoryTier[],
  atMs: number,
  counts: EventCounts,
): HistoryBucket[] {
  const next = history.slice();
  addInPlace(next, tiers[0]?.resolutionMs ?? SECOND, atMs, counts);
  return next;
}

/**
 * Adds events observed over [fromMs, toMs) (a roll-up, a live window), spread evenly over the
 * finest buckets they cover, so a 10-second roll-up does not land whole in a 1-second bucket.
 * Returns a new array (one copy, however many buckets the span covers).
 */
export function recordSpan(
  history: readonly HistoryBucket[],
  tiers: readonly HistoryTier[],
  fromMs: number,
  toMs: number,
  counts: EventCounts,
): HistoryBucket[] {
  const resolutionMs = tiers[0]?.resolutionMs ?? SECOND;
  const next = history.slice();
  if (toMs - fromMs <= resolutionMs) {
    addInPlace(next, resolutionMs, fromMs, counts);
    return next;
  }
  const span = toMs - fromMs;
  for (let start = bucketStart(fromMs, resolutionMs); start < toMs; start += resolutionMs) {
    const share = (Math.min(toMs, start + resolutionMs) - Math.max(fromMs, start)) / span;
    addInPlace(next, resolutionMs, Math.max(fromMs, start), { good: counts.good * share, total: counts.total * share });
  }
  return next;
}

/**
 * Moves buckets that have aged out of their tier into the next, coarser one (merging those that
 * fall in the same coarse bucket), and drops what is older than the last tier keeps.
 * Idempotent: compacting twice at the same time changes nothing.
 */
export function compactHistory(history: readonly HistoryBucket[], tiers: readonly HistoryTier[], nowMs: number): HistoryBucket[] {
  const last = tiers[tiers.length - 1];
  if (last === undefined) return history.slice();
  const oldest = nowMs - last.retainMs;
  const merged = new Map<number, HistoryBucket>();
  for (const bucket of history) {
    if (bucket.endMs <= oldest) continue;
    const tier = tierFor(tiers, nowMs - bucket.endMs);
    const key = bucketStart(bucket.startMs, tier.resolutionMs);
    const existing = merged.get(key);
    if (existing === undefined) merged.set(key, { ...bucket });
    else
      merged.set(key, {
        startMs: Math.min(existing.startMs, bucket.startMs),
        endMs: Math.max(existing.endMs, bucket.endMs),
        good: existing.good + bucket.good,
        total: existing.total + bucket.total,
      });
  }
  return [...merged.values()].sort((a, b) => a.startMs - b.startMs);
}

/** The tier a bucket ending `ageMs` ago belongs in: the finest one that still retains it. */
function tierFor(tiers: readonly HistoryTier[], ageMs: number): HistoryTier {
  for (const tier of tiers) if (ageMs < tier.retainMs) return tier;
  return tiers[tiers.length - 1] as HistoryTier;
}

/**
 * The events in [fromMs, toMs): whole buckets inside, and a share of a bucket the window cuts
 * proportional to the overlap (events are assumed spread evenly within a bucket).
 */
export function sumEvents(history: readonly HistoryBucket[], fromMs: number, toMs: number): EventCounts {
  if (toMs <= fromMs) return NO_EVENTS;
  let good = 0;
  let total = 0;
  // Windows are recent: walk back from the newest bucket and stop at the first one before the window.
  for (let i = history.length - 1; i >= 0; i--) {
    const bucket = history[i] as HistoryBucket;
    if (bucket.endMs <= fromMs) break;
    if (bucket.startMs >= toMs) continue;
    const span = bucket.endMs - bucket.startMs;
    const overlap = Math.min(bucket.endMs, toMs) - Math.max(bucket.startMs, fromMs);
    const share = overlap >= span ? 1 : overlap / span;
    good += bucket.good * share;
    total += bucket.total * share;
  }
  return { good: toMillionths(good), total: toMillionths(total) };
}

/**
 * Buckets hold spread shares of whole events (`recordSpan`: a 10-second roll-up in tenths), and
 * their float sums drift by ~1e-14: 65 stored requests read back as 64.99999999999994, short of
 * every "at least 65". Counts are read to a millionth of an event.
 */
function toMillionths(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
