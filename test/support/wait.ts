/**
 * Waiting in tests: poll a condition until it holds, never sleep a fixed time. A test that must
 * prove something did NOT happen waits for a later thing that must happen after it, then looks.
 */

const FIRST_POLL_MS = 25;
const LAST_POLL_MS = 100;

/** How long to wait and what for (the name goes into the timeout error). */
export interface WaitOptions {
  /** Named in the timeout error: "timed out after 20000 ms waiting for <what>". */
  what: string;
  /** Default 20 s: generous, since a loaded 2-core machine is slow, and a pass returns at once. */
  timeoutMs?: number;
  /**
   * Between polls. Default: 25 ms, growing by half each poll up to 100 ms, so a condition that
   * holds soon is seen at once while a long wait (a canary, an SLO window, a lease) does not ask
   * a server 40 times a second for its whole length.
   */
  intervalMs?: number;
}

/**
 * Polls `condition` (sync or async) until it returns a truthy value, and returns that value.
 * A condition that throws counts as "not yet" (e.g. a server still starting); the last error is
 * named in the timeout error.
 */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | 0 | '' | Promise<T | undefined | null | false | 0 | ''>,
  { what, timeoutMs = 20_000, intervalMs }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let pause = intervalMs ?? FIRST_POLL_MS;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const cause = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    if (intervalMs === undefined) pause = Math.min(pause * 1.5, LAST_POLL_MS);
  }
}

/**
 * Resolves once every timer of this process set (before this call) to fire within `ms` has
 * fired — or would have, had it not been cancelled. For tests that prove a scheduled thing did
 * NOT happen (a cancelled restart): no guess at how long is "long enough" on a loaded machine,
 * since Node runs timers in the order of their deadlines, and this one's deadline is later than
 * any such timer's (it is set later, for longer), however late the event loop runs.
 */
export function afterTimersDue(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms + 1));
}
