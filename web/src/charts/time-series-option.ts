/**
 * What the dashboard's time-series charts (a deployment's analysis, an SLO's budget and burn
 * rate, the DORA trends) share: the axes, grid, legend and tooltip of one value over a time range, in the page's
 * colours, and a legend that lists the data series, not the carriers of marks (decisions,
 * deploys, context) drawn as series of their own.
 */
import type { LineSeriesOption } from 'echarts/charts';
import type { ChartOption, ChartTheme } from './echarts.ts';

export interface TimeAxis {
  min: number;
  max: number;
  yName: string;
  yFormat: (v: number) => string;
  /** The value axis' lower bound; unset, ECharts picks one from the data. */
  yMin?: number | undefined;
  yMax?: number;
}

/** A chart of one series needs no legend: `legend: false` gives its room back to the plot. */
export function timeSeriesOption(theme: ChartTheme, axis: TimeAxis, { legend = true } = {}): ChartOption {
  const axisLine = { lineStyle: { color: theme.border } };
  return {
    animation: false,
    textStyle: { color: theme.fg, fontFamily: theme.font },
    grid: { left: 8, right: 16, top: legend ? 44 : 28, bottom: 8, containLabel: true },
    ...(legend ? { legend: { top: 0, type: 'scroll', textStyle: { color: theme.fgSoft }, pageTextStyle: { color: theme.fgSoft } } } : {}),
    tooltip: {
      trigger: 'axis',
      backgroundColor: theme.bgRaised,
      borderColor: theme.border,
      textStyle: { color: theme.fg },
      valueFormatter: (value) => (typeof value === 'number' ? axis.yFormat(value) : '–'),
    },
    xAxis: {
      type: 'time',
      min: axis.min,
      max: axis.max,
      axisLine,
      axisLabel: { color: theme.fgSoft, hideOverlap: true },
      splitLine: { show: false },
    },
    yAxis: {
      type: 'value',
      name: axis.yName,
      nameTextStyle: { color: theme.fgSoft, align: 'left' },
      ...(axis.yMin === undefined ? {} : { min: axis.yMin }),
      ...(axis.yMax === undefined ? {} : { max: axis.yMax }),
      axisLine,
      axisLabel: { color: theme.fgSoft, formatter: (v: number) => axis.yFormat(v) },
      splitLine: { lineStyle: { color: theme.border, type: 'dashed' } },
    },
  };
}

/** `option` with `series`, its legend listing every series but the `carriers`. */
export function withLegend(option: ChartOption, series: LineSeriesOption[], carriers: ReadonlySet<string>): ChartOption {
  const legend = option.legend as Record<string, unknown>;
  return { ...option, legend: { ...legend, data: series.map((s) => String(s.name)).filter((name) => !carriers.has(name)) }, series };
}
