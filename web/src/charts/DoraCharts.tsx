/**
 * DORA's four keys over time, one small chart each, per day or per week as the API buckets them,
 * with every deployment (a solid line when it failed) and incident (dashed) marked, so a jump in a
 * number can be traced to the deploys and incidents behind it. Loaded lazily with echarts.
 */
import { useMemo } from 'react';
import type { LineSeriesOption } from 'echarts/charts';
import type { DoraBucket, DoraReport } from '../../../src/dora/index.ts';
import { useChart, useChartTheme, type ChartOption, type ChartTheme } from './echarts.ts';
import { timeSeriesOption } from './time-series-option.ts';
import { deployMarkData } from './deploy-markers.ts';

const HOUR = 3_600_000;

interface Key {
  id: string;
  title: string;
  unit: string;
  value(b: DoraBucket): number | null;
  format(v: number): string;
}

/** Lead and recovery times span seconds to weeks: the unit follows the value. */
function hours(v: number): string {
  if (v === 0) return '0';
  if (v < 1 / 60) return `${Math.round(v * 3600)} s`;
  if (v < 1) return `${Math.round(v * 60)} min`;
  if (v >= 48) return `${(v / 24).toFixed(1)} d`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} h`;
}

const KEYS: Key[] = [
  { id: 'frequency', title: 'Deployments', unit: 'deploys', value: (b) => b.deployments, format: (v) => String(Math.round(v * 10) / 10) },
  {
    id: 'lead-time',
    title: 'Lead time for changes (median)',
    unit: '',
    value: (b) => (b.leadTime.medianMs === null ? null : b.leadTime.medianMs / HOUR),
    format: hours,
  },
  {
    id: 'change-failure',
    title: 'Change failure rate',
    unit: '%',
    value: (b) => (b.changeFailure.rate === null ? null : b.changeFailure.rate * 100),
    format: (v) => `${Math.round(v)} %`,
  },
  {
    id: 'recovery',
    title: 'Failed deployment recovery time (median)',
    unit: '',
    value: (b) => (b.recovery.medianMs === null ? null : b.recovery.medianMs / HOUR),
    format: hours,
  },
];

export default function DoraCharts({ report }: { report: DoraReport }) {
  return (
    <div className="dora-charts">
      {KEYS.map((key) => (
        <DoraChart key={key.id} metric={key} report={report} />
      ))}
    </div>
  );
}

function DoraChart({ metric, report }: { metric: Key; report: DoraReport }) {
  const theme = useChartTheme();
  const option = useMemo(() => optionOf(theme, metric, report), [theme, metric, report]);
  const ref = useChart(option);
  const values = report.buckets.map(metric.value).filter((v): v is number => v !== null);
  const label = `${metric.title} per ${report.bucket}, ${values.length} ${report.bucket}s with data${
    values.length > 0 ? `, latest ${metric.format(values.at(-1) as number)}` : ''
  }; ${report.rollouts.filter((r) => r.counted).length} deployments and ${report.incidents.length} incidents marked`;
  return (
    <figure className="chart-figure" data-metric={metric.id}>
      <figcaption>{metric.title}</figcaption>
      <div ref={ref} className="dora-chart" role="img" aria-label={label} />
    </figure>
  );
}

function markers(theme: ChartTheme, report: DoraReport): LineSeriesOption {
  // The shared deploy marker layer: deploys look the same on every chart of the dashboard.
  const deploys = deployMarkData(
    theme,
    report.rollouts
      .filter((r) => r.counted && r.finishedAt !== null)
      .map((r) => ({
        atMs: r.finishedAt as number,
        label: `#${r.releaseNumber ?? '?'}${r.failure ? ' failed' : ''}`,
        alarming: r.failure !== null,
      })),
  );
  const incidents = report.incidents.map((i) => ({
    name: `incident #${i.number}`,
    xAxis: i.openedAt,
    lineStyle: { color: theme.warn, type: 'dashed' as const, width: 1 },
  }));
  return {
    type: 'line',
    name: 'markers',
    data: [],
    silent: true,
    markLine: {
      symbol: ['none', 'none'],
      animation: false,
      label: { show: false },
      emphasis: { label: { show: true, formatter: '{b}', color: theme.fg } },
      data: [...deploys, ...incidents],
    },
  };
}

function optionOf(theme: ChartTheme, metric: Key, report: DoraReport): ChartOption {
  const middle = (b: DoraBucket) => b.from + (b.to - b.from) / 2;
  const axis = { min: report.window.from, max: report.window.to, yName: metric.unit, yFormat: metric.format, yMin: 0 };
  return {
    ...timeSeriesOption(theme, axis, { legend: false }),
    series: [
      {
        type: 'line',
        name: metric.title,
        color: theme.accent,
        connectNulls: false,
        showSymbol: true,
        symbolSize: 5,
        data: report.buckets.map((b) => [middle(b), metric.value(b)]),
      },
      markers(theme, report),
    ],
  };
}
