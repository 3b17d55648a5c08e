/** A suppression's expiry as people write it: a span from now (`30d`, `12h`, `2w`) or a date (`2027-03-01`, ISO-8601). */
import { InputError } from '../../core/errors.ts';
import { spanMs } from '../../core/span.ts';

/** The expiry as ISO-8601 UTC; `never` (or nothing) is null. */
export function parseExpiry(text: string | undefined, nowMs: number): string | null {
  if (text === undefined || text === 'never') return null;
  const span = spanMs(text);
  if (span !== null) return new Date(nowMs + span).toISOString();
  if (/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  throw new InputError(`expires: "${text}" is neither a span (30d, 12h, 2w) nor a date (2027-03-01); use "never" for no expiry`);
}
