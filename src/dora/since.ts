/**
 * `--since` / `?since=`: a duration back from now (`7d`, `30d`, `90d`, `12h`, `2w`) or a date
 * (`2026-11-01`, or a full ISO time). Bad input is a DORA_INVALID_WINDOW error naming the forms.
 */
import { GantryError } from '../core/errors.ts';
import { timeBackFrom } from '../core/span.ts';
import type { DoraWindow } from './dora-report.ts';

/** Ten years: longer windows are a typo, and would make tens of thousands of buckets. */
const MAX_WINDOW_MS = 3650 * 86_400_000;

export const DEFAULT_SINCE = '30d';

export function parseSince(since: string, now: number): DoraWindow {
  const from = timeBackFrom(since, now) ?? Number.NaN;
  if (Number.isNaN(from) || from >= now || now - from > MAX_WINDOW_MS)
    throw new GantryError(
      'DORA_INVALID_WINDOW',
      `--since ${JSON.stringify(since)} is not a window: use a duration back from now (7d, 30d, 90d, 12h, 2w) or a past date (2026-11-01), at most 10 years`,
    );
  return { from, to: now };
}
