/**
 * Group commit for the SQLite store: commits are made durable by one fdatasync of the WAL for
 * all the commits made since the last one.
 *
 * Why: with `synchronous=FULL`, SQLite fsyncs the WAL inside every COMMIT (0.3–4 ms, depending on
 * the disk and the day), one commit after the other even when callers wait in line for the
 * database (docs/decisions/0050). The database runs with `synchronous=NORMAL` instead (commits
 * are written to the WAL; SQLite syncs it around checkpoints), and no caller is answered before a
 * sync has covered every commit made up to the end of its statement or transaction: what FULL
 * promised, a resolved write survives power loss, is kept.
 *
 * Who syncs: a caller done with the database while others wait for it leaves the sync to them,
 * and the last one in line syncs for all. So does one that finds `MAX_WAITING` callers already
 * waiting (a line that never ends), and a timer `MAX_WAIT_MS` after the first caller began to
 * wait (a line held up: a transaction waiting for something else must not hold back the answers
 * of the callers done before it). The sync runs on the event loop,
 * as FULL's did: on libuv's thread pool it cost a lone writer more than it saved, and it could
 * wait there behind slow file-system work.
 */
import { closeSync, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { GantryError } from '../core/errors.ts';

/** The WAL could not be synced: the last commits may not survive a power failure. Sticky: the store refuses every call after it. */
export class StoreNotDurableError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('STORE_NOT_DURABLE', message, details);
  }
}

/** Makes every write to the WAL that finished before the call durable; throws when it cannot. */
export type WalSync = () => void;

/** Callers left waiting for one sync at most: the next caller done syncs for them all. */
export const MAX_WAITING = 64;
/** The longest a caller waits for the line to move on before the sync is made for it anyway. */
export const MAX_WAIT_MS = 5;

export class GroupCommit {
  readonly #sync: WalSync;
  /** Commits counted so far, and how many of them the last sync covered. */
  #committed = 0;
  #durable = 0;
  #waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #deadline: NodeJS.Timeout | null = null;
  #failure: StoreNotDurableError | null = null;

  constructor(sync: WalSync) {
    this.#sync = sync;
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
   * Resolves once every commit counted before the call is durable. `othersInLine`: another caller
   * holds or waits for the database, and syncs after its own work (or leaves it to the next).
   */
  async durable(othersInLine = false): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#durable >= this.#committed) return;
    if (othersInLine && this.#waiting.length < MAX_WAITING) {
      this.#deadline ??= setTimeout(() => {
        this.#deadline = null;
        try {
          if (this.#waiting.length > 0) this.#syncAll();
        } catch {
          // Handed to the waiting callers already.
        }
      }, MAX_WAIT_MS);
      return new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    }
    this.#syncAll();
  }

  /** Syncs now for every commit so far, and answers everyone waiting (their commits came before). */
  #syncAll(): void {
    const covered = this.#committed;
    const waiting = this.#waiting;
    this.#waiting = [];
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    this.#deadline = null;
    try {
      this.#sync();
    } catch (err) {
      // Linux reports a failed writeback once: a later fdatasync may "succeed" with the pages
      // lost (PostgreSQL's fsyncgate). Nothing written since can be called durable.
      this.#failure = new StoreNotDurableError(
        `the database's write-ahead log could not be synced to disk (${(err as Error).message}); the last writes may not survive a power failure: check the disk, then restart Gantry`,
      );
      for (const w of waiting) w.reject(this.#failure);
      throw this.#failure;
    }
    this.#durable = covered;
    for (const w of waiting) w.resolve();
  }
}

/**
 * The sync of a database file in WAL mode: fdatasync of `<path>-wal`, opened on first use (a
 * commit has created it by then). Opening it also fsyncs the directory, which makes the WAL
 * file's own entry durable, as SQLite does for a WAL it creates under synchronous=FULL.
 */
export function walSync(databasePath: string): { sync: WalSync; close(): void } {
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
    sync: () => fdatasyncSync(wal()),
    close: () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
