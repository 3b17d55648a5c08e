/**
 * Identifiers for runs, projects, tokens… ULID-shaped: 26 Crockford base32 characters, 10 of
 * milliseconds then 16 of randomness. Sorting ids as strings sorts them by creation time, which
 * lets stores order "newest first" without a second column, and ids made by one generator are
 * strictly increasing even within one millisecond. Uses Web Crypto (a global), so core stays
 * free of `node:*` imports.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** The randomness is kept as two 40-bit halves: each fits a double exactly and is 8 characters. */
const HALF = 2 ** 40;
const MAX_TIME = 2 ** 48 - 1;

export interface IdGeneratorOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Fills the array with random bytes; injectable for tests. */
  random?: (bytes: Uint8Array<ArrayBuffer>) => void;
}

/** Makes an independent monotonic generator (tests use it with a fixed clock). */
export function createIdGenerator(options: IdGeneratorOptions = {}): () => string {
  const now = options.now ?? Date.now;
  const random =
    options.random ??
    ((bytes: Uint8Array<ArrayBuffer>) => {
      globalThis.crypto.getRandomValues(bytes);
    });
  let lastTime = -1;
  let hi = 0;
  let lo = 0;
  return () => {
    // A clock that steps back must not make ids go back: keep using the last time seen.
    const time = Math.max(Math.floor(now()), lastTime);
    if (time > MAX_TIME) throw new RangeError(`time ${time} does not fit in a 48-bit id`);
    if (time === lastTime) {
      lo += 1;
      if (lo === HALF) {
        lo = 0;
        hi += 1;
      }
      // All 80 bits used up in this millisecond: borrow the next one rather than wrap around.
      if (hi === HALF) {
        hi = 0;
        lo = 0;
        lastTime = time + 1;
      }
    } else {
      const bytes = new Uint8Array(10);
      random(bytes);
      hi = readUint40(bytes, 0);
      lo = readUint40(bytes, 5);
      lastTime = time;
    }
    return encode(lastTime, 10) + encode(hi, 8) + encode(lo, 8);
  };
}

/** A new time-sortable id, strictly greater than any id this process made before. */
export const newId: () => string = createIdGenerator();

function readUint40(bytes: Uint8Array, offset: number): number {
  let value = 0;
  for (let i = offset; i < offset + 5; i++) value = value * 256 + (bytes[i] ?? 0);
  return value;
}

function encode(value: number, length: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}
