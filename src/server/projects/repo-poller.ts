/**
 * Push triggers for repositories Gantry can only reach by URL (no webhook configured, no local
 * hook possible): poll the branch heads and report what moved since last time.
 */
import { listBranchHeads } from '../repos/index.ts';

const DEFAULT_INTERVAL_MS = 60_000;
/** Delays vary by ±20% so many projects started together do not poll their hosts in lockstep. */
const JITTER = 0.2;
/** The first poll comes soon after start (changes made while the server was down show up quickly) but spread out. */
const MAX_FIRST_DELAY_MS = 5_000;

export interface RepoPollerOptions {
  url: string;
  /** Milliseconds between polls; 0 or less means the default, 60 s. */
  intervalMs: number;
  /** Branch heads recorded by the last poll (persisted by the caller), or null for a first poll. */
  initialState: Record<string, string> | null;
  /** Called once per moved or new branch, one at a time. A branch whose onChange throws is retried next poll. */
  onChange(u: { ref: string; before: string | null; after: string }): Promise<void>;
  /** Called with the new branch heads after a poll that changed them, so the caller can persist them. */
  onState(state: Record<string, string>): Promise<void>;
  onError(e: Error): void;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Polls a URL repository's branch heads every intervalMs (default 60 s, jittered), calling
 * onChange for each moved/new branch with its before/after; the first poll (no initialState) only
 * records the state. State is given in and reported out so the caller persists it
 * (ProjectStore.setState). Delivery is at-least-once: a branch is marked seen only after its
 * onChange resolved, so a crash between the two may trigger it again. Deleted branches are
 * forgotten without a trigger. Errors are reported through onError, never thrown from the timer
 * nor from pollNow; polls never overlap (a pollNow during a poll runs once more after it);
 * stop() waits for a poll in flight.
 */
export class RepoPoller {
  readonly #o: RepoPollerOptions;
  readonly #intervalMs: number;
  #state: Record<string, string> | null;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #stopped = false;

  constructor(o: RepoPollerOptions) {
    this.#o = o;
    this.#intervalMs = Number.isFinite(o.intervalMs) && o.intervalMs > 0 ? o.intervalMs : DEFAULT_INTERVAL_MS;
    this.#state = o.initialState ? { ...o.initialState } : null;
  }

  /** Starts the timer. Calling it twice, or after stop(), does nothing. */
  start(): void {
    if (this.#stopped || this.#timer) return;
    this.#schedule(Math.random() * Math.min(this.#intervalMs, MAX_FIRST_DELAY_MS));
  }

  /** Polls now (e.g. on a "refresh" request). Resolves when done; never rejects. */
  pollNow(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#queued) return this.#queued;
    const inFlight = this.#inFlight;
    if (!inFlight) return this.#run();
    // The poll in flight may have listed the heads before the change the caller knows about.
    this.#queued = inFlight.then(() => {
      this.#queued = null;
      return this.#stopped ? undefined : this.#run();
    });
    return this.#queued;
  }

  /** Stops polling and waits for a poll in flight (and one queued behind it) to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#queued;
    await this.#inFlight;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.pollNow().then(() => {
        const jitter = 1 - JITTER + Math.random() * 2 * JITTER;
        if (!this.#timer) this.#schedule(this.#intervalMs * jitter);
      });
    }, delayMs);
    // A poller alone must not keep a CLI or a test process alive.
    this.#timer.unref();
  }

  #run(): Promise<void> {
    const run = this.#poll()
      .catch((e: unknown) => this.#report(e))
      .finally(() => {
        this.#inFlight = null;
      });
    this.#inFlight = run;
    return run;
  }

  #report(e: unknown): void {
    try {
      this.#o.onError(asError(e));
    } catch {
      // An error handler that throws must not break the timer chain.
    }
  }

  async #poll(): Promise<void> {
    const heads = await listBranchHeads(this.#o.url);
    const previous = this.#state;
    if (previous === null) {
      this.#state = { ...heads };
      await this.#o.onState({ ...heads });
      return;
    }
    const next: Record<string, string> = {};
    let changed = false;
    for (const [ref, after] of Object.entries(heads).sort(([a], [b]) => a.localeCompare(b))) {
      const before = previous[ref] ?? null;
      if (before === after) {
        next[ref] = after;
        continue;
      }
      try {
        await this.#o.onChange({ ref, before, after });
        next[ref] = after;
        changed = true;
      } catch (e) {
        // Keep the old head (or none) so the next poll offers this change again.
        if (before !== null) next[ref] = before;
        this.#report(e);
      }
    }
    if (Object.keys(previous).some((ref) => !(ref in heads))) changed = true;
    this.#state = next;
    if (changed) await this.#o.onState({ ...next });
  }
}
