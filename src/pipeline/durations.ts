/**
 * Durations as people write them in gantry.yaml (`500ms`, `30s`, `1h30m`, or a bare number of
 * seconds) and back. The normalised config only ever holds milliseconds.
 */
import { InputError } from '../core/errors.ts';

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
// Units must come largest first and at most once each, so `30m1h` or `5s5s` are rejected as typos.
const DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;
const SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Parses a duration into whole milliseconds so every timeout in Gantry has one unit.
 * Throws InputError naming the accepted forms, for both the CLI and config diagnostics.
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw invalid(String(text));
    return Math.round(text * 1000);
  }
  const trimmed = text.trim();
  if (SECONDS.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const match = DURATION.exec(trimmed);
  if (trimmed === '' || match === null) throw invalid(text);
  const [, hours, minutes, seconds, millis] = match;
  const total =
    Number(hours ?? 0) * UNIT_MS.h + Number(minutes ?? 0) * UNIT_MS.m + Number(seconds ?? 0) * UNIT_MS.s + Number(millis ?? 0) * UNIT_MS.ms;
  return Math.round(total);
}

/**
 * A short human form for logs and summaries (`250ms`, `1.5s`, `2m5s`, `1h30m`). The result is
 * accepted by parseDuration (sub-second precision is dropped past one minute).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) {
    const seconds = Math.round(ms / 100) / 10;
    if (seconds < 60) return `${seconds}s`;
  }
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${seconds > 0 ? `${seconds}s` : ''}`;
}

function invalid(text: string): InputError {
  return new InputError(`invalid duration '${text}': use a number of seconds or a value like 500ms, 30s, 5m, 1h or 1h30m`);
}
