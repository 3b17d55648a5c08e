/**
 * The geometry of an experiment's hypothesis chart, pure (tested in test/web/): each look's value
 * of one check as a point on a time axis, the bound as a line, and the fault's window as a band —
 * so a person sees the faults go in, the numbers move, and where the hypothesis broke.
 */

export interface Look {
  at: number;
  outcome: string;
  values: Record<string, number | null>;
}

export interface ChartBox {
  width: number;
  height: number;
  pad: number;
}

export interface HypothesisChartShape {
  /** `x,y` pairs for an SVG polyline, oldest first; looks without a value are skipped. */
  points: string;
  /** The look that saw the hypothesis broken, if any. */
  broken: { x: number; y: number } | null;
  /** The fault's window on the x axis. */
  band: { x: number; width: number } | null;
  /** The bound's height, when it is within the y range. */
  boundY: number | null;
  max: number;
}

/** Places the looks of one check in the box, with the time axis from `range.min` to `range.max`. */
export function hypothesisChartShape(
  looks: readonly Look[],
  check: string,
  o: { range: { min: number; max: number }; window: { from: number; to: number } | null; bound: number | null; box: ChartBox },
): HypothesisChartShape {
  const { width, height, pad } = o.box;
  const values = looks.map((l) => l.values[check]).filter((v): v is number => typeof v === 'number');
  const max = Math.max(o.bound ?? 0, ...values, Number.MIN_VALUE) * 1.1;
  const span = Math.max(1, o.range.max - o.range.min);
  const x = (t: number) => pad + ((Math.min(Math.max(t, o.range.min), o.range.max) - o.range.min) / span) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const points: string[] = [];
  let broken: HypothesisChartShape['broken'] = null;
  for (const look of looks) {
    const v = look.values[check];
    if (typeof v !== 'number') continue;
    points.push(`${x(look.at).toFixed(1)},${y(v).toFixed(1)}`);
    if (look.outcome === 'broken' && broken === null) broken = { x: x(look.at), y: y(v) };
  }
  const band = o.window === null ? null : { x: x(o.window.from), width: Math.max(1, x(o.window.to) - x(o.window.from)) };
  return { points: points.join(' '), broken, band, boundY: o.bound === null ? null : y(o.bound), max };
}
