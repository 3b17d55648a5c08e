/**
 * A run's jobs as their `needs` graph, left to right, in a scrolling container. The layout
 * (graph/layout.ts) depends on the graph's shape only and is memoised on it: a live status
 * update repaints the nodes that changed, never re-lays out 1,000 jobs. One tab stop for the
 * whole graph (a roving tabindex): arrow keys move between nodes, Enter opens a job or
 * expands a matrix group.
 *
 * This component owns that state; drawing is one of two renderers (graph/renderer.ts): DOM
 * nodes for ordinary graphs, a canvas for big ones.
 */
import { startTransition, useCallback, useEffect, useMemo, useRef, useState, type MouseEvent } from 'react';
import { useLocation, useSearch } from 'wouter';
import { layoutGraph, type GraphJob, type GraphLayout } from '../graph/layout.ts';
import { chooseRenderer } from '../graph/renderer.ts';
import type { Job } from '../types.ts';
import { JobGraphCanvas } from './JobGraphCanvas.tsx';
import { JobGraphDom } from './JobGraphDom.tsx';
import './JobGraph.css';

/** What both renderers draw and report back. */
export interface GraphViewProps {
  runId: string;
  jobCount: number;
  layout: GraphLayout;
  jobsByKey: ReadonlyMap<string, Job>;
  selectedKey: string | null;
  /** The item showing the selected job (its instance, or its group while collapsed). */
  selectedItem: string | undefined;
  /** The one item reachable with Tab. */
  tabStop: string | null;
  /** The clock for running jobs' durations. */
  now: number;
  /** Appended to job URLs (keeps a renderer forced in the URL). */
  hrefSearch: string;
  /** Records which item has focus (the next tab stop). */
  onFocusItem: (id: string) => void;
  /** Opens a job by its URL inside the app. */
  onNavigate: (href: string) => void;
  /** A plain click on a job's link: opened inside the app (modified clicks are the browser's). */
  onOpen: (event: MouseEvent<HTMLAnchorElement>) => void;
  onToggle: (groupId: string) => void;
}

/** `?graph=…` when the page's URL forces a renderer, else ''. */
function forcedRendererSearch(search: string): string {
  const forced = new URLSearchParams(search).get('graph');
  return forced ? `?${new URLSearchParams({ graph: forced })}` : '';
}

export function JobGraph(props: {
  runId: string;
  jobs: readonly Job[];
  selectedKey: string | null;
  /** The clock for running jobs' durations. */
  now: number;
}) {
  const { runId, jobs, selectedKey, now } = props;
  const search = useSearch();
  // The shape as one string: unchanged by status updates, so the layout memo holds.
  const shapeKey = useMemo(() => jobs.map((j) => `${j.id}\u0000${j.key}\u0000${j.needs.join('\u0001')}`).join('\u0002'), [jobs]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the shape on purpose, not on every new jobs array
  const shape = useMemo<GraphJob[]>(() => jobs.map((j) => ({ key: j.key, id: j.id, needs: j.needs })), [shapeKey]);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
  const layout = useMemo(() => layoutGraph(shape, { expanded }), [shape, expanded]);
  const jobsByKey = useMemo(() => new Map(jobs.map((j) => [j.key, j])), [jobs]);

  // Show the selected instance: open its group when the selection moves into one.
  const selectedGroup = selectedKey ? jobsByKey.get(selectedKey)?.id : undefined;
  const selectedNode = selectedKey ? layout.nodeOfKey.get(selectedKey) : undefined;
  useEffect(() => {
    if (!selectedGroup || !selectedNode?.startsWith('group:')) return;
    setExpanded((open) => (open.has(selectedGroup) ? open : new Set([...open, selectedGroup])));
  }, [selectedGroup, selectedNode]);

  const selectedItem = selectedKey === null ? undefined : (layout.items.find((i) => i.key === selectedKey)?.id ?? selectedNode);
  const [focusId, setFocusId] = useState<string | null>(null);
  const tabStop = focusId && layout.items.some((i) => i.id === focusId) ? focusId : (selectedItem ?? layout.items[0]?.id ?? null);

  // Plain links with one click handler: a wouter <Link> per node would subscribe 1,000 nodes to
  // every location change.
  const [, navigate] = useLocation();
  const navigateRef = useRef(navigate);
  navigateRef.current = navigate;
  const onNavigate = useCallback((href: string) => navigateRef.current(href), []);
  const onOpen = useCallback((event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigateRef.current(event.currentTarget.getAttribute('href') ?? '/');
  }, []);

  // Which node holds the tab stop changes on every focus: a background render, so a click or an
  // arrow key on a 1,000-job graph is painted before the graph re-renders.
  const onFocusItem = useCallback((id: string) => {
    startTransition(() => setFocusId(id));
  }, []);

  const onToggle = useCallback((groupId: string) => {
    setExpanded((open) => {
      const next = new Set(open);
      if (next.has(groupId)) next.delete(groupId);
      else next.add(groupId);
      return next;
    });
  }, []);

  const view: GraphViewProps = {
    runId,
    jobCount: jobs.length,
    layout,
    jobsByKey,
    selectedKey,
    selectedItem,
    tabStop,
    now,
    hrefSearch: forcedRendererSearch(search),
    onFocusItem,
    onNavigate,
    onOpen,
    onToggle,
  };
  return chooseRenderer(layout.items.length, search) === 'canvas' ? <JobGraphCanvas {...view} /> : <JobGraphDom {...view} />;
}
