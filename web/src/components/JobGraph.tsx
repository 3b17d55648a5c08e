/**
 * A run's jobs as their `needs` graph, left to right, in a scrolling container. The layout
 * (graph/layout.ts) depends on the graph's shape only and is memoised on it: a live status
 * update repaints the nodes that changed, never re-lays out 1,000 jobs. One tab stop for the
 * whole graph (a roving tabindex): arrow keys move between nodes, Enter opens a job or
 * expands a matrix group.
 */
import { memo, startTransition, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { useLocation } from 'wouter';
import { elapsed } from '../format.ts';
import { layoutGraph, moveFocus, type GraphJob, type LayoutNode } from '../graph/layout.ts';
import type { Job, JobStatus } from '../types.ts';
import './JobGraph.css';

const NODE_W = 212;
const NODE_H = 38;
const ROW_H = 46;
const COL_GAP = 56;
const PAD = 8;

const ICONS: Record<JobStatus, string> = {
  success: '✓',
  failure: '✗',
  cancelled: '⊘',
  skipped: '↷',
  running: '●',
  queued: '○',
  waiting: '○',
};
/** The order statuses are listed in a group's counts (the ones needing attention first). */
const STATUS_ORDER: JobStatus[] = ['failure', 'running', 'queued', 'waiting', 'cancelled', 'skipped', 'success'];

/** The URL of a job inside its run's page. */
export function jobHref(runId: string, key: string): string {
  return `/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(key)}`;
}

/** How long a job ran, or has been running at `now`; '' before it started. */
function jobDuration(job: Job, now: number): string {
  // The page's clock ticks each second: a job that started since then has run for ~0 s, not "–".
  const started = job.startedAt ? Date.parse(job.startedAt) : 0;
  return elapsed(job.startedAt, job.finishedAt, Math.max(now, started));
}

/** One status standing for a group: failure wins, then activity, success only when all succeeded. */
function groupStatus(jobs: readonly Job[]): JobStatus {
  for (const status of STATUS_ORDER) if (status !== 'success' && jobs.some((j) => j.status === status)) return status;
  return jobs.length > 0 ? 'success' : 'waiting';
}

function countsOf(jobs: readonly Job[]): [JobStatus, number][] {
  const counts = new Map<JobStatus, number>();
  for (const j of jobs) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
  return STATUS_ORDER.filter((s) => counts.has(s)).map((s) => [s, counts.get(s) ?? 0]);
}

function x(column: number): number {
  return PAD + column * (NODE_W + COL_GAP);
}
function y(row: number): number {
  return PAD + row * ROW_H;
}

export function JobGraph(props: {
  runId: string;
  jobs: readonly Job[];
  selectedKey: string | null;
  /** The clock for running jobs' durations. */
  now: number;
}) {
  const { runId, jobs, selectedKey, now } = props;
  // The shape as one string: unchanged by status updates, so the layout memo holds.
  const _shapeKey = useMemo(() => jobs.map((j) => `${j.id}\u0000${j.key}\u0000${j.needs.join('\u0001')}`).join('\u0002'), [jobs]);
  const shape = useMemo<GraphJob[]>(() => jobs.map((j) => ({ key: j.key, id: j.id, needs: j.needs })), [jobs.map]);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
  const layout = useMemo(() => layoutGraph(shape, { expanded }), [shape, expanded]);
  const byKey = useMemo(() => new Map(jobs.map((j) => [j.key, j])), [jobs]);

  // Show the selected instance: open its group when the selection moves into one.
  const selectedGroup = selectedKey ? byKey.get(selectedKey)?.id : undefined;
  useEffect(() => {
    if (!selectedKey || !selectedGroup || !layout.nodeOfKey.get(selectedKey)?.startsWith('group:')) return;
    setExpanded((open) => (open.has(selectedGroup) ? open : new Set([...open, selectedGroup])));
  }, [selectedKey, selectedGroup, layout.nodeOfKey.get]);

  const selectedItem =
    selectedKey === null ? undefined : (layout.items.find((i) => i.key === selectedKey)?.id ?? layout.nodeOfKey.get(selectedKey));
  const [focusId, setFocusId] = useState<string | null>(null);
  const tabStop = focusId && layout.items.some((i) => i.id === focusId) ? focusId : (selectedItem ?? layout.items[0]?.id ?? null);

  // Plain links with one click handler: a wouter <Link> per node would subscribe 1,000 nodes to
  // every location change.
  const [, navigate] = useLocation();
  const navigateRef = useRef(navigate);
  navigateRef.current = navigate;
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
  const container = useRef<HTMLDivElement>(null);
  const focusItem = (id: string) => {
    onFocusItem(id);
    const element = container.current?.querySelector<HTMLElement>(`[data-item="${CSS.escape(id)}"]`);
    element?.focus({ preventScroll: true });
    element?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  };
  // Bring the selected job into the graph's view (not the page's: the window must not jump).
  const selectedRow = selectedItem ? layout.items.find((i) => i.id === selectedItem) : undefined;
  useEffect(() => {
    const box = container.current;
    if (!box || !selectedRow) return;
    const left = x(selectedRow.column);
    const top = y(selectedRow.row);
    const visible =
      left >= box.scrollLeft &&
      left + NODE_W <= box.scrollLeft + box.clientWidth &&
      top >= box.scrollTop &&
      top + NODE_H <= box.scrollTop + box.clientHeight;
    if (!visible) box.scrollTo({ left: Math.max(0, left - COL_GAP), top: Math.max(0, top - ROW_H) });
  }, [selectedRow?.id, selectedRow?.column, selectedRow?.row, selectedRow]);

  const toggle = useCallback((groupId: string) => {
    setExpanded((open) => {
      const next = new Set(open);
      if (next.has(groupId)) next.delete(groupId);
      else next.add(groupId);
      return next;
    });
  }, []);
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const keys: Record<string, 'up' | 'down' | 'left' | 'right' | 'home' | 'end'> = {
      ArrowUp: 'up',
      ArrowDown: 'down',
      ArrowLeft: 'left',
      ArrowRight: 'right',
      Home: 'home',
      End: 'end',
    };
    const direction = keys[event.key];
    if (!direction || !tabStop) return;
    event.preventDefault();
    focusItem(moveFocus(layout, tabStop, direction));
  };

  const edges = useMemo(() => {
    const byId = new Map(layout.nodes.map((n) => [n.id, n]));
    return layout.edges.map((e) => {
      const from = byId.get(e.from);
      const to = byId.get(e.to);
      if (!from || !to) return '';
      const x1 = x(from.column) + NODE_W;
      const y1 = y(from.row) + NODE_H / 2;
      const x2 = x(to.column);
      const y2 = y(to.row) + NODE_H / 2;
      const bend = Math.min(COL_GAP, (x2 - x1) / 2);
      return `M${x1} ${y1}C${x1 + bend} ${y1} ${x2 - bend} ${y2} ${x2} ${y2}`;
    });
  }, [layout]);

  const width = PAD * 2 + Math.max(1, layout.columns) * (NODE_W + COL_GAP) - COL_GAP;
  const height = PAD * 2 + Math.max(1, layout.rows) * ROW_H - (ROW_H - NODE_H);

  return (
    <div
      ref={container}
      className="job-graph"
      role="group"
      aria-label={`Job graph, ${jobs.length} job${jobs.length === 1 ? '' : 's'}: arrow keys move between jobs, Enter opens one`}
      onKeyDown={onKeyDown}
    >
      <div className="job-graph-canvas" style={{ width, height }}>
        <svg className="job-graph-edges" width={width} height={height} aria-hidden="true">
          {/* One path for every edge: a thousand-job graph would otherwise add thousands of SVG elements. */}
          <path d={edges.join('')} />
        </svg>
        {layout.nodes.map((node) =>
          node.kind === 'job' ? (
            <JobNode
              key={node.id}
              node={node}
              runId={runId}
              job={byKey.get(node.keys[0] ?? '')}
              selected={node.keys[0] === selectedKey}
              tabbable={tabStop === node.id}
              now={byKey.get(node.keys[0] ?? '')?.status === 'running' ? now : 0}
              onFocusItem={onFocusItem}
              onOpen={onOpen}
            />
          ) : (
            <GroupNode
              key={node.id}
              node={node}
              runId={runId}
              members={node.keys.map((k) => byKey.get(k)).filter((j): j is Job => j !== undefined)}
              selectedKey={selectedKey}
              tabStop={tabStop}
              now={now}
              onToggle={toggle}
              onFocusItem={onFocusItem}
              onOpen={onOpen}
            />
          ),
        )}
      </div>
    </div>
  );
}

function position(node: LayoutNode) {
  return { left: x(node.column), top: y(node.row), width: NODE_W };
}

const JobNode = memo(function JobNode(props: {
  node: LayoutNode;
  runId: string;
  job: Job | undefined;
  selected: boolean;
  tabbable: boolean;
  now: number;
  onFocusItem: (id: string) => void;
  onOpen: (event: MouseEvent<HTMLAnchorElement>) => void;
}) {
  const { node, job, runId } = props;
  if (!job) return null;
  return (
    <a
      href={jobHref(runId, job.key)}
      className={`graph-node${props.selected ? ' selected' : ''}`}
      style={{ ...position(node), height: NODE_H }}
      data-item={node.id}
      data-job={job.key}
      data-status={job.status}
      aria-current={props.selected ? 'page' : undefined}
      tabIndex={props.tabbable ? 0 : -1}
      onFocus={() => props.onFocusItem(node.id)}
      onClick={props.onOpen}
    >
      <NodeBody job={job} now={props.now} />
    </a>
  );
});

function NodeBody({ job, now }: { job: Job; now: number }) {
  return (
    <>
      <span className={`node-icon status-${job.status}`} aria-hidden="true">
        {ICONS[job.status]}
      </span>
      <span className="node-name" title={job.key}>
        {job.key}
      </span>
      {/* Part of the accessible name, which must contain the visible text (WCAG 2.5.3). */}
      <span className="visually-hidden">: {job.status},</span>
      <span className="node-time">{jobDuration(job, now)}</span>
    </>
  );
}

const GroupNode = memo(
  function GroupNode(props: {
    node: LayoutNode;
    runId: string;
    members: Job[];
    selectedKey: string | null;
    tabStop: string | null;
    now: number;
    onToggle: (groupId: string) => void;
    onFocusItem: (id: string) => void;
    onOpen: (event: MouseEvent<HTMLAnchorElement>) => void;
  }) {
    const { node, members, runId } = props;
    const status = groupStatus(members);
    const counts = countsOf(members);
    const countText = counts.map(([s, n]) => `${n} ${s}`).join(', ');
    const groupId = node.label;
    return (
      <div
        className={`graph-group${node.expanded ? ' open' : ''}`}
        data-status={status}
        style={{ ...position(node), height: node.size * ROW_H - (ROW_H - NODE_H) }}
      >
        <button
          type="button"
          className="graph-node group-header"
          style={{ height: NODE_H }}
          data-item={node.id}
          data-job={groupId}
          data-group=""
          data-status={status}
          aria-expanded={node.expanded}
          tabIndex={props.tabStop === node.id ? 0 : -1}
          onFocus={() => props.onFocusItem(node.id)}
          onClick={() => props.onToggle(groupId)}
        >
          <span className={`node-icon status-${status}`} aria-hidden="true">
            {ICONS[status]}
          </span>
          <span className="node-name" title={groupId}>
            {groupId}
          </span>
          <span className="visually-hidden">
            : matrix of {members.length} jobs, {countText}
          </span>
          <span className="node-counts" aria-hidden="true">
            {counts.map(([s, n]) => (
              <span key={s} className={`count status-${s}`}>
                {ICONS[s]}
                {n}
              </span>
            ))}
          </span>
          <span className="node-caret" aria-hidden="true">
            {node.expanded ? '▾' : '▸'}
          </span>
        </button>
        {node.expanded &&
          members.map((job) => {
            const id = `instance:${job.key}`;
            const selected = job.key === props.selectedKey;
            const now = job.status === 'running' ? props.now : 0;
            return (
              <a
                key={job.key}
                href={jobHref(runId, job.key)}
                className={`graph-node instance${selected ? ' selected' : ''}`}
                style={{ height: NODE_H }}
                data-item={id}
                data-job={job.key}
                data-status={job.status}
                aria-current={selected ? 'page' : undefined}
                tabIndex={props.tabStop === id ? 0 : -1}
                onFocus={() => props.onFocusItem(id)}
                onClick={props.onOpen}
              >
                <NodeBody job={job} now={now} />
              </a>
            );
          })}
      </div>
    );
  },
  (a, b) =>
    a.node === b.node &&
    a.runId === b.runId &&
    a.selectedKey === b.selectedKey &&
    a.tabStop === b.tabStop &&
    a.onToggle === b.onToggle &&
    a.onFocusItem === b.onFocusItem &&
    a.onOpen === b.onOpen &&
    (a.now === b.now || !b.members.some((m) => m.status === 'running')) &&
    a.members.length === b.members.length &&
    a.members.every((m, i) => m === b.members[i]),
);
