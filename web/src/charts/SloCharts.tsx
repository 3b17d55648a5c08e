/**
 * One SLO's history, drawn on one time axis: the error budget burning down, and the burn rate
 * over each alert's long window against the rules' thresholds; on both, the alerts as shaded
 * bands and the deploys as labelled lines — so a person sees which deploy started a burn and
 * when the pager went off. Loaded lazily (default export) with echarts.
 */
import { useMemo } from 'react';
import type { LineSeriesOption } from 'echarts/charts';
import { alertBands, windowLabel } from '../slo/budget-view.ts';
import type { SloHistory } from '../slo/types.ts';
import { deployMarkLine } from './deploy-markers.ts';
import { useChart, useChartTheme, type ChartOption, type ChartTheme } from './echarts.ts';
import { timeSeriesOption, withLegend } from './time-series-option.ts';

export interface SloChartsProps {
  history: SloHistory;
}

export default function SloCharts({ history }: SloChartsProps) {
  const theme = useChartTheme();
  const burnDown = useMemo(() => burnDownOption(theme, history), [theme, history]);
  const burnRates = useMemo(() => burnRateOption(theme, history), [theme, history]);
  const burnDownRef = useChart(burnDown);
  const burnRateRef = useChart(burnRates);
  const name = history.slo.name;
  const left = history.points.at(-1)?.remaining ?? 1;
  const bands = alertBands(history.alerts, history.fromMs, history.toMs);
  const context = `${bands.length} alert interval${bands.length === 1 ? '' : 's'} and ${history.markers.length} deploy${history.markers.length === 1 ? '' : 's'} marked`;
  return (
    <div className="analysis-charts slo-charts" data-slo-chart={name}>
      <figure className="chart-figure">
        <figcaption>Error budget remaining</figcaption>
        <div
          ref={burnDownRef}
          className="chart"
          role="img"
          aria-label={`Error budget of ${name} over the measured period, now ${(left * 100).toFixed(1)} % left; ${context}`}
        />
      </figure>
      <figure className="chart-figure">
        <figcaption>Burn rate per alert window</figcaption>
        <div
          ref={burnRateRef}
          className="chart"
          role="img"
          aria-label={`Burn rate of ${name} over each alert window, with the page and ticket thresholds; ${context}`}
        />
      </figure>
    </div>
  );
}

/** Alerts as bands and deploys as vertical lines, on a series of their own so they show without data. */
function contextSeries(theme: ChartTheme, history: SloHistory): LineSeriesOption {
  const bands = alertBands(history.alerts, history.fromMs, history.toMs);
  return {
    type: 'line',
    name: 'context',
    data: [],
    silent: true,
    legendHoverLink: false,
    markArea: {
      silent: false,
      label: { show: true, position: 'insideTop', color: theme.fg, fontSize: 11 },
      data: bands.map((b) => [
        {
          name: `${b.severity}${b.firing ? ' (firing)' : ''}`,
          xAxis: b.fromMs,
          itemStyle: { color: b.severity === 'page' ? theme.bad : theme.warn, opacity: 0.14 },
        },
        { xAxis: b.toMs },
      ]),
    },
    // The shared deploy marker layer, so SLO charts mark deploys as every other chart does.
    markLine: deployMarkLine(
      theme,
      history.markers.map((m) => ({
        atMs: m.atMs,
        label: `${m.releaseNumber === null ? 'rollout' : `#${m.releaseNumber}`}${m.outcome === 'succeeded' ? '' : ` ${m.outcome}`}`,
        alarming: m.outcome !== 'succeeded',
      })),
    ),
  };
}

/** The legend lists the series, not the carrier of the context marks. */
const CARRIERS = new Set(['context']);

const percent = (v: number) => `${Math.round(v * 100)} %`;

function burnDownOption(theme: ChartTheme, history: SloHistory): ChartOption {
  const lowest = Math.min(0, ...history.points.map((p) => p.remaining));
  const axis = {
    min: history.fromMs,
    max: history.toMs,
    yName: 'budget left',
    yFormat: percent,
    yMin: lowest < 0 ? undefined : 0,
    yMax: 1,
  };
  return withLegend(
    timeSeriesOption(theme, axis),
    [
      {
        type: 'line',
        name: 'budget remaining',
        showSymbol: false,
        color: theme.accent,
        lineStyle: { width: 2 },
        areaStyle: { opacity: 0.12 },
        data: history.points.map((p) => [p.t, p.remaining]),
        markLine: {
          symbol: ['none', 'none'],
          silent: true,
          lineStyle: { color: theme.bad, type: 'solid', width: 1 },
          label: { show: true, position: 'insideStartTop', color: theme.bad, fontSize: 11, formatter: 'budget spent' },
          data: [{ yAxis: 0 }],
        },
      },
      contextSeries(theme, history),
    ],
    CARRIERS,
  );
}

/** The long windows are what each rule is named by; the short ones only confirm a burn is still going on. */
function burnRateOption(theme: ChartTheme, history: SloHistory): ChartOption {
  const rate = (v: number) => `${v < 10 ? Number(v.toFixed(1)) : Math.round(v)}×`;
  const palette = [theme.stable, theme.canary, theme.ok, theme.fgSoft];
  const thresholds = new Map<number, string>();
  const lines: LineSeriesOption[] = [];
  history.windows.forEach((window, index) => {
    const long = window.rules.filter((r) => r.role === 'long');
    if (long.length === 0) return;
    for (const r of long) thresholds.set(r.burnRate, `${r.severity} ${rate(r.burnRate)} over ${windowLabel(window.windowMs)}`);
    lines.push({
      type: 'line',
      name: `${windowLabel(window.windowMs)} window`,
      showSymbol: false,
      connectNulls: false,
      color: palette[lines.length % palette.length],
      lineStyle: { width: 1.5 },
      data: history.points.map((p) => [p.t, p.burnRates[index] ?? null]),
    });
  });
  const first = lines[0];
  if (first)
    first.markLine = {
      symbol: ['none', 'none'],
      silent: true,
      label: { show: true, position: 'insideEndTop', color: theme.fgSoft, fontSize: 11, formatter: '{b}' },
      data: [...thresholds].map(([burnRate, label]) => ({
        name: label,
        yAxis: burnRate,
        lineStyle: { color: label.startsWith('page') ? theme.bad : theme.warn, type: 'dotted', width: 1.5 },
      })),
    };
  return withLegend(
    timeSeriesOption(theme, { min: history.fromMs, max: history.toMs, yName: 'burn rate', yFormat: rate }),
    [...lines, contextSeries(theme, history)],
    CARRIERS,
  );
}
