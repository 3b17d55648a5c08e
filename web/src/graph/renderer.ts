/**
 * Which renderer draws a run's job graph. The DOM one (a link per job) is the most accessible
 * and searchable with the browser's find, but at ~1,000 nodes every selection pays a style and
 * paint pass over all of them (interactions up to 272 ms, BENCHMARKS.md); the canvas one draws
 * only what is in view, at a cost that does not grow with the graph.
 */
export type GraphRenderer = 'dom' | 'canvas';

/**
 * Keyboard stops (jobs, group headers, open instances) from which the canvas draws the graph.
 * bench/dashboard.ts on a loaded machine: at 300 jobs the DOM was as quick or quicker (p95
 * interaction 80 ms both, pan p95 frame 17 vs 67 ms); at 1,000 the canvas was 2–4× quicker.
 * The crossover between them was not measured: 500 splits the difference.
 */
export const CANVAS_FROM_ITEMS = 500;

/**
 * The renderer for a graph of `items` stops; `search` is the page's query string, where
 * `graph=dom` or `graph=canvas` forces one (to compare them, and for tests).
 */
export function chooseRenderer(items: number, search: string): GraphRenderer {
  const forced = new URLSearchParams(search).get('graph');
  if (forced === 'dom' || forced === 'canvas') return forced;
  return items >= CANVAS_FROM_ITEMS ? 'canvas' : 'dom';
}
