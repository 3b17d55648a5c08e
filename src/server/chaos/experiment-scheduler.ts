/**
 * Starts scheduled experiments (`schedule:` in an experiment: a cron, a window, a time zone, and
 * `every` for the monkey mode) when their slots come (src/chaos/schedule.ts), looking every
 * SCHEDULE_CHECK_MS. A start goes through ChaosService.run like one by hand, so the guard is
 * checked and the run recorded; one that cannot start yet (the environment busy with another
 * experiment, or not running: ConflictError) is tried again at each look until its window closes.
 * A slot whose window is still open when the server starts is started then, unless the event log
 * shows a scheduled start of it (a server restarted mid-window, or down at the slot, still holds
 * that day's game day); slots of windows already closed are not replayed.
 */
import { dueSlot } from '../../chaos/index.ts';
import type { Clock } from '../../core/clock.ts';
import { type Repeating, repeatEvery } from '../../core/clock.ts';
import { ConflictError } from '../../core/errors.ts';
import type { Project } from '../../store/ports.ts';
import type { DeclaredExperiment } from './chaos-service.ts';

/** How often the schedules are looked at: a slot starts at most this late. */
export const SCHEDULE_CHECK_MS = 15_000;

/** Who a scheduled start is recorded as. */
export const SCHEDULE_ACTOR = 'schedule';

export interface ExperimentSchedulerDeps {
  clock: Clock;
  projects(): Promise<Project[]>;
  declared(project: Project): Promise<DeclaredExperiment[]>;
  run(project: Project, name: string, o: { environment: string; actor: string }): Promise<unknown>;
  /** When the schedule last started this experiment (from the event log), null when never; absent: slots before the start are skipped. */
  lastScheduledStart?(project: Project, d: DeclaredExperiment): Promise<number | null>;
  warn(message: string, data: Record<string, unknown>): void;
}

export class ExperimentScheduler {
  readonly #deps: ExperimentSchedulerDeps;
  /** The last slot started (or given up) per project/environment/experiment. */
  readonly #last = new Map<string, number>();
  #since = 0;
  #loop: Repeating | null = null;

  constructor(deps: ExperimentSchedulerDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#since = this.#deps.clock.now();
    this.#loop = repeatEvery(
      this.#deps.clock,
      SCHEDULE_CHECK_MS,
      () => this.check(),
      (error) => this.#deps.warn('checking experiment schedules failed', { err: error }),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    this.#loop = null;
  }

  /** The slot last started (or given up), read from the event log the first time an experiment is seen. */
  async #lastStart(key: string, project: Project, d: DeclaredExperiment): Promise<number> {
    const known = this.#last.get(key);
    if (known !== undefined) return known;
    if (this.#deps.lastScheduledStart === undefined) return this.#since;
    const recorded = (await this.#deps.lastScheduledStart(project, d)) ?? Number.NEGATIVE_INFINITY;
    this.#last.set(key, recorded);
    return recorded;
  }

  /** One look: starts every experiment with a due slot. */
  async check(): Promise<void> {
    const now = this.#deps.clock.now();
    for (const project of await this.#deps.projects()) {
      for (const d of await this.#deps.declared(project)) {
        const schedule = d.config.schedule;
        if (schedule === undefined) continue;
        const key = `${project.id}/${d.environment}/${d.name}`;
        const slot = dueSlot(schedule, await this.#lastStart(key, project, d), now);
        if (slot === null) continue;
        try {
          await this.#deps.run(project, d.name, { environment: d.environment, actor: SCHEDULE_ACTOR });
          this.#last.set(key, slot);
        } catch (error) {
          // Busy or not running: try again at the next look while the window is open.
          if (error instanceof ConflictError) continue;
          this.#last.set(key, slot);
          this.#deps.warn('a scheduled experiment could not start', { experiment: d.name, environment: d.environment, err: error });
        }
      }
    }
  }
}
