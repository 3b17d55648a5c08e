/**
 * Push triggers for repositories Gantry can only reach by URL (no webhook configured, no local
 * hook possible): poll the branches and tags and report what moved since last time.
 */
import { splitTagBurst } from '../../pipeline/triggers.ts';
import { listPushRefs } from '../repos/index.ts';

const DEFAULT_INTERVAL_MS = 60_000;
/** Delays vary by ±20% so many projects started together do not poll their hosts in lockstep. */
const JITTER = 0.2;
/** The first poll comes soon after start (changes made while the server was down show up quickly) but spread out. */
const MAX_FIRST_DELAY_MS = 5_000;

export interface RepoPollerOptions {
  url: string;
  /** Milliseconds between polls; 0 or less means the default, 60 s. */
  intervalMs: number;
  /** Branches and tags recorded by the last poll (persisted by the caller), or null for a first poll. */
  initialState: Record<string, string> | null;
  /**
   * The initial state holds branches only (recorded by a Gantry that did not poll tags): the
   * first poll records the tags it finds instead of reporting each as new.
   */
  initialStateWithoutTags?: boolean;
  /** Called once per moved or new branch or tag, one at a time. A ref whose onChange throws is retried next poll. */
  onChange(u: { ref: string; before: string | null; after: string }): Promise<void>;
  /** Tags that moved together beyond GitHub's limit (splitTagBurst): recorded as seen, never reported to onChange. */
  onTagBurst?(tags: { ref: string; after: string }[]): Promise<void>;
  /** Called with the new branches and tags after a poll that changed them, so the caller can persist them. */
  onState(state: Record<string, string>): Promise<void>;
  onError(e: Error): void;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Polls a URL repository's branches and tags every intervalMs (default 60 s, jittered), calling
 * onChange for each moved/new one with its before/after (an annotated tag's value is the tag
 * object); the first poll (no initialState) only records the state. State is given in and
 * reported out so the caller persists it (ProjectStore.setState). Delivery is at-least-once: a ref
 * is marked seen only after its onChange resolved, so a crash between the two may trigger it
 * again. Deleted refs are forgotten without a trigger. Errors are reported through onError, never thrown from the timer
 * nor from pollNow; polls never overlap (a pollNow during a poll runs once more after it);
 * stop() waits for a poll in flight.
 */
export class RepoPoller {
  readonly #o: RepoPollerOptions;
  readonly #intervalMs: number;
  #state: Record<string, string> | null;
  #adoptTags: boolean;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #stopped = false;

  constructor(o: RepoPollerOptions) {
    this.#o = o;
    this.#intervalMs = Number.isFinite(o.intervalMs) && o.intervalMs > 0 ? o.intervalMs : DEFAULT_INTERVAL_MS;
    this.#state = o.initialState ? { ...o.initialState } : null;
    this.#adoptTags = o.initialState !== null && o.initialStateWithoutTags === true;
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
    const refs = await listPushRefs(this.#o.url);
    let previous = this.#state;
    if (previous !== null && this.#adoptTags) {
      previous = { ...previous, ...Object.fromEntries(Object.entries(refs).filter(([ref]) => ref.startsWith('refs/tags/'))) };
    }
    if (previous === null) {
      this.#state = { ...refs };
      await this.#o.onState({ ...refs });
      return;
    }
    const next: Record<string, string> = {};
    let changed = this.#adoptTags;
    const moved: { ref: string; before: string | null; after: string }[] = [];
    for (const [ref, after] of Object.entries(refs).sort(([a], [b]) => a.localeCompare(b))) {
      const before = previous[ref] ?? null;
      if (before === after) next[ref] = after;
      else moved.push({ ref, before, after });
    }
    const { kept, burst } = splitTagBurst(moved);
    if (burst.length > 0) {
      try {
        await this.#o.onTagBurst?.(burst);
        for (const { ref, after } of burst) next[ref] = after;
        changed = true;
      } catch (e) {
        for (const { ref, before } of burst) if (before !== null) next[ref] = before;
        this.#report(e);
      }
    }
    for (const { ref, before, after } of kept) {
      try {
        await this.#o.onChange({ ref, before, after });
        next[ref] = after;
        changed = true;
      } catch (e) {
        // Keep the old value (or none) so the next poll offers this change again.
        if (before !== null) next[ref] = before;
        this.#report(e);
      }
    }
    if (Object.keys(previous).some((ref) => !(ref in refs))) changed = true;
    this.#state = next;
    if (changed) await this.#o.onState({ ...next });
    this.#adoptTags = false;
  }
}
