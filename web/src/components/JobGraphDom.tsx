/**
 * The job graph as DOM nodes: a real link per job (a button per matrix group) over one SVG
 * path of edges. The most accessible renderer (visible links, the browser's find, hover in
 * CSS), used while the graph is small enough for the browser's style and paint passes to stay
 * quick (graph/renderer.ts).
 */
import { memo, useEffect, useMemo, useRef, type KeyboardEvent, type MouseEvent } from 'react';
import { edgeCurve, edgePath, graphSize, itemBox, NODE_H, nodeBox, ROW_H } from '../graph/geometry.ts';
import { countsOf, groupStatus, jobDuration, jobHref, STATUS_ICONS } from '../graph/job-status.ts';
import { type LayoutNode, moveFocus } from '../graph/layout.ts';
import { revealScroll } from '../graph/viewport.ts';
import type { Job } from '../types.ts';
import type { GraphViewProps } from './JobGraph.tsx';
import { arrowDirection, focusedItem, graphLabel } from './graph-keys.ts';

export function JobGraphDom(props: GraphViewProps) {
  const { layout, jobsByKey: byKey, runId, selectedKey, selectedItem, tabStop, now, hrefSearch, onFocusItem, onOpen, onToggle } = props;
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
    const scroll = { left: box.scrollLeft, top: box.scrollTop, width: box.clientWidth, height: box.clientHeight };
    const next = revealScroll(scroll, 1, itemBox(selectedRow.column, selectedRow.row), ROW_H);
    if (next) box.scrollTo(next);
  }, [selectedRow]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const direction = arrowDirection(event.key);
    const from = focusedItem(event.target) ?? tabStop;
    if (!direction || !from) return;
    event.preventDefault();
    focusItem(moveFocus(layout, from, direction));
  };

  const edges = useMemo(() => {
    const byId = new Map(layout.nodes.map((n) => [n.id, n]));
    return layout.edges.map((e) => {
      const from = byId.get(e.from);
      const to = byId.get(e.to);
      return from && to ? edgePath(edgeCurve(from, to)) : '';
    });
  }, [layout]);

  const { width, height } = graphSize(layout);

  return (
    <div ref={container} className="job-graph" role="group" aria-label={graphLabel(props.jobCount)} onKeyDown={onKeyDown}>
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
              href={jobHref(runId, node.keys[0] ?? '', hrefSearch)}
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
              hrefSearch={hrefSearch}
              members={node.keys.map((k) => byKey.get(k)).filter((j): j is Job => j !== undefined)}
              selectedKey={selectedKey}
              tabStop={tabStop}
              now={now}
              onToggle={onToggle}
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
  const box = nodeBox(node);
  return { left: box.x, top: box.y, width: box.width };
}

const JobNode = memo(function JobNode(props: {
  node: LayoutNode;
  href: string;
  job: Job | undefined;
  selected: boolean;
  tabbable: boolean;
  now: number;
  onFocusItem: (id: string) => void;
  onOpen: (event: MouseEvent<HTMLAnchorElement>) => void;
}) {
  const { node, job } = props;
  if (!job) return null;
  return (
    <a
      href={props.href}
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
        {STATUS_ICONS[job.status]}
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
    hrefSearch: string;
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
            {STATUS_ICONS[status]}
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
                {STATUS_ICONS[s]}
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
                href={jobHref(runId, job.key, props.hrefSearch)}
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
    a.hrefSearch === b.hrefSearch &&
    a.selectedKey === b.selectedKey &&
    a.tabStop === b.tabStop &&
    a.onToggle === b.onToggle &&
    a.onFocusItem === b.onFocusItem &&
    a.onOpen === b.onOpen &&
    (a.now === b.now || !b.members.some((m) => m.status === 'running')) &&
    a.members.length === b.members.length &&
    a.members.every((m, i) => m === b.members[i]),
);
