import { describe, expect, it } from 'vitest';
import { ManualClock, repeatEvery, systemClock } from '../../src/core/clock.ts';

describe('ManualClock', () => {
  it('stands still until advanced', () => {
    const clock = new ManualClock(1000);
    expect(clock.now()).toBe(1000);
    clock.advance(250);
    expect(clock.now()).toBe(1250);
  });

  it('fires timers in the order they fall due, each at its own time', () => {
    const clock = new ManualClock(0);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['c', clock.now()]), 30);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.advance(25);
    expect(fired).toEqual([
      ['a', 10],
      ['b', 20],
    ]);
    expect(clock.now()).toBe(25);
    expect(clock.pending).toBe(1);
    clock.advance(5);
    expect(fired.at(-1)).toEqual(['c', 30]);
    expect(clock.pending).toBe(0);
  });

  it('fires timers due at the same time in the order they were set', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    for (const n of [1, 2, 3, 4]) clock.setTimeout(() => fired.push(n), 5);
    clock.advance(5);
    expect(fired).toEqual([1, 2, 3, 4]);
  });

  it('a cleared timer never fires, even when cleared by an earlier timer of the same advance', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const cleared = clock.setTimeout(() => fired.push('cleared'), 5);
    const later = clock.setTimeout(() => fired.push('later'), 20);
    clock.setTimeout(() => {
      fired.push('first');
      clock.clearTimeout(later);
    }, 10);
    clock.clearTimeout(cleared);
    clock.advance(100);
    expect(fired).toEqual(['first']);
    expect(clock.pending).toBe(0);
  });

  it('fires timers set while firing when they fall due within the same advance, after those already due', () => {
    const clock = new ManualClock(0);
    const fired: [string, number][] = [];
    clock.setTimeout(() => {
      fired.push(['outer', clock.now()]);
      clock.setTimeout(() => fired.push(['inner0', clock.now()]), 0);
      clock.setTimeout(() => fired.push(['inner5', clock.now()]), 5);
      clock.setTimeout(() => fired.push(['inner50', clock.now()]), 50);
    }, 10);
    clock.setTimeout(() => fired.push(['sibling', clock.now()]), 10);
    clock.advance(20);
    expect(fired).toEqual([
      ['outer', 10],
      ['sibling', 10],
      ['inner0', 10],
      ['inner5', 15],
    ]);
    clock.advance(40);
    expect(fired.at(-1)).toEqual(['inner50', 60]);
  });

  it('a timer with a negative or non-numeric delay fires at the next advance, like setTimeout', () => {
    const clock = new ManualClock(100);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), -5);
    clock.setTimeout(() => fired.push(clock.now()), Number.NaN);
    clock.advance(0);
    expect(fired).toEqual([100, 100]);
    expect(clock.now()).toBe(100);
  });

  it('never goes backwards', () => {
    const clock = new ManualClock(100);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(clock.now()).toBe(100);
  });
});

describe('systemClock', () => {
  it('reads the real time and fires a real timer; a cleared one never fires', async () => {
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(50);
    let cleared = false;
    const handle = systemClock.setTimeout(() => (cleared = true), 1);
    systemClock.clearTimeout(handle);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    expect(cleared).toBe(false);
  });
});

/** Lets the promise chains that do not wait on the clock run to their end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('repeatEvery', () => {
  it('runs a task each interval after the last run ended, survives a failure, and stops after the run under way', async () => {
    const clock = new ManualClock(0);
    const starts: number[] = [];
    const errors: unknown[] = [];
    let finish: () => void = () => undefined;
    const loop = repeatEvery(
      clock,
      1000,
      () => {
        starts.push(clock.now());
        if (starts.length === 2) return Promise.reject(new Error('boom'));
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      (error) => errors.push(error),
    );
    clock.advance(1000);
    expect(starts).toEqual([1000]);
    clock.advance(5000); // the first run has not ended: no second one starts
    expect(starts).toEqual([1000]);
    finish();
    await settle();
    clock.advance(1000);
    expect(starts).toEqual([1000, 7000]);
    await settle();
    expect(errors).toEqual([new Error('boom')]);
    clock.advance(1000);
    expect(starts).toEqual([1000, 7000, 8000]);
    const stopped = loop.stop();
    finish();
    await stopped;
    clock.advance(10_000);
    expect(starts).toHaveLength(3);
  });
});
