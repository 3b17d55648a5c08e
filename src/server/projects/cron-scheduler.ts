/**
 * Schedule triggers (`on.schedule` in gantry.yaml): one croner job per project and cron string,
 * firing a callback that the server turns into a run.
 */
import { Cron } from 'croner';
import { InputError } from '../../core/errors.ts';

/** Every schedule is read in UTC, whatever the server's local timezone, so a config means the same everywhere. */
const TIMEZONE = 'UTC';

function createJob(schedule: string, fn?: (job: Cron) => void): Cron {
  const options = { timezone: TIMEZONE, mode: '5-or-6-parts' as const, unref: true };
  return fn ? new Cron(schedule, options, fn) : new Cron(schedule, options);
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
  readonly #jobs = new Map<string, Map<string, Cron>>();

  constructor(
    onFire: (projectId: string, schedule: string, at: Date) => void,
    onError?: (e: unknown, projectId: string, schedule: string) => void,
  ) {
    this.#onFire = onFire;
    this.#onError = onError ?? (() => {});
  }

  /**
   * Replaces the project's schedules. All are validated first (InputError naming the bad one),
   * so a bad config leaves the current schedules running. Unchanged schedules keep their job,
   * so re-applying the same config cannot skip or double a fire.
   */
  set(projectId: string, schedules: string[]): void {
    const wanted = [...new Set(schedules.map((s) => s.trim()))];
    for (const schedule of wanted) {
      try {
        createJob(schedule).stop();
      } catch (e) {
        throw new InputError(`invalid cron schedule ${JSON.stringify(schedule)}: ${(e as Error).message}`, { projectId, schedule });
      }
    }
    const current = this.#jobs.get(projectId) ?? new Map<string, Cron>();
    for (const [schedule, job] of current) {
      if (wanted.includes(schedule)) continue;
      job.stop();
      current.delete(schedule);
    }
    for (const schedule of wanted) {
      if (!current.has(schedule))
        current.set(
          schedule,
          createJob(schedule, (job) => this.#fire(projectId, schedule, job)),
        );
    }
    if (current.size === 0) this.#jobs.delete(projectId);
    else this.#jobs.set(projectId, current);
  }

  /** Stops all of the project's schedules (project deleted or schedules removed from its config). */
  remove(projectId: string): void {
    for (const job of this.#jobs.get(projectId)?.values() ?? []) job.stop();
    this.#jobs.delete(projectId);
  }

  /** The next fire time of each of the project's schedules, soonest first (for the dashboard). */
  next(projectId: string): { schedule: string; at: Date }[] {
    const upcoming: { schedule: string; at: Date }[] = [];
    for (const [schedule, job] of this.#jobs.get(projectId) ?? []) {
      const at = job.nextRun();
      if (at) upcoming.push({ schedule, at });
    }
    return upcoming.sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  /** Stops every schedule (server shutdown). */
  stop(): void {
    for (const projectId of [...this.#jobs.keys()]) this.remove(projectId);
  }

  #fire(projectId: string, schedule: string, job: Cron): void {
    // croner calls us a few ms after the scheduled second; report the scheduled time itself.
    const now = Date.now();
    const at = job.previousRuns(1, new Date(now + 1))[0] ?? new Date(now);
    try {
      this.#onFire(projectId, schedule, at);
    } catch (e) {
      try {
        this.#onError(e, projectId, schedule);
      } catch {
        // An error handler that throws must not stop the other schedules.
      }
    }
  }
}
