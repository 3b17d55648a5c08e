/**
 * The secret values a long-running process knows, for masking its own logs with the job-log
 * masker (the same forms: value, base64, URL-encoded, lines of multi-line secrets).
 *
 * The server adds values as it learns them (the admin token at start, a project's secrets when
 * they are decrypted for a run or an instance); the masker is rebuilt only when a new value
 * arrives, so masking a line costs one regex replace. Values are never removed: a rotated secret
 * is still a secret in old lines. Memory is bounded by the distinct values the server has seen.
 */
import { createMasker, MIN_SECRET_LENGTH, type Masker } from './masker.ts';

export class SecretSet {
  readonly #values = new Set<string>();
  #masker: Masker = createMasker([]);

  /** Registers values (too-short ones are ignored, as in job logs). */
  add(...values: readonly string[]): void {
    let changed = false;
    for (const value of values) {
      if (value.length < MIN_SECRET_LENGTH || this.#values.has(value)) continue;
      this.#values.add(value);
      changed = true;
    }
    if (changed) this.#masker = createMasker([...this.#values]);
  }

  /** `text` with every form of every registered value replaced by `***`. */
  readonly mask = (text: string): string => (this.#masker.active ? this.#masker.mask(text) : text);
}
