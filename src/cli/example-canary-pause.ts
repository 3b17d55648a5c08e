/**
 * `gantry demo --pause`: how long production's canary holds each step, written into the example's
 * gantry.yaml, the one place a rollout reads its strategy from (the release's own commit), so the
 * demo's shorter or longer steps are what the dashboard's config view and the next demo show too.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { GantryError, InputError } from '../core/errors.ts';
import { formatDuration, parseDuration } from '../pipeline/durations.ts';

/** Shorter steps leave the analysis no traffic to judge; longer ones would outlast the demo's load. */
const MIN_PAUSE_MS = 1_000;
const MAX_PAUSE_MS = 60_000;

/** `--pause`'s value in milliseconds, or an InputError saying what is accepted. */
export function parseCanaryPause(text: string): number {
  const ms = parseDuration(text);
  if (ms < MIN_PAUSE_MS || ms > MAX_PAUSE_MS) throw new InputError(`--pause must be from 1s to 1m, got '${text}'`);
  return ms;
}

/** Sets every production canary step's pause in `<repoDir>/gantry.yaml`, keeping its comments; true when the file changed. */
export async function writeCanaryPause(repoDir: string, pauseMs: number): Promise<boolean> {
  const file = join(repoDir, 'gantry.yaml');
  const before = await readFile(file, 'utf8');
  const doc = parseDocument(before);
  const steps = doc.getIn(['environments', 'production', 'strategy', 'canary', 'steps']);
  if (!isSeq(steps) || steps.items.length === 0)
    throw new GantryError('EXAMPLE_FAILED', `${file} has no canary steps for production: --pause has nothing to set`);
  for (const step of steps.items) if (isMap(step)) step.set('pause', formatDuration(pauseMs));
  const after = doc.toString();
  if (after === before) return false;
  await writeFile(file, after);
  return true;
}
