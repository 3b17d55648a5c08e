/**
 * The loop behind every SSE stream that re-reads the store on a change notification (the
 * decision in ARCHITECTURE.md: notifications carry no payload, so a missed one never leaves a
 * client with stale state).
 */
import type { EventStream } from './event-stream.ts';

export interface RereadOptions {
  /**
   * Registers `onChange` with the notification source (e.g. `LiveHub.subscribe`) and returns
   * the function that unregisters it; called once, at once, and undone when the stream closes.
   */
  subscribe(onChange: () => void): () => void;
  /**
   * Reads the store and sends what changed. Resolving to `true` asks to be called again straight away
   * (it sent one page and more is waiting). It may close the stream (e.g. after an `end` event).
   */
  read(): Promise<unknown>;
  /** A read that threw (the store is busy or closing); the next notification reads again. Default: ignored. */
  onError?(error: unknown): void;
}

export interface Rereader {
  /** What a notification calls; exposed for a caller with a second source of changes. */
  notify(): void;
  /** Resolves once no read is running or owed (never rejects). */
  idle(): Promise<void>;
}

/**
 * Subscribes, then reads once at once and once after every notification, with this contract:
 * - one read at a time: a notification during a read is not lost but coalesced, so any number of
 *   notifications during one read cause exactly one more read, started after it ends;
 * - a read that returns `true` is followed by another at once (paging), notifications or not;
 * - once the stream is closed no read starts, and the subscription is undone;
 * - a read that throws does not end the stream and never escapes as an unhandled rejection; it
 *   goes to `onError`, and the owed read (if any) still runs.
 */
export function rereadOnChange(stream: EventStream, o: RereadOptions): Rereader {
  let running: Promise<void> | null = null;
  let owed = false;

  const loop = async (): Promise<void> => {
    while (owed && !stream.closed) {
      owed = false;
      try {
        if ((await o.read()) === true) owed = true;
      } catch (error) {
        o.onError?.(error);
      }
    }
  };

  const notify = (): void => {
    owed = true;
    if (running || stream.closed) return;
    running = loop().finally(() => {
      running = null;
      // A notification between the loop's last check and here found `running` still set.
      if (owed && !stream.closed) notify();
    });
  };

  const unsubscribe = o.subscribe(notify);
  stream.onClose(unsubscribe);
  notify();
  return {
    notify,
    idle: async () => {
      while (running) await running;
    },
  };
}
