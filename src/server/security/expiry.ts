/** A suppression's expiry as people write it: a span from now (`30d`, `12h`, `2w`) or a date (`2027-03-01`, ISO-8601). */
import { InputError } from '../../core/errors.ts';

const UNIT_MS: Record<string, number> = { h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** The expiry as ISO-8601 UTC; `never` (or nothing) is null. */
export function parseExpiry(text: string | undefined, nowMs: number): string | null {
  if (text === undefined || text === 'never') return null;
  const span = /^(\d{1,4})([hdw])$/.exec(text.trim());
  if (span) return new Date(nowMs + Number(span[1]) * (UNIT_MS[span[2] as string] as number)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  throw new InputError(`expires: "${text}" is neither a span (30d, 12h, 2w) nor a date (2027-03-01); use "never" for no expiry`);
}
