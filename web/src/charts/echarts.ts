/**
 * ECharts, modular: only the charts and components the deployment page draws, on the canvas
 * renderer, so the chunk stays a fraction of the full library. Imported only from the lazily
 * loaded chart modules, never from a page directly: echarts must stay out of the first load.
 */
import { useEffect, useRef } from 'react';
import { HeatmapChart, LineChart, type HeatmapSeriesOption, type LineSeriesOption } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
  type GridComponentOption,
  type LegendComponentOption,
  type MarkAreaComponentOption,
  type MarkLineComponentOption,
  type TooltipComponentOption,
  type VisualMapComponentOption,
} from 'echarts/components';
import { init, use, type ComposeOption, type EChartsType } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

export { useChartTheme, type ChartTheme } from './chart-theme.ts';

// No AriaComponent: it overwrites the container's aria-label with a dump of raw data points;
// each chart's container carries its own role="img" and a summary label instead.
use([
  LineChart,
  HeatmapChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  MarkLineComponent,
  // Alert intervals on the SLO charts.
  MarkAreaComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

/** The option type of exactly what is registered above: using anything else fails to type-check. */
export type ChartOption = ComposeOption<
  | LineSeriesOption
  | HeatmapSeriesOption
  | GridComponentOption
  | TooltipComponentOption
  | LegendComponentOption
  | MarkLineComponentOption
  | MarkAreaComponentOption
  | VisualMapComponentOption
>;

/**
 * One chart in a div: created on mount, disposed on unmount, resized with its container (not
 * only the window: sections reflow on phones), and given each new option. Series are replaced,
 * not merged, so a series that went away (a canary that ended) does not linger. `onClick`
 * gets ECharts' click parameters (a heatmap cell's `value` is [timeIndex, rowIndex, count]).
 */
export function useChart(option: ChartOption, onClick?: (params: { value?: unknown; seriesType?: string }) => void) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  // The latest handler, read at click time: a new closure per render must not re-create the chart.
  const clickHandler = useRef(onClick);
  clickHandler.current = onClick;
  useEffect(() => {
    const element = container.current;
    if (!element) return undefined;
    const instance = init(element, null, { renderer: 'canvas' });
    chart.current = instance;
    instance.on('click', (params) => clickHandler.current?.(params as { value?: unknown; seriesType?: string }));
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(element);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, { replaceMerge: ['series', 'xAxis', 'yAxis', 'visualMap'] });
  }, [option]);
  return container;
}
