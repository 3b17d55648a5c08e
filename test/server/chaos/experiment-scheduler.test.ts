/**
 * The experiment scheduler on a ManualClock, behind its ports: starts at the slot (within one
 * look), retries while the environment is busy until the window closes, the monkey mode starts
 * once per interval, and every start goes through `run` (where the guard is checked) as `schedule`.
 */
import { describe, expect, it } from 'vitest';
import type { ExperimentConfig, ExperimentSchedule } from '../../../src/core/chaos-config.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { ConflictError } from '../../../src/core/errors.ts';
import { ExperimentScheduler, SCHEDULE_CHECK_MS } from '../../../src/server/chaos/experiment-scheduler.ts';
import type { Project } from '../../../src/store/ports.ts';

const HOUR = 3_600_000;
const monday = Date.UTC(2026, 11, 7);
const project = { id: 'p1', name: 'shop' } as Project;

function config(name: string, schedule: ExperimentSchedule): ExperimentConfig {
  return {
    name,
    environment: 'staging',
    hypothesis: { latency: [] },
    faults: [],
    instanceFaults: [{ kind: 'kill', target: { count: 1 } }],
    durationMs: 60_000,
    beforeMs: 1000,
    afterMs: 1000,
    guard: { noRollout: true },
    schedule,
  };
}

function rig(
  configs: ExperimentConfig[],
  refuse: (at: number) => boolean = () => false,
  o: { startAt?: number; lastScheduledStart?: () => Promise<number | null> } = {},
) {
  const clock = new ManualClock(o.startAt ?? monday + 12 * HOUR);
  const starts: { name: string; at: number; actor: string }[] = [];
  const scheduler = new ExperimentScheduler({
    clock,
    projects: async () => [project],
    declared: async () => configs.map((c) => ({ name: c.name, environment: c.environment, release: 'r1', config: c })),
    run: async (_p, name, opts) => {
      if (refuse(clock.now())) throw new ConflictError('experiment x is already running in staging');
      starts.push({ name, at: clock.now(), actor: opts.actor });
    },
    lastScheduledStart: o.lastScheduledStart,
    warn: () => undefined,
  });
  return { clock, starts, scheduler };
}

/** Advances one look at a time, letting each look's promises settle. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += SCHEDULE_CHECK_MS) {
    clock.advance(SCHEDULE_CHECK_MS);
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

describe('the experiment scheduler', () => {
  it('starts an experiment once in its window, within one look of the slot, as the schedule', async () => {
    const { clock, starts, scheduler } = rig([config('game-day', { cron: '0 14 * * 1-5', windowMs: 2 * HOUR, timezone: 'Europe/Paris' })]);
    scheduler.start();
    await advance(clock, 4 * HOUR);
    await scheduler.stop();
    expect(starts).toHaveLength(1);
    expect(starts[0]?.actor).toBe('schedule');
    const late = (starts[0]?.at ?? 0) - (monday + 13 * HOUR);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThanOrEqual(SCHEDULE_CHECK_MS);
  });

  it('tries again while the environment is busy, and gives up when the window closes', async () => {
    const busyUntil = monday + 13.5 * HOUR;
    const { clock, starts, scheduler } = rig(
      [config('game-day', { cron: '0 13 * * *', windowMs: HOUR, timezone: 'UTC' })],
      (at) => at < busyUntil,
    );
    scheduler.start();
    await advance(clock, 3 * HOUR);
    expect(starts.map((s) => s.at)).toEqual([busyUntil]);
    const never = rig([config('game-day', { cron: '0 13 * * *', windowMs: HOUR, timezone: 'UTC' })], () => true);
    never.scheduler.start();
    await advance(never.clock, 3 * HOUR);
    expect(never.starts).toEqual([]);
    await scheduler.stop();
    await never.scheduler.stop();
  });

  it('in monkey mode, starts one kill per interval while the window is open', async () => {
    const { clock, starts, scheduler } = rig([
      config('monkey', { cron: '0 13 * * *', windowMs: HOUR, timezone: 'UTC', everyMs: 15 * 60_000 }),
    ]);
    scheduler.start();
    await advance(clock, 3 * HOUR);
    await scheduler.stop();
    expect(starts.map((s) => (s.at - (monday + 13 * HOUR)) / 60_000)).toEqual([0, 15, 30, 45]);
  });

  it('starts a slot whose window is still open when the server starts, unless the event log shows it started', async () => {
    const gameDay = config('game-day', { cron: '0 13 * * *', windowMs: 2 * HOUR, timezone: 'UTC' });
    // The server (re)starts at 13:30, inside the 13:00–15:00 window: the game day was missed.
    const missed = rig([gameDay], () => false, { startAt: monday + 13.5 * HOUR, lastScheduledStart: async () => null });
    missed.scheduler.start();
    await advance(missed.clock, HOUR);
    await missed.scheduler.stop();
    expect(missed.starts.map((s) => s.at - (monday + 13.5 * HOUR))).toEqual([SCHEDULE_CHECK_MS]);
    // It had started at 13:00 before the restart: not again in this window, and the next day's runs.
    const ran = rig([gameDay], () => false, {
      startAt: monday + 13.5 * HOUR,
      lastScheduledStart: async () => monday + 13 * HOUR + 5000,
    });
    ran.scheduler.start();
    await advance(ran.clock, 24 * HOUR);
    await ran.scheduler.stop();
    expect(ran.starts.map((s) => Math.floor((s.at - monday) / HOUR))).toEqual([37]);
  });
});
