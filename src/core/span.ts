/**
 * A span of time as people type it on a command line or in a query: a whole number and one unit,
 * `m`inutes, `h`ours, `d`ays or `w`eeks (`15m`, `12h`, `30d`, `2w`). One reading for `--since`,
 * expiries and token lifetimes; gantry.yaml's finer durations (`1h30m`, `500ms`) are
 * pipeline/durations.ts.
 */
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The span in milliseconds, or null when `text` is not one. */
export function spanMs(text: string): number | null {
  const m = /^(\d{1,6})([mhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : null;
}
