/**
 * Where request latencies fall over time, per release: a time × latency-bucket heatmap. A
 * percentile line hides a second mode (a slow path that only some requests take); this shows
 * it. Loaded lazily (default export) with echarts.
 */
import { useMemo } from 'react';
import { useChart, useChartTheme, type ChartOption, type ChartTheme } from './echarts.ts';
import { cellOf, type HeatmapCell } from './heatmap-cell.ts';

export type { HeatmapCell };

/** GET …/series heatmap (src/delivery/metric-series.ts LatencyHeatmap). */
export interface Heatmap {
  /** Upper bounds in ms, ascending. */
  bucketsMs: number[];
  times: number[];
  /** [timeIndex, bucketIndex, count], non-zero cells only. */
  cells: [number, number, number][];
}

export interface LatencyHeatmapProps {
  /** One heatmap per release (canary, stable) or the total. */
  maps: { role: 'stable' | 'canary' | 'total'; label: string; heatmap: Heatmap }[];
  /** A cell was clicked: the page shows the traces kept for it (the slow requests' waterfalls). */
  onCell?: (cell: HeatmapCell) => void;
}

export default function LatencyHeatmap({ maps, onCell }: LatencyHeatmapProps) {
  if (maps.every((m) => m.heatmap.cells.length === 0)) return <p className="muted">No requests in this span yet.</p>;
  return (
    <div className="heatmaps">
      {maps.map((m) => (
        <OneHeatmap key={`${m.role}-${m.label}`} {...m} onCell={onCell} />
      ))}
    </div>
  );
}

function OneHeatmap({ role, label, heatmap, onCell }: LatencyHeatmapProps['maps'][number] & Pick<LatencyHeatmapProps, 'onCell'>) {
  const theme = useChartTheme();
  const option = useMemo(() => heatmapOption(theme, role, heatmap), [theme, role, heatmap]);
  const ref = useChart(option, (params) => {
    const cell = cellOf(heatmap, params.value);
    if (cell && onCell) onCell(cell);
  });
  const total = heatmap.cells.reduce((sum, c) => sum + c[2], 0);
  const title = `Latency distribution, ${role === 'total' ? 'all traffic' : `${role} ${label}`}`;
  return (
    <figure className="chart-figure">
      <figcaption>{title}</figcaption>
      <div
        ref={ref}
        className="chart heatmap"
        role="img"
        aria-label={`${title}: ${total} requests over time by latency bucket (${heatmap.bucketsMs.length ? `${formatMs(heatmap.bucketsMs[0] ?? 0)} to ${formatMs(heatmap.bucketsMs.at(-1) ?? 0)}` : 'none'})`}
      />
    </figure>
  );
}

function formatMs(v: number): string {
  return v >= 1000 ? `${v / 1000} s` : `${v} ms`;
}

function heatmapOption(theme: ChartTheme, role: 'stable' | 'canary' | 'total', heatmap: Heatmap): ChartOption {
  const max = heatmap.cells.reduce((m, c) => Math.max(m, c[2]), 1);
  const hot = role === 'canary' ? theme.canary : role === 'stable' ? theme.stable : theme.accent;
  const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  const axisLine = { lineStyle: { color: theme.border } };
  return {
    animation: false,
    textStyle: { color: theme.fg, fontFamily: theme.font },
    grid: { left: 8, right: 16, top: 12, bottom: 56, containLabel: true },
    tooltip: {
      backgroundColor: theme.bgRaised,
      borderColor: theme.border,
      textStyle: { color: theme.fg },
      formatter: (params) => {
        const value = (params as { value?: [number, number, number] }).value;
        if (!value) return '';
        const [ti, bi, count] = value;
        const low = bi > 0 ? formatMs(heatmap.bucketsMs[bi - 1] ?? 0) : '0 ms';
        return `${clock(heatmap.times[ti] ?? 0)}<br/>${low} – ${formatMs(heatmap.bucketsMs[bi] ?? 0)}: <b>${count}</b> requests<br/>click for their traces`;
      },
    },
    xAxis: {
      type: 'category',
      data: heatmap.times.map(clock),
      axisLine,
      axisLabel: { color: theme.fgSoft, hideOverlap: true },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      data: heatmap.bucketsMs.map((b) => `≤ ${formatMs(b)}`),
      axisLine,
      axisLabel: { color: theme.fgSoft },
      splitArea: { show: false },
    },
    visualMap: {
      type: 'continuous',
      min: 0,
      max,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 120,
      itemWidth: 10,
      text: [`${max}`, '0'],
      textStyle: { color: theme.fgSoft },
      inRange: { color: [theme.bgSoft, hot] },
    },
    series: [
      {
        type: 'heatmap',
        name: 'requests',
        data: heatmap.cells,
        emphasis: { itemStyle: { borderColor: theme.fg, borderWidth: 1 } },
      },
    ],
  };
}
