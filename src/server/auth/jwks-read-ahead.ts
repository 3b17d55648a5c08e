/**
 * The provider's key set, read while the person is still at the provider's form. openid-client
 * keeps a JWKS for five minutes and then fetches it again in the middle of the callback, so most
 * sign-ins of a real server (minutes apart) waited for one more request to the provider between
 * the code exchange and the session. A sign-in's start reads it ahead (when the copy held will
 * be stale by then); the callback's fetch of that URL is answered from the read-ahead, once, and
 * only while it is younger than READ_AHEAD_MAX_AGE_MS, so keys the provider rotates are seen as
 * soon as without it. Every other request goes to the network unchanged.
 */
import type { CustomFetch } from 'openid-client';

/** How long a key set read ahead may stand in for a fresh one: a person's time at the form. */
export const READ_AHEAD_MAX_AGE_MS = 120_000;

interface ReadAhead {
  url: string;
  at: number;
  answer: Promise<{ status: number; headers: Headers; body: ArrayBuffer } | null>;
}

export class JwksReadAhead {
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  #held: ReadAhead | null = null;

  constructor(o: { fetch?: typeof fetch; now?: () => number } = {}) {
    this.#fetch = o.fetch ?? fetch;
    this.#now = o.now ?? Date.now;
  }

  /** Reads `url` now; a failure is forgotten (the callback then fetches it as it would have). */
  start(url: string, timeoutMs: number): void {
    const answer = this.#fetch(url, {
      headers: { accept: 'application/json, application/jwk-set+json' },
      signal: AbortSignal.timeout(timeoutMs),
    }).then(
      async (response) =>
        response.status === 200 ? { status: response.status, headers: response.headers, body: await response.arrayBuffer() } : null,
      () => null,
    );
    this.#held = { url, at: this.#now(), answer };
  }

  /** openid-client's fetch: the read-ahead for its URL (once), the network for everything else. */
  readonly fetch: CustomFetch = async (url, options) => {
    const held = this.#held;
    if (held !== null && held.url === url && options.method === 'GET') {
      this.#held = null;
      const answer = this.#now() - held.at < READ_AHEAD_MAX_AGE_MS ? await held.answer : null;
      if (answer !== null) return new Response(answer.body, { status: answer.status, headers: answer.headers });
    }
    return this.#fetch(url, options as RequestInit);
  };
}
