/**
 * When a scheduled experiment is due: its slots are the fires of its cron (in its time zone) and,
 * with `every`, each interval after a fire while the window is open. Pure: croner as a calculator
 * only; the server's scheduler asks with the Clock's time.
 */
import { Cron } from 'croner';
import type { ExperimentSchedule } from '../core/chaos-config.ts';

/** croner without a callback (so no timer of its own): 5 fields, or 6 with seconds first. */
export function scheduleCron(s: Pick<ExperimentSchedule, 'cron' | 'timezone'>): Cron {
  return new Cron(s.cron, { timezone: s.timezone, mode: '5-or-6-parts' });
}

/** The window open at `atMs` (start inclusive, end exclusive), or null between windows. */
export function windowAt(s: ExperimentSchedule, atMs: number, cron = scheduleCron(s)): { start: number; end: number } | null {
  // The latest fire at or before `atMs`: previousRuns looks strictly before its reference.
  const [previous] = cron.previousRuns(1, new Date(atMs + 1));
  if (previous === undefined) return null;
  const start = previous.getTime();
  return atMs < start + s.windowMs ? { start, end: start + s.windowMs } : null;
}

/**
 * The latest slot in (afterMs, atMs] whose window is still open at `atMs`, or null. The scheduler
 * passes the last slot it started (or its own start: slots before it are not replayed), so a slot
 * it could not start yet (the environment busy) stays due until its window closes.
 */
export function dueSlot(s: ExperimentSchedule, afterMs: number, atMs: number, cron = scheduleCron(s)): number | null {
  const window = windowAt(s, atMs, cron);
  if (window === null) return null;
  let slot = window.start;
  if (s.everyMs !== undefined && s.everyMs > 0) slot += Math.floor((atMs - window.start) / s.everyMs) * s.everyMs;
  return slot > afterMs && slot <= atMs ? slot : null;
}

/** The next slot after `afterMs` (for showing when an experiment runs next), or null when the cron has none. */
export function nextSlot(s: ExperimentSchedule, afterMs: number, cron = scheduleCron(s)): number | null {
  const window = windowAt(s, afterMs, cron);
  if (window !== null && s.everyMs !== undefined && s.everyMs > 0) {
    const next = window.start + (Math.floor((afterMs - window.start) / s.everyMs) + 1) * s.everyMs;
    if (next < window.end) return next;
  }
  return cron.nextRun(new Date(afterMs))?.getTime() ?? null;
}
