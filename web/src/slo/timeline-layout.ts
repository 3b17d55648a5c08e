/**
 * Where each entry of an incident's timeline sits on the drawn timeline: spaced in proportion to
 * the time between entries, so a burst of alerts reads as a burst and a quiet hour as a gap, but
 * never closer than a line of text and never farther than a few lines (a long wait becomes a
 * marked break instead of an empty screen). Pure, tested in test/web/timeline-layout.test.ts.
 */
import { ROLLOUT_FINISHED_EVENT } from '../../../src/core/rollout-phase.ts';

export interface TimelineSlot<T> {
  entry: T;
  /** Pixels from the top of the timeline. */
  y: number;
  /** The time since the previous entry was too long to draw to scale: a break is drawn above. */
  breakBefore: boolean;
  /** Time since the previous entry (0 for the first). */
  gapMs: number;
}

export interface TimelineLayoutOptions {
  /** About how tall the drawing may be if drawn to scale. */
  targetHeight: number;
  /** The smallest step between entries (a line of text). */
  minGap: number;
  /** The largest step; a longer wait is drawn this tall with a break. */
  maxGap: number;
}

export function layoutTimeline<T extends { at: number }>(
  entries: readonly T[],
  o: TimelineLayoutOptions,
): { slots: TimelineSlot<T>[]; height: number } {
  const sorted = [...entries].sort((a, b) => a.at - b.at);
  const first = sorted[0];
  const last = sorted.at(-1);
  if (first === undefined || last === undefined) return { slots: [], height: 0 };
  const span = last.at - first.at;
  const pxPerMs = span > 0 ? o.targetHeight / span : 0;
  const slots: TimelineSlot<T>[] = [];
  let y = 0;
  let previous = first.at;
  for (const entry of sorted) {
    const gapMs = entry.at - previous;
    const scaled = gapMs * pxPerMs;
    const breakBefore = slots.length > 0 && scaled > o.maxGap;
    if (slots.length > 0) y += Math.min(o.maxGap, Math.max(o.minGap, scaled));
    slots.push({ entry, y: Math.round(y), breakBefore, gapMs });
    previous = entry.at;
  }
  return { slots, height: Math.round(y) + o.minGap };
}

export type TimelineKind = 'alert' | 'resolved' | 'deploy' | 'rollback' | 'note' | 'incident' | 'other';

/**
 * The family an entry (its kind, an event type or `note`, and its text) is drawn as. A rollout
 * counts once, at its end (how it ended is in the text); its steps, runs and jobs are `other`,
 * which the picture leaves out unless asked.
 */
export function timelineKind(kind: string, text = ''): TimelineKind {
  if (kind === 'note' || kind === 'incident.note') return 'note';
  if (kind === 'slo.alert.fired') return 'alert';
  if (kind === 'slo.alert.resolved') return 'resolved';
  if (kind.startsWith('incident.')) return 'incident';
  if (kind === ROLLOUT_FINISHED_EVENT) return /rolled-back|aborted|failed/.test(text) ? 'rollback' : 'deploy';
  if (kind.startsWith('deploy.')) return 'deploy';
  return 'other';
}
