/** A tiny inline SVG trend line (request rate, error rate) — no chart library on the first page. */
export function Sparkline({
  values,
  label,
  width = 120,
  height = 28,
  max,
}: {
  values: number[];
  label: string;
  width?: number;
  height?: number;
  max?: number;
}) {
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      {values.length > 1 ? (
        <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
      ) : (
        <line x1="0" x2={width} y1={height - 2} y2={height - 2} stroke="currentColor" strokeOpacity="0.3" />
      )}
    </svg>
  );
}
