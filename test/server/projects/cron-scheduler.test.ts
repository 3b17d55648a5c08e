import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { CronScheduler, MAX_CRON_WAIT_MS } from '../../../src/server/projects/cron-scheduler.ts';

type Fire = { projectId: string; schedule: string; at: string };

const T0 = Date.parse('2026-01-01T11:59:58.400Z');
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

const schedulers: CronScheduler[] = [];
afterEach(() => {
  for (const s of schedulers.splice(0)) s.stop();
});

function scheduler(onFire?: (projectId: string, schedule: string, at: Date) => void, onError?: (e: unknown) => void) {
  const clock = new ManualClock(T0);
  const fires: Fire[] = [];
  const s = new CronScheduler({
    clock,
    onFire: (projectId, schedule, at) => {
      fires.push({ projectId, schedule, at: at.toISOString() });
      onFire?.(projectId, schedule, at);
    },
    onError,
  });
  schedulers.push(s);
  return { s, fires, clock };
}

describe('CronScheduler', () => {
  it('fires a per-second schedule at each scheduled second, reporting that second', () => {
    const { s, fires, clock } = scheduler();
    s.set('p', ['* * * * * *']);
    clock.advance(599);
    expect(fires).toEqual([]);
    clock.advance(1);
    expect(fires).toEqual([{ projectId: 'p', schedule: '* * * * * *', at: '2026-01-01T11:59:59.000Z' }]);
    clock.advance(2 * SECOND);
    expect(fires.map((f) => f.at)).toEqual(['2026-01-01T11:59:59.000Z', '2026-01-01T12:00:00.000Z', '2026-01-01T12:00:01.000Z']);
  });

  it('survives a throwing onFire (the error goes to onError), and remove() stops a project’s schedules', () => {
    const errors: unknown[] = [];
    const { s, fires, clock } = scheduler(
      (projectId) => {
        if (projectId === 'q') throw new Error('boom');
      },
      (e) => errors.push(e),
    );
    s.set('p', ['* * * * * *']);
    s.set('q', ['* * * * * *']);
    clock.advance(2 * SECOND);
    expect(fires.filter((f) => f.projectId === 'p')).toHaveLength(2);
    s.remove('p');
    expect(s.next('p')).toEqual([]);
    clock.advance(3 * SECOND);
    expect(fires.filter((f) => f.projectId === 'p')).toHaveLength(2);
    expect(fires.filter((f) => f.projectId === 'q')).toHaveLength(5);
    expect(errors).toHaveLength(5);
    expect(errors[0]).toMatchObject({ message: 'boom' });
  });

  it('lists upcoming fire times soonest first, in UTC', () => {
    const { s } = scheduler();
    s.set('p', ['0 12 * * *', '*/5 * * * *', '30 * * * * *']);
    expect(s.next('p').map((u) => [u.schedule, u.at.toISOString()])).toEqual(
      [
        ['30 * * * * *', '2026-01-01T12:00:30.000Z'],
        ['0 12 * * *', '2026-01-01T12:00:00.000Z'],
        ['*/5 * * * *', '2026-01-01T12:00:00.000Z'],
      ].sort((a, b) => (a[1] as string).localeCompare(b[1] as string)),
    );
  });

  it('moves the listed next time on after each fire', () => {
    const { s, clock } = scheduler();
    s.set('p', ['0 12 * * *']);
    clock.advance(2 * SECOND);
    expect(s.next('p')[0]?.at.toISOString()).toBe('2026-01-02T12:00:00.000Z');
  });

  it('fires each time across a long advance', () => {
    const { s, fires, clock } = scheduler();
    s.set('p', ['0 * * * *']);
    clock.advance(3 * 60 * 60 * SECOND);
    expect(fires.map((f) => f.at)).toEqual(['2026-01-01T12:00:00.000Z', '2026-01-01T13:00:00.000Z', '2026-01-01T14:00:00.000Z']);
  });

  it('does not replay fire times missed while the host slept; the next fire is the next time after now', () => {
    const manual = new ManualClock(T0);
    let slept = 0;
    // The timer wakes when it was due, but the wall clock has moved on by `slept`.
    const clock = {
      ...manual,
      now: () => manual.now() + slept,
      setTimeout: manual.setTimeout.bind(manual),
      clearTimeout: manual.clearTimeout.bind(manual),
    };
    const fires: string[] = [];
    const s = new CronScheduler({ clock, onFire: (_p, _s, at) => fires.push(at.toISOString()) });
    schedulers.push(s);
    s.set('p', ['0 * * * *']);
    slept = 3 * 60 * 60 * SECOND - 5 * SECOND;
    manual.advance(2 * SECOND);
    expect(fires).toEqual(['2026-01-01T12:00:00.000Z']);
    expect(s.next('p')[0]?.at.toISOString()).toBe('2026-01-01T15:00:00.000Z');
  });

  it('fires a yearly schedule on its day, waiting in bounded steps (a real timer cannot wait 24.8 days)', () => {
    const { s, fires, clock } = scheduler();
    s.set('p', ['0 0 1 6 *']);
    expect(clock.pending).toBe(1);
    clock.advance(MAX_CRON_WAIT_MS);
    expect(clock.pending).toBe(1);
    clock.advance(152 * DAY);
    expect(fires.map((f) => f.at)).toEqual(['2026-06-01T00:00:00.000Z']);
    expect(s.next('p')[0]?.at.toISOString()).toBe('2027-06-01T00:00:00.000Z');
  });

  it('replaces a project’s schedules, keeps unchanged ones on time, and keeps them all when the new set is invalid', () => {
    const { s, fires, clock } = scheduler();
    s.set('p', ['0 0 * * *', '* * * * * *']);
    s.set('p', ['* * * * * *']);
    expect(s.next('p').map((u) => u.schedule)).toEqual(['* * * * * *']);
    expect(() => s.set('p', ['0 1 * * *', 'not a cron'])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => s.set('p', ['0 0 0 1 1 * 2030'])).toThrow(/invalid cron schedule/);
    s.set('p', ['* * * * * *']);
    clock.advance(SECOND);
    expect(fires).toHaveLength(1);
    expect(clock.pending).toBe(1);
    s.set('p', []);
    expect(s.next('p')).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('stop() clears every timer', () => {
    const { s, clock } = scheduler();
    s.set('p', ['* * * * *']);
    s.set('q', ['@daily']);
    s.stop();
    expect(clock.pending).toBe(0);
  });
});
