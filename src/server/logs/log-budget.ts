/**
 * Each environment's service logs stay within a size and an age budget. Past either, whole
 * segments are deleted, oldest content first (the file being written by a live instance never
 * is: its writer would go on into a deleted file). Every drop is said twice, never silent: a
 * system line in the environment's `drops.log` (searched, followed and shown with the other
 * lines, at the time of the drop) and a `service-logs.dropped` event in the event log.
 */
import { appendFile, readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { logLinePrefix } from '../../core/log-line.ts';
import { DROPS_LOG, environmentLogDir, listSegments, loggedEnvironments, type Segment } from './log-segments.ts';

export interface LogBudget {
  /** Most bytes of logs kept per environment. */
  maxBytes: number;
  /** Lines older than this go (by whole segments), ms. */
  maxAgeMs: number;
}

export interface LogDrop {
  projectId: string;
  environment: string;
  bytes: number;
  files: number;
  /** The time span the deleted segments covered (ISO). */
  from: string;
  to: string;
  reason: 'size' | 'age';
}

/** The start of the environment's system line that records a drop. */
export const LOGS_DROPPED_MARKER = '[gantry] logs dropped:';

export const SERVICE_LOGS_DROPPED_EVENT = 'service-logs.dropped';

/** Deletes what is over the budget in one environment; null when it was within. */
export async function enforceLogBudget(
  dataDir: string,
  at: { projectId: string; environment: string },
  budget: LogBudget,
  now: number,
  isLive: (instance: string) => boolean,
): Promise<LogDrop | null> {
  const envDir = environmentLogDir(dataDir, at.projectId, at.environment);
  const segments = (await listSegments(envDir)).filter((s) => s.file !== join(envDir, DROPS_LOG));
  let total = segments.reduce((sum, s) => sum + s.size, 0);
  const deletable = segments.filter((s) => Number.isFinite(s.n) || !isLive(s.instance)).sort((a, b) => a.lastMs - b.lastMs);
  const dropped: Segment[] = [];
  let reason: LogDrop['reason'] = 'age';
  for (const segment of deletable) {
    const tooOld = segment.lastMs < now - budget.maxAgeMs;
    if (!tooOld && total <= budget.maxBytes) break;
    if (!tooOld) reason = 'size';
    await rm(segment.file, { force: true });
    total -= segment.size;
    dropped.push(segment);
  }
  if (dropped.length === 0) return null;
  for (const dir of new Set(dropped.map((s) => dirname(s.file)))) await removeIfEmpty(dir);
  const drop: LogDrop = {
    ...at,
    bytes: dropped.reduce((sum, s) => sum + s.size, 0),
    files: dropped.length,
    from: new Date(Math.min(...dropped.map((s) => s.firstMs))).toISOString(),
    to: new Date(Math.max(...dropped.map((s) => s.lastMs))).toISOString(),
    reason,
  };
  const limit =
    reason === 'size' ? `over the size budget of ${budget.maxBytes} bytes` : `older than ${Math.round(budget.maxAgeMs / 3_600_000)} h`;
  await appendFile(
    join(envDir, DROPS_LOG),
    `${logLinePrefix(new Date(now).toISOString(), 's')}${LOGS_DROPPED_MARKER} ${drop.bytes} bytes in ${drop.files} files, lines from ${drop.from} to ${drop.to} (${limit})\n`,
    { mode: 0o600 },
  );
  return drop;
}

/** Removes an instance dir left empty, then its release dir if that is empty too. */
async function removeIfEmpty(dir: string): Promise<void> {
  for (const d of [dir, dirname(dir)]) {
    if ((await readdir(d).catch(() => ['?'])).length > 0) return;
    await rmdir(d).catch(() => undefined);
  }
}

export interface LogBudgetKeeperDeps {
  dataDir: string;
  /** The server's budget: each environment's unless it has its own. */
  budget: LogBudget;
  /** An environment's own budget (its gantry.yaml `logs:`), parts it leaves out taken from `budget`. */
  budgetOf?(at: { projectId: string; environment: string }): Promise<Partial<LogBudget>>;
  clock: Clock;
  /** Whether an instance is supervised now (its current file is being written). */
  isLive(instance: string): boolean;
  /** Records a drop (the composition root appends the event). */
  onDrop(drop: LogDrop): Promise<void>;
  /** A pass that failed (a disk error): logged, the next pass retries. */
  onError(error: unknown): void;
  /** Between passes, ms. Default 30 s. */
  intervalMs?: number;
}

/** Enforces the budget of every environment every `intervalMs`, one pass at a time. */
export class LogBudgetKeeper {
  readonly #deps: LogBudgetKeeperDeps;
  #timer: TimerHandle | null = null;
  #pass: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: LogBudgetKeeperDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#schedule();
  }

  /** One pass over every environment now (also what the timer runs). */
  enforce(): Promise<void> {
    this.#pass = this.#pass.then(() => this.#enforceAll());
    return this.#pass;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) this.#deps.clock.clearTimeout(this.#timer);
    await this.#pass;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#deps.clock.setTimeout(() => {
      void this.enforce().finally(() => this.#schedule());
    }, this.#deps.intervalMs ?? 30_000);
  }

  async #enforceAll(): Promise<void> {
    const { dataDir, budget, clock } = this.#deps;
    try {
      for (const at of await loggedEnvironments(dataDir)) {
        const own = (await this.#deps.budgetOf?.(at)) ?? {};
        const drop = await enforceLogBudget(dataDir, at, { ...budget, ...own }, clock.now(), (i) => this.#deps.isLive(i));
        if (drop) await this.#deps.onDrop(drop);
      }
    } catch (error) {
      this.#deps.onError(error);
    }
  }
}
