/**
 * Which requests a latency heatmap cell holds: its time slot and the upper bound of its latency
 * row, what GET …/traces?from&to&le takes to list the traces kept for that cell. Pure, so the
 * mapping from a click to the traces is tested without a browser (test/web/heatmap-cell.test.ts).
 */

/** The heatmap as GET …/series draws it: rows by upper bound, columns by slot start. */
export interface HeatmapAxes {
  bucketsMs: number[];
  times: number[];
}

export interface HeatmapCell {
  fromMs: number;
  toMs: number;
  /** The row's upper bound, ms: the cell holds requests above the row below and at most this. */
  le: number;
}

/** The cell of a click's `value` ([timeIndex, rowIndex, count]), null when it is not one. */
export function cellOf(heatmap: HeatmapAxes, value: unknown): HeatmapCell | null {
  if (!Array.isArray(value)) return null;
  const [ti, bi] = value as [number, number];
  const fromMs = heatmap.times[ti];
  const le = heatmap.bucketsMs[bi];
  if (fromMs === undefined || le === undefined) return null;
  const step = heatmap.times.length > 1 ? (heatmap.times[1] as number) - (heatmap.times[0] as number) : 60_000;
  return { fromMs, toMs: fromMs + step, le };
}
