import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronScheduler } from '../../../src/server/projects/cron-scheduler.ts';

type Fire = { projectId: string; schedule: string; at: Date };

const schedulers: CronScheduler[] = [];
afterEach(() => {
  for (const s of schedulers.splice(0)) s.stop();
});

function scheduler(onFire?: (projectId: string, schedule: string, at: Date) => void, onError?: (e: unknown) => void) {
  const fires: Fire[] = [];
  const s = new CronScheduler((projectId, schedule, at) => {
    fires.push({ projectId, schedule, at });
    onFire?.(projectId, schedule, at);
  }, onError);
  schedulers.push(s);
  return { s, fires };
}

describe('CronScheduler', () => {
  it('fires a per-second schedule with its scheduled time, survives a throwing onFire, and remove() stops it', async () => {
    const errors: unknown[] = [];
    const { s, fires } = scheduler(
      (projectId) => {
        if (projectId === 'q') throw new Error('boom');
      },
      (e) => errors.push(e),
    );
    s.set('p', ['* * * * * *']);
    s.set('q', ['* * * * * *']);
    await vi.waitFor(() => expect(fires.some((f) => f.projectId === 'p')).toBe(true), { timeout: 3000, interval: 20 });
    const fire = fires.find((f) => f.projectId === 'p');
    expect(fire?.schedule).toBe('* * * * * *');
    expect(fire?.at.getMilliseconds()).toBe(0);
    expect(Math.abs(Date.now() - (fire?.at.getTime() ?? 0))).toBeLessThan(2000);

    s.remove('p');
    expect(s.next('p')).toEqual([]);
    const pFires = fires.filter((f) => f.projectId === 'p').length;
    // 'q' firing twice more proves a whole second passed in which 'p' would have fired too.
    const qFires = fires.filter((f) => f.projectId === 'q').length;
    await vi.waitFor(() => expect(fires.filter((f) => f.projectId === 'q').length).toBeGreaterThanOrEqual(qFires + 2), {
      timeout: 4000,
      interval: 20,
    });
    expect(fires.filter((f) => f.projectId === 'p')).toHaveLength(pFires);
    // Every 'q' fire threw, and it kept firing all the same.
    expect(errors.length).toBe(fires.filter((f) => f.projectId === 'q').length);
    expect(errors[0]).toMatchObject({ message: 'boom' });
  });

  it('lists upcoming fire times soonest first, in UTC', () => {
    const { s } = scheduler();
    s.set('p', ['0 12 * * *', '*/5 * * * *', '30 * * * * *']);
    const upcoming = s.next('p');
    expect(upcoming.map((u) => u.schedule)).toHaveLength(3);
    const times = upcoming.map((u) => u.at.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const u of upcoming) expect(u.at.getTime()).toBeGreaterThan(Date.now());
    const noon = upcoming.find((u) => u.schedule === '0 12 * * *')?.at;
    expect(noon?.getUTCHours()).toBe(12);
    expect(noon?.getUTCMinutes()).toBe(0);
    expect(upcoming.find((u) => u.schedule === '30 * * * * *')?.at.getUTCSeconds()).toBe(30);
  });

  it('replaces a project’s schedules, and keeps them when the new set is invalid', () => {
    const { s } = scheduler();
    s.set('p', ['0 0 * * *', '0 6 * * *']);
    s.set('p', ['0 6 * * *']);
    expect(s.next('p').map((u) => u.schedule)).toEqual(['0 6 * * *']);
    expect(() => s.set('p', ['0 1 * * *', 'not a cron'])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => s.set('p', ['0 0 0 1 1 * 2030'])).toThrow(/invalid cron schedule/);
    expect(s.next('p').map((u) => u.schedule)).toEqual(['0 6 * * *']);
    s.set('p', []);
    expect(s.next('p')).toEqual([]);
  });
});
