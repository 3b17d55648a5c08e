/**
 * Schedule triggers (`on.schedule` in gantry.yaml): one croner job per project and cron string,
 * firing a callback that the server turns into a run.
 */
import { Cron } from 'croner';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { InputError } from '../../core/errors.ts';

/** Every schedule is read in UTC, whatever the server's local timezone, so a config means the same everywhere. */
const TIMEZONE = 'UTC';

/**
 * Longest single wait: a real timer cannot wait more than ~24.8 days (longer fires at once), and
 * waking each hour to look again keeps a fire on time across a suspended host or a moved clock.
 */
export const MAX_CRON_WAIT_MS = 60 * 60_000;

/** croner as a calculator only (no callback, so no timer of its own): time comes from the Clock. */
function parse(schedule: string): Cron {
  return new Cron(schedule, { timezone: TIMEZONE, mode: '5-or-6-parts' });
}

interface Job {
  cron: Cron;
  /** The fire time waited for; null when the pattern has no future time. */
  due: Date | null;
  timer: TimerHandle | null;
}

/**
 * Cron schedules per project, in UTC, with 5 fields (`m h dom mon dow`) or 6 with seconds first;
 * croner's nicknames (`@daily`…) work too. A fire time missed while the server was down (or while
 * the event loop was blocked past it) is not replayed: the next fire is the next time after
 * now. `onFire` must handle its own errors; one it throws goes to `onError` (if given) and never
 * stops the schedule.
 */
export class CronScheduler {
  readonly #onFire: (projectId: string, schedule: string, at: Date) => void;
  readonly #onError: (e: unknown, projectId: string, schedule: string) => void;
  readonly #clock: Clock;
  readonly #jobs = new Map<string, Map<string, Job>>();

  constructor(o: {
    clock: Clock;
    onFire: (projectId: string, schedule: string, at: Date) => void;
    onError?: (e: unknown, projectId: string, schedule: string) => void;
  }) {
    this.#onFire = o.onFire;
    this.#onError = o.onError ?? (() => {});
    this.#clock = o.clock;
  }

  /**
   * Replaces the project's schedules. All are validated first (InputError naming the bad one),
   * so a bad config leaves the current schedules running. Unchanged schedules keep their job,
   * so re-applying the same config cannot skip or double a fire.
   */
  set(projectId: string, schedules: string[]): void {
    const wanted = [...new Set(schedules.map((s) => s.trim()))];
    const parsed = new Map<string, Cron>();
    for (const schedule of wanted) {
      try {
        parsed.set(schedule, parse(schedule));
      } catch (e) {
        throw new InputError(`invalid cron schedule ${JSON.stringify(schedule)}: ${(e as Error).message}`, { projectId, schedule });
      }
    }
    const current = this.#jobs.get(projectId) ?? new Map<string, Job>();
    for (const [schedule, job] of current) {
      if (wanted.includes(schedule)) continue;
      this.#cancel(job);
      current.delete(schedule);
    }
    for (const [schedule, cron] of parsed) {
      if (current.has(schedule)) continue;
      const job: Job = { cron, due: null, timer: null };
      current.set(schedule, job);
      this.#arm(projectId, schedule, job, cron.nextRun(new Date(this.#clock.now())));
    }
    if (current.size === 0) this.#jobs.delete(projectId);
    else this.#jobs.set(projectId, current);
  }

  /** Stops all of the project's schedules (project deleted or schedules removed from its config). */
  remove(projectId: string): void {
    for (const job of this.#jobs.get(projectId)?.values() ?? []) this.#cancel(job);
    this.#jobs.delete(projectId);
  }

  /** The next fire time of each of the project's schedules, soonest first (for the dashboard). */
  next(projectId: string): { schedule: string; at: Date }[] {
    const upcoming: { schedule: string; at: Date }[] = [];
    for (const [schedule, job] of this.#jobs.get(projectId) ?? []) if (job.due) upcoming.push({ schedule, at: job.due });
    return upcoming.sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  /** Stops every schedule (server shutdown). */
  stop(): void {
    for (const projectId of [...this.#jobs.keys()]) this.remove(projectId);
  }

  /** Waits for `due` (at most MAX_CRON_WAIT_MS at a time). */
  #arm(projectId: string, schedule: string, job: Job, due: Date | null): void {
    job.due = due;
    job.timer = null;
    if (!due) return;
    const wait = Math.min(Math.max(0, due.getTime() - this.#clock.now()), MAX_CRON_WAIT_MS);
    job.timer = this.#clock.setTimeout(() => this.#wake(projectId, schedule, job), wait);
  }

  #cancel(job: Job): void {
    if (job.timer) this.#clock.clearTimeout(job.timer);
    job.timer = null;
    job.due = null;
  }

  #wake(projectId: string, schedule: string, job: Job): void {
    const due = job.due;
    if (!due) return;
    const now = this.#clock.now();
    if (now < due.getTime()) {
      this.#arm(projectId, schedule, job, due); // a wait cut at MAX_CRON_WAIT_MS
      return;
    }
    // Fire once for the time waited for; times missed since (a long pause) are not replayed.
    this.#arm(projectId, schedule, job, job.cron.nextRun(new Date(now)));
    try {
      this.#onFire(projectId, schedule, due);
    } catch (e) {
      try {
        this.#onError(e, projectId, schedule);
      } catch {
        // An error handler that throws must not stop the other schedules.
      }
    }
  }
}
