/**
 * Deploy markers, drawn the same way on every time-series chart of the dashboard: one vertical
 * line per rollout at the moment it finished (where its "after" window begins), labelled with
 * its release and, once known, the before/after verdict; red when the rollout did not succeed or
 * a change was significant. One module so the charts cannot drift apart: each chart adds
 * `deployMarkerSeries` beside its own series (a series of its own, so markers show with no data).
 */
import type { LineSeriesOption } from 'echarts/charts';
import type { MarkLineComponentOption } from 'echarts/components';
import type { DeployWithImpact } from '../../../src/server/impact/index.ts';
import type { ChartTheme } from './chart-theme.ts';

// The API's own type (type-only: nothing of the server is bundled).
export type { DeployWithImpact };

export interface DeployMarker {
  atMs: number;
  /** "#12", "#12 rolled-back", "#12: p99 +40 ms, significant". */
  label: string;
  /** Did not succeed, or changed something significantly: drawn in the alarm colour. */
  alarming: boolean;
}

/** Markers from GET /api/projects/:p/deploys: finished rollouts only (the line is where "after" begins). */
export function markersFromDeploys(deploys: readonly DeployWithImpact[], releaseName: (id: string) => string): DeployMarker[] {
  const out: DeployMarker[] = [];
  for (const d of deploys) {
    if (d.finishedAt === null) continue;
    const outcome = d.phase === 'succeeded' ? '' : ` ${d.phase}`;
    const significant = d.impact.changes.some((c) => c.significant);
    const verdict = significant ? `: ${d.impact.verdict}` : '';
    out.push({ atMs: d.finishedAt, label: `${releaseName(d.releaseId)}${outcome}${verdict}`, alarming: outcome !== '' || significant });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** The marker layer as a line series without data: add it to any chart with a time x axis. */
export function deployMarkerSeries(theme: ChartTheme, markers: readonly DeployMarker[]): LineSeriesOption {
  return { type: 'line', name: 'deploys', data: [], silent: true, legendHoverLink: false, markLine: deployMarkLine(theme, markers) };
}

/** The markers as a markLine, for a chart that already carries a context series of its own. */
export function deployMarkLine(theme: ChartTheme, markers: readonly DeployMarker[]): MarkLineComponentOption {
  return {
    symbol: ['none', 'none'],
    animation: false,
    silent: false,
    lineStyle: { color: theme.canary, type: 'dashed', width: 1.5 },
    label: { show: true, position: 'end', color: theme.fg, fontSize: 11, formatter: '{b}' },
    data: deployMarkData(theme, markers),
  };
}

/** The markers' lines alone, for a chart that draws other marks (incidents) on the same markLine. */
export function deployMarkData(theme: ChartTheme, markers: readonly DeployMarker[]) {
  return markers.map((m) => ({
    name: m.label,
    xAxis: m.atMs,
    lineStyle: { color: m.alarming ? theme.bad : theme.canary, type: 'dashed' as const, width: 1.5 },
  }));
}
