import { describe, expect, it } from 'vitest';
import { dueSlot, nextSlot, windowAt } from '../../src/chaos/index.ts';
import type { ExperimentSchedule } from '../../src/core/chaos-config.ts';

const HOUR = 3_600_000;
// Weekdays at 14:00 in Paris (UTC+1 in December): windows open at 13:00 UTC.
const gameDay: ExperimentSchedule = { cron: '0 14 * * 1-5', windowMs: 2 * HOUR, timezone: 'Europe/Paris' };
const monday = Date.UTC(2026, 11, 7); // Monday 7 December 2026, 00:00 UTC
const saturday = Date.UTC(2026, 11, 12);

describe('experiment schedules', () => {
  it('opens a window at each cron fire in its time zone, for its length', () => {
    expect(windowAt(gameDay, monday + 12 * HOUR)).toBeNull();
    expect(windowAt(gameDay, monday + 13 * HOUR)).toEqual({ start: monday + 13 * HOUR, end: monday + 15 * HOUR });
    expect(windowAt(gameDay, monday + 14.9 * HOUR)?.start).toBe(monday + 13 * HOUR);
    expect(windowAt(gameDay, monday + 15 * HOUR)).toBeNull();
    expect(windowAt(gameDay, saturday + 13.5 * HOUR)).toBeNull();
  });

  it('is due once per window, and stays due until the window closes', () => {
    const open = monday + 13 * HOUR;
    expect(dueSlot(gameDay, monday, open - 1)).toBeNull();
    expect(dueSlot(gameDay, monday, open)).toBe(open);
    expect(dueSlot(gameDay, monday, open + HOUR)).toBe(open); // not started yet (busy): still due
    expect(dueSlot(gameDay, open, open + HOUR)).toBeNull(); // started: not again in this window
    expect(dueSlot(gameDay, monday, open + 2 * HOUR)).toBeNull(); // the window closed
    expect(nextSlot(gameDay, open)).toBe(open + 24 * HOUR);
  });

  it('with every, is due each interval while the window is open (the monkey mode)', () => {
    const monkey: ExperimentSchedule = { ...gameDay, everyMs: 30 * 60_000 };
    const open = monday + 13 * HOUR;
    const slots: number[] = [];
    let last = monday;
    for (let t = open - 60_000; t < open + 3 * HOUR; t += 15_000) {
      const slot = dueSlot(monkey, last, t);
      if (slot !== null) {
        slots.push((slot - open) / 60_000);
        last = slot;
      }
    }
    expect(slots).toEqual([0, 30, 60, 90]);
    expect(nextSlot(monkey, open + 95 * 60_000)).toBe(open + 24 * HOUR);
  });
});
