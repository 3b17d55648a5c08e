/**
 * Time as Gantry reads it: every service takes a `Clock` instead of calling `Date.now()` or
 * `setTimeout` itself, so tests move time with a `ManualClock` instead of sleeping.
 *
 * Contract: `now()` is milliseconds since the epoch and never goes backwards within one clock;
 * a timer fires once, at or after `now() + ms`, in the order timers fall due (ties: the order
 * they were set); a cleared timer never fires.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque: whatever the clock needs to find the timer again. */
export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

/** The real clock. Its timers do not keep the process alive (a server stops on its own close()). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    (timer as { unref?: () => void }).unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface ManualTimer {
  id: number;
  due: number;
  callback: () => void;
}

/** A clock for tests: time stands still until `advance()` moves it, firing what falls due on the way. */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    // Like setTimeout: a negative or non-numeric delay means "at once" (NaN would poison `now`).
    const delay = Number.isFinite(ms) ? Math.max(0, ms) : 0;
    const timer = { id: this.#nextId++, due: this.#now + delay, callback };
    this.#timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing each timer at its due time, in order (timers set while firing count too). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock never goes backwards: advance(${ms})`);
    const end = this.#now + ms;
    for (;;) {
      const next = this.#timers.reduce<ManualTimer | null>(
        (a, t) => (a === null || t.due < a.due || (t.due === a.due && t.id < a.id) ? t : a),
        null,
      );
      if (!next || next.due > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.due;
      next.callback();
    }
    this.#now = end;
  }
}

/** A background loop started by `repeatEvery`. */
export interface Repeating {
  /** No run starts after this; resolves once a run under way has ended. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs` on `clock`, each run starting `intervalMs` after the previous
 * one ended, so runs never overlap however slow one is. A failed run goes to `onError` and the
 * loop carries on: background work (SLO evaluation, notifications, incidents) must not die.
 */
export function repeatEvery(clock: Clock, intervalMs: number, task: () => Promise<void>, onError: (error: unknown) => void): Repeating {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: TimerHandle | undefined;
  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      running = task().catch(onError).finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      await running;
    },
  };
}
