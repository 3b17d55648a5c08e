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

/** By mode and text. */
const parsed = new Map<string, GantryConfig>();

/**
 * A text the server accepted before (a run's, a release's): read with the checks it passed then,
 * so a check added later (`ValidateOptions.stored`) cannot strand a release or a run after an upgrade.
 * Throws as `parseConfig` does.
 */
export function parseStoredConfig(text: string, file = 'gantry.yaml'): GantryConfig {
  return cachedParse(text, file, true);
}

/** A commit's text on its way to becoming a run (or a plan, a schedule): every check. */
export function parseCommitConfig(text: string, file: string): GantryConfig {
  return cachedParse(text, file, false);
}

function cachedParse(text: string, file: string, stored: boolean): GantryConfig {
  const key = `${stored ? 'stored' : 'commit'}\0${text}`;
  const kept = parsed.get(key);
  if (kept !== undefined) {
    // Most recently used last: Map keeps insertion order, so the first key is the one to drop.
    parsed.delete(key);
    parsed.set(key, kept);
    return structuredClone(kept);
  }
  const config = parseConfig(text, file, { stored });
  if (text.length <= LARGEST_KEPT) {
    parsed.set(key, structuredClone(config));
    if (parsed.size > KEPT) parsed.delete(parsed.keys().next().value as string);
  }
  return config;
}
