/**
 * Holds one lease for this server: claims it every `ttlMs / 5` (taking it when free or expired,
 * renewing it while held), feeds each answer and the passing time to the pure reducer of
 * src/leases, and carries out its commands — `onAcquired` once when the lease is won, `onLost`
 * once when it is lost (no renewal granted by the local deadline, a refusal, or another token).
 * Lost is final: the owner of the loops stops and goes away rather than race a new owner.
 *
 * Claims never overlap (one in flight at a time); the deadline is checked on its own timer, so a
 * claim hanging on an unreachable database still loses the lease in time. `stop()` releases a
 * held lease, so another server takes over at its next claim instead of after the expiry.
 */
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { initialLeaseHolder, type LeaseHolderEvent, type LeaseHolderState, reduceLeaseHolder } from '../../leases/index.ts';
import type { LeaseStore } from '../../store/ports.ts';

export interface LeaseKeeperDeps {
  leases: LeaseStore;
  clock: Clock;
  /** The lease's name (one per group of work). */
  name: string;
  /** This server, unique among the servers (host, pid and a random part). */
  holder: string;
  holderUrl: string;
  ttlMs: number;
  /** Starts what the lease guards; called once, when the lease is first won. */
  onAcquired(token: number): Promise<void>;
  /** The lease is gone while this server lived: stop what it guards. Called at most once. */
  onLost(): void;
  /**
   * Whether the lease is lost once its local deadline passes without a granted renewal (default).
   * False for a lease whose holder's writes are all fenced by its token: then it is lost only when
   * a claim is refused or answered with another token — someone really took it — so a holder
   * stalled by load but taken over by nobody carries on.
   */
  loseAtDeadline?: boolean;
  warn(message: string, data: Record<string, unknown>): void;
}

const LOG = {
  claimFailed: 'claiming the lease failed',
  acquireFailed: 'starting the work of a won lease failed',
} as const;

export class LeaseKeeper {
  readonly #deps: LeaseKeeperDeps;
  #state: LeaseHolderState = initialLeaseHolder;
  #timer: TimerHandle | null = null;
  #claiming: Promise<void> | null = null;
  #stopped = false;
  #acquired: Promise<void> = Promise.resolve();

  constructor(deps: LeaseKeeperDeps) {
    this.#deps = deps;
  }

  get intervalMs(): number {
    return Math.max(50, Math.floor(this.#deps.ttlMs / 5));
  }

  /** `following`, `owning` or `lost`. */
  get phase(): LeaseHolderState['phase'] {
    return this.#state.phase;
  }

  /**
   * Claims at once and waits for the answer (and for `onAcquired` when it is granted, so a
   * server alone on its store starts as before), then claims on every interval until stopped or lost.
   */
  async start(): Promise<void> {
    this.#tick();
    await this.#claiming;
    await this.#acquired;
  }

  /** Resolves once the claim in flight (if any) was answered and acted on. */
  async settled(): Promise<void> {
    await this.#claiming;
    await this.#acquired;
  }

  /** Stops claiming; waits for what `onAcquired` started; releases a lease still held. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#claiming;
    await this.#acquired;
    if (this.#state.phase === 'owning')
      await this.#deps.leases.release(this.#deps.name, this.#deps.holder, this.#state.token).catch(() => undefined);
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#passTime();
    if (this.#state.phase === 'lost') return;
    this.#claiming ??= this.#claim().finally(() => {
      this.#claiming = null;
    });
    this.#timer = this.#deps.clock.setTimeout(() => this.#tick(), this.intervalMs);
  }

  async #claim(): Promise<void> {
    const { leases, clock, name, holder, holderUrl, ttlMs } = this.#deps;
    const sentAtMs = clock.now();
    let event: LeaseHolderEvent;
    try {
      const outcome = await leases.claim({ name, holder, holderUrl, nowMs: sentAtMs, ttlMs });
      event = outcome.granted ? { type: 'granted', token: outcome.lease.token, sentAtMs } : { type: 'refused' };
    } catch (error) {
      this.#deps.warn(LOG.claimFailed, { lease: name, err: error });
      event = { type: 'failed' };
    }
    if (this.#stopped) return;
    this.#apply(event);
    this.#passTime();
  }

  #passTime(): void {
    if (this.#deps.loseAtDeadline === false) return;
    this.#apply({ type: 'tick', nowMs: this.#deps.clock.now() });
  }

  #apply(event: LeaseHolderEvent): void {
    const step = reduceLeaseHolder(this.#state, event, { ttlMs: this.#deps.ttlMs, marginMs: this.#deps.ttlMs / 5 });
    this.#state = step.state;
    for (const command of step.commands) {
      if (command === 'start-owning' && this.#state.phase === 'owning') {
        this.#acquired = this.#deps.onAcquired(this.#state.token).catch((error: unknown) => {
          this.#deps.warn(LOG.acquireFailed, { lease: this.#deps.name, err: error });
        });
      }
      if (command === 'stop-owning') {
        if (this.#timer !== null) this.#deps.clock.clearTimeout(this.#timer);
        this.#timer = null;
        this.#deps.onLost();
      }
    }
  }
}
