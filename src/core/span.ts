/**
 * A span of time as people type it on a command line or in a query: a whole number and one unit,
 * `s`econds, `m`inutes, `h`ours, `d`ays or `w`eeks (`30s`, `15m`, `12h`, `30d`, `2w`), and a
 * point in time given as such a span back from now or as a date. One reading for every `--since`
 * (DORA, search, service logs, the audit), expiries and token lifetimes; gantry.yaml's finer
 * durations (`1h30m`, `500ms`) are pipeline/durations.ts.
 */
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The span in milliseconds, or null when `text` is not one. */
export function spanMs(text: string): number | null {
  const m = /^(\d{1,7})([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : null;
}

/** A point in time: a span back from `nowMs` (`7d`) or a date (`2026-11-01`, an ISO time); null when neither. */
export function timeBackFrom(text: string, nowMs: number): number | null {
  const trimmed = text.trim();
  const span = spanMs(trimmed);
  if (span !== null) return nowMs - span;
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) return null;
  const ms = Date.parse(trimmed.length === 10 ? `${trimmed}T00:00:00Z` : trimmed);
  return Number.isNaN(ms) ? null : ms;
}
