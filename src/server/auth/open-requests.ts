/**
 * The requests in flight per credential, so revoking a token, ending a session or disabling a
 * user ends its open event streams at once instead of at their next reconnect. In-process: each
 * server ends its own streams.
 */
import type { IncomingMessage } from 'node:http';

export class OpenRequests {
  readonly #byCredential = new Map<string, Set<IncomingMessage>>();

  /** Remembers `raw` under `credential` (a token id) until it closes. */
  track(credential: string, raw: IncomingMessage): void {
    let set = this.#byCredential.get(credential);
    if (!set) {
      set = new Set();
      this.#byCredential.set(credential, set);
    }
    set.add(raw);
    raw.once('close', () => {
      set.delete(raw);
      if (set.size === 0 && this.#byCredential.get(credential) === set) this.#byCredential.delete(credential);
    });
  }

  /** Ends every request made with these credentials but `except` (the request asking, as sign-out does); returns how many were open. */
  end(credentials: readonly string[], except?: IncomingMessage): number {
    let ended = 0;
    for (const credential of credentials) {
      const set = this.#byCredential.get(credential);
      if (!set) continue;
      for (const raw of set) {
        if (raw === except) continue;
        set.delete(raw);
        raw.socket?.destroy();
        ended += 1;
      }
      if (set.size === 0) this.#byCredential.delete(credential);
    }
    return ended;
  }
}
