/**
 * Group commit for the SQLite store: commits are made durable by one fdatasync of the WAL for
 * all the commits made since the last one.
 *
 * Why: with `synchronous=FULL`, SQLite fsyncs the WAL inside every COMMIT, synchronously, on the
 * event loop (`node:sqlite`): 0.3–4 ms per transaction, one after the other even for writes made
 * at the same moment, while the server does nothing else (docs/decisions/0050). The database
 * runs with `synchronous=NORMAL` instead (commits are written to the WAL; SQLite syncs it around
 * checkpoints), and the driver answers no caller before `durable()` has seen every commit made up
 * to the end of its statement or transaction synced: what FULL promised, a resolved write survives
 * power loss, is kept. A caller alone syncs on the loop, as FULL did (a hop to the thread pool
 * costs more than the sync it saves the loop); once others wait, the sync runs on the thread pool
 * and the commits made meanwhile share the next one.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { GantryError } from '../core/errors.ts';

/** The WAL could not be synced: the last commits may not survive a power failure. Sticky: the store refuses every call after it. */
export class StoreNotDurableError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('STORE_NOT_DURABLE', message, details);
  }
}

/** Makes every write to the WAL that finished before the call durable. */
export interface WalSync {
  /** Off the event loop (the thread pool). */
  sync(): Promise<void>;
  /** On the calling thread; absent when only `sync` can be offered. */
  syncNow?(): void;
}

export class GroupCommit {
  readonly #wal: WalSync;
  /** Commits counted so far, and how many of them a finished sync covers. */
  #committed = 0;
  #durable = 0;
  #syncing: Promise<void> | null = null;
  #failure: StoreNotDurableError | null = null;

  constructor(wal: WalSync) {
    this.#wal = wal;
  }

  /** A commit has just been written (not yet synced). */
  committed(): void {
    this.#committed++;
  }

  /** True when a commit counted so far is not known durable yet (or syncing failed). */
  get pending(): boolean {
    return this.#durable < this.#committed || this.#failure !== null;
  }

  /**
   * Resolves once every commit counted before the call is durable: a sync already under way may
   * have started before some of them, so the loop may need the one after it, which then covers
   * every commit made while the first ran. `alone`: no other caller is waiting for the database,
   * so nothing would share a sync or run meanwhile; then it syncs on the loop when it can.
   */
  async durable(alone = false): Promise<void> {
    const target = this.#committed;
    if (alone && this.#syncing === null && this.#failure === null && this.#wal.syncNow !== undefined) {
      try {
        this.#wal.syncNow();
      } catch (err) {
        throw this.#failed(err);
      }
      this.#durable = target;
    }
    while (this.#durable < target) {
      if (this.#failure !== null) throw this.#failure;
      this.#syncing ??= this.#runSync().finally(() => {
        this.#syncing = null;
      });
      await this.#syncing;
    }
    if (this.#failure !== null) throw this.#failure;
  }

  async #runSync(): Promise<void> {
    const covered = this.#committed;
    try {
      await this.#wal.sync();
    } catch (err) {
      throw this.#failed(err);
    }
    this.#durable = covered;
  }

  /** Linux reports a failed writeback once: a later fdatasync may "succeed" with the pages lost (PostgreSQL's fsyncgate). Nothing written since can be called durable. */
  #failed(err: unknown): StoreNotDurableError {
    this.#failure ??= new StoreNotDurableError(
      `the database's write-ahead log could not be synced to disk (${(err as Error).message}); the last writes may not survive a power failure: check the disk, then restart Gantry`,
    );
    return this.#failure;
  }
}

/**
 * The sync of a database file in WAL mode: fdatasync of `<path>-wal`, opened on first use (a
 * commit has created it by then). Opening it also fsyncs the directory, which makes the WAL
 * file's own entry durable, as SQLite does for a WAL it creates under synchronous=FULL.
 */
export function walSync(databasePath: string): Required<WalSync> & { close(): void } {
  let fd: number | null = null;
  const wal = (): number => {
    if (fd === null) {
      const opened = openSync(`${databasePath}-wal`, 'r');
      try {
        const dir = openSync(dirname(databasePath), 'r');
        try {
          fsyncSync(dir);
        } finally {
          closeSync(dir);
        }
      } catch (err) {
        closeSync(opened);
        throw err;
      }
      fd = opened;
    }
    return fd;
  };
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        fdatasync(wal(), (err) => (err ? reject(err) : resolve()));
      }),
    syncNow: () => fdatasyncSync(wal()),
    close: () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
