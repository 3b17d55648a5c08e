/**
 * What the canary analysis looks at, drawn: error rate and latency percentiles of the canary
 * against the stable release over time, with every rollout decision as a labelled vertical
 * line — so a person can see why the rollout stepped, paused or rolled back. Loaded lazily
 * (default export) with echarts.
 */
import { useMemo } from 'react';
import type { LineSeriesOption } from 'echarts/charts';
import type { SeriesPoint } from '../../../src/delivery/metric-series.ts';
import { type DeployMarker, deployMarkerSeries } from './deploy-markers.ts';
import { useChart, useChartTheme, type ChartOption, type ChartTheme } from './echarts.ts';
import { timeSeriesOption, withLegend } from './time-series-option.ts';

// One point of GET …/series is the server's own type (type-only: nothing of the server is bundled).
export type { SeriesPoint };

/** One release's line: which role it plays, its label (release number) and its points, oldest first. */
export interface ReleaseLine {
  role: 'stable' | 'canary';
  label: string;
  points: SeriesPoint[];
}

/** A rollout decision to mark: when, and a short label. */
export interface DecisionMark {
  at: number;
  label: string;
}

export interface AnalysisChartsProps {
  lines: ReleaseLine[];
  marks: DecisionMark[];
  /** Finished deploys (the shared marker layer, charts/deploy-markers.ts). */
  deploys?: DeployMarker[];
  /** The time axis, ms since the epoch. */
  range: { min: number; max: number };
}

export default function AnalysisCharts({ lines, marks, range, deploys = NO_DEPLOYS }: AnalysisChartsProps) {
  const theme = useChartTheme();
  const errorOption = useMemo(() => errorRateOption(theme, lines, marks, deploys, range), [theme, lines, marks, deploys, range]);
  const latencyOption = useMemo(() => latencyOptionOf(theme, lines, marks, deploys, range), [theme, lines, marks, deploys, range]);
  const errorRef = useChart(errorOption);
  const latencyRef = useChart(latencyOption);
  const summary = (pick: (p: SeriesPoint) => number | null, format: (v: number) => string) =>
    lines
      .map((line) => {
        const last = [...line.points].reverse().find((p) => pick(p) !== null);
        return `${line.role} ${line.label}: ${last ? format(pick(last) as number) : 'no requests'}`;
      })
      .join('; ') || 'no traffic yet';

  return (
    <div className="analysis-charts">
      <figure className="chart-figure">
        <figcaption>Error rate, canary vs stable</figcaption>
        <div
          ref={errorRef}
          className="chart"
          role="img"
          aria-label={`Error rate over time per release, with rollout decisions marked. Latest: ${summary(
            (p) => p.errorRate,
            (v) => `${(v * 100).toFixed(2)} %`,
          )}`}
        />
      </figure>
      <figure className="chart-figure">
        <figcaption>Latency p50 / p95 / p99, canary vs stable</figcaption>
        <div
          ref={latencyRef}
          className="chart"
          role="img"
          aria-label={`Latency percentiles over time per release, with rollout decisions marked. Latest p99: ${summary(
            (p) => p.p99,
            (v) => `${v.toFixed(1)} ms`,
          )}`}
        />
      </figure>
    </div>
  );
}

const NO_DEPLOYS: DeployMarker[] = [];

function colourOf(theme: ChartTheme, role: ReleaseLine['role']): string {
  return role === 'canary' ? theme.canary : theme.stable;
}

/**
 * Decisions as vertical lines, on a series of their own (with no data) so they show even
 * before any traffic; labels of decisions within a few seconds of each other are joined.
 */
function decisionSeries(theme: ChartTheme, marks: DecisionMark[]): LineSeriesOption {
  const merged: DecisionMark[] = [];
  for (const mark of [...marks].sort((a, b) => a.at - b.at)) {
    const last = merged.at(-1);
    if (last && mark.at - last.at < 2000) last.label = `${last.label} · ${mark.label}`;
    else merged.push({ ...mark });
  }
  return {
    type: 'line',
    name: 'decisions',
    data: [],
    silent: true,
    legendHoverLink: false,
    markLine: {
      symbol: ['none', 'none'],
      animation: false,
      silent: false,
      lineStyle: { color: theme.fgSoft, type: 'dashed', width: 1 },
      label: { show: true, position: 'insideEndTop', color: theme.fg, fontSize: 11, formatter: '{b}' },
      emphasis: { label: { show: true } },
      data: merged.map((m) => ({ name: m.label, xAxis: m.at })),
    },
  };
}

/** The legend lists releases, not the carrier series of decisions and deploys. */
const CARRIERS = new Set(['decisions', 'deploys']);

function errorRateOption(
  theme: ChartTheme,
  lines: ReleaseLine[],
  marks: DecisionMark[],
  deploys: DeployMarker[],
  range: { min: number; max: number },
): ChartOption {
  const percent = (v: number) => `${(v * 100).toFixed(v < 0.01 && v > 0 ? 2 : 1)} %`;
  return withLegend(
    timeSeriesOption(theme, { ...range, yName: 'errors', yFormat: percent, yMin: 0 }),
    [
      ...lines.map(
        (line): LineSeriesOption => ({
          type: 'line',
          name: `${line.role} ${line.label}`,
          showSymbol: false,
          connectNulls: false,
          color: colourOf(theme, line.role),
          lineStyle: { width: 2 },
          data: line.points.map((p) => [p.t, p.errorRate]),
        }),
      ),
      decisionSeries(theme, marks),
      deployMarkerSeries(theme, deploys),
    ],
    CARRIERS,
  );
}

const PERCENTILES = [
  { key: 'p99', dash: 'solid', width: 2 },
  { key: 'p95', dash: 'dashed', width: 1.5 },
  { key: 'p50', dash: 'dotted', width: 1.5 },
] as const;

function latencyOptionOf(
  theme: ChartTheme,
  lines: ReleaseLine[],
  marks: DecisionMark[],
  deploys: DeployMarker[],
  range: { min: number; max: number },
): ChartOption {
  const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
  return withLegend(
    timeSeriesOption(theme, { ...range, yName: 'latency', yFormat: ms, yMin: 0 }),
    [
      ...lines.flatMap((line) =>
        PERCENTILES.map(
          ({ key, dash, width }): LineSeriesOption => ({
            type: 'line',
            name: `${line.role} ${line.label} ${key}`,
            showSymbol: false,
            connectNulls: false,
            color: colourOf(theme, line.role),
            lineStyle: { width, type: dash },
            data: line.points.map((p) => [p.t, p[key]]),
          }),
        ),
      ),
      decisionSeries(theme, marks),
      deployMarkerSeries(theme, deploys),
    ],
    CARRIERS,
  );
}
