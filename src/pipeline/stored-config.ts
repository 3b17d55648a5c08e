/**
 * A config the server reads again and again (a release's, a run's, a commit's), parsed once per
 * process. A release's gantry.yaml never changes, yet the server read it on every rollout step,
 * traffic query, placement lookup, SLO evaluation and security check: a parse (YAML, the schema,
 * every cross-check) costs ~3 ms for a 2 KB file, a copy of the result ~0.04 ms. Each caller gets
 * its own copy, so one that changes what it got changes nothing for the next. Only valid texts
 * are kept; an invalid one is parsed (and refused) again each time, with the caller's file name
 * in its diagnostics.
 */
import type { GantryConfig } from '../core/types.ts';
import { parseConfig } from './load-config.ts';

/** Distinct texts kept: a server's live releases and recent runs, not its whole history. */
const KEPT = 64;
/** Texts larger than this are parsed every time, so the cache stays a few MB at most. */
const LARGEST_KEPT = 256 * 1024;

const parsed = new Map<string, GantryConfig>();

/** `parseConfig` for a text that is read again and again (see above); throws as it does. */
export function parseStoredConfig(text: string, file = 'gantry.yaml'): GantryConfig {
  const kept = parsed.get(text);
  if (kept !== undefined) {
    // Most recently used last: Map keeps insertion order, so the first key is the one to drop.
    parsed.delete(text);
    parsed.set(text, kept);
    return structuredClone(kept);
  }
  const config = parseConfig(text, file);
  if (text.length <= LARGEST_KEPT) {
    parsed.set(text, structuredClone(config));
    if (parsed.size > KEPT) parsed.delete(parsed.keys().next().value as string);
  }
  return config;
}
