/**
 * A FIFO pool of executor slots shared by every run of a process: the global "parallel jobs"
 * limit. Waiters are served in arrival order so an early run is not starved by later ones.
 */
export class SlotPool {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`slot limit must be a positive integer, got ${limit}`);
    this.#free = limit;
  }

  /** Resolves with a release function once a slot is free. Release is idempotent. */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
