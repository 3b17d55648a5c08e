/**
 * The job graph on a canvas, for graphs too big for a DOM node per job (graph/renderer.ts).
 *
 * - Panning is the browser's own scrolling: the container scrolls over a spacer the size of the
 *   scaled graph while the canvas stays put (sticky) and repaints what is in view, once per
 *   frame at most. Zoom: Ctrl/⌘ + wheel (and trackpad pinch) around the pointer, the buttons, or
 *   + − 0 on the keyboard.
 * - Pointer: hit testing on the layout's grid (graph/hit-test.ts) for hover and click; a click
 *   opens a job (a new tab with Ctrl/⌘/Shift) or toggles a matrix group.
 * - Keyboard and assistive technology: the canvas's fallback content is the job list, a real
 *   link per job (a button per group) in the same roving tab order as the DOM renderer. It is
 *   in the accessibility tree and focusable but never laid out or painted, so it costs nothing
 *   per frame; the canvas draws the focus ring of the focused item.
 */
import {
  memo,
  startTransition,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
  type MouseEvent,
} from 'react';
import { backingSize, drawFrame, type Palette, readPalette, TextFitter } from '../graph/canvas-draw.ts';
import { graphSize, itemBox } from '../graph/geometry.ts';
import { buildHitIndex, itemAt } from '../graph/hit-test.ts';
import { countsOf, groupStatus, jobDuration, jobHref } from '../graph/job-status.ts';
import { type GraphLayout, type LayoutItem, moveFocus } from '../graph/layout.ts';
import { clampScale, revealScroll, type Scroll, toWorld, visibleWorld, zoomAround } from '../graph/viewport.ts';
import type { Job } from '../types.ts';
import type { GraphViewProps } from './JobGraph.tsx';
import { arrowDirection, focusedItem, graphLabel } from './graph-keys.ts';

/** Screen pixels kept around an item scrolled into view. */
const REVEAL_MARGIN = 24;
/** One zoom step of the buttons and keys; the wheel zooms in proportion to its delta. */
const ZOOM_STEP = 1.25;

function scrollOf(box: HTMLElement): Scroll {
  return { left: box.scrollLeft, top: box.scrollTop, width: box.clientWidth, height: box.clientHeight };
}

export function JobGraphCanvas(props: GraphViewProps) {
  const { layout, jobsByKey, runId, selectedKey, selectedItem, tabStop, now, hrefSearch, onFocusItem, onNavigate, onOpen, onToggle } =
    props;
  const container = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const spacer = useRef<HTMLDivElement>(null);
  // The zoom label's value; the scale frames use is `latest.current.scale`, set at once by zoomTo.
  const [scaleLabel, setScaleLabel] = useState(1);
  const size = useMemo(() => graphSize(layout), [layout]);
  const hitIndex = useMemo(() => buildHitIndex(layout), [layout]);
  const itemsById = useMemo(() => new Map(layout.items.map((i) => [i.id, i])), [layout]);

  // What a frame reads, current as of the last commit: frames are painted outside React's render.
  const nodesById = useMemo(() => new Map(layout.nodes.map((n) => [n.id, n])), [layout]);
  const latest = useRef({ layout, nodesById, itemsById, jobsByKey, selectedKey, now, scale: 1 });
  useLayoutEffect(() => {
    latest.current = { ...latest.current, layout, nodesById, itemsById, jobsByKey, selectedKey, now };
  });
  const hover = useRef<string | null>(null);
  const palette = useRef<Palette | null>(null);
  const [text] = useState(() => new TextFitter());
  const pending = useRef<number | null>(null);

  const paint = useCallback(() => {
    pending.current = null;
    const box = container.current;
    const element = canvas.current;
    const ctx = element?.getContext('2d');
    if (!box || !element || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    const scroll = scrollOf(box);
    const [width, height] = [backingSize(scroll.width, dpr), backingSize(scroll.height, dpr)];
    if (element.width !== width || element.height !== height) {
      element.width = width;
      element.height = height;
      element.style.width = `${scroll.width}px`;
      element.style.height = `${scroll.height}px`;
    }
    palette.current ??= readPalette(box);
    const focused = document.activeElement;
    const input = latest.current;
    const focusRing =
      focused instanceof HTMLElement && element.contains(focused) && focused.matches(':focus-visible')
        ? input.itemsById.get(focused.dataset.item ?? '')
        : undefined;
    drawFrame(
      ctx,
      {
        layout: input.layout,
        nodesById: input.nodesById,
        jobsByKey: input.jobsByKey,
        view: visibleWorld(scroll, input.scale),
        scale: input.scale,
        dpr,
        selectedKey: input.selectedKey,
        hoverId: hover.current,
        focusRing: focusRing ?? null,
        now: input.now,
        palette: palette.current,
      },
      text,
    );
    // For tests and benchmarks: the graph is on screen once this is set.
    if (!element.dataset.painted) element.dataset.painted = '';
  }, [text]);
  const requestPaint = useCallback(() => {
    pending.current ??= requestAnimationFrame(paint);
  }, [paint]);
  useEffect(
    () => () => {
      if (pending.current !== null) cancelAnimationFrame(pending.current);
    },
    [],
  );

  // Repaint whenever what is drawn changes (after the commit that changed it).
  // biome-ignore lint/correctness/useExhaustiveDependencies: the frame reads these through `latest`; they say when to repaint
  useLayoutEffect(() => requestPaint(), [requestPaint, layout, jobsByKey, selectedKey, now]);

  // The canvas follows the container's size, and the theme follows the system's.
  useEffect(() => {
    const box = container.current;
    if (!box) return undefined;
    const resized = new ResizeObserver(() => requestPaint());
    resized.observe(box);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    const rethemed = () => {
      palette.current = null;
      requestPaint();
    };
    scheme.addEventListener('change', rethemed);
    return () => {
      resized.disconnect();
      scheme.removeEventListener('change', rethemed);
    };
  }, [requestPaint]);

  const reveal = useCallback((item: LayoutItem | undefined) => {
    const box = container.current;
    if (!box || !item) return;
    const next = revealScroll(scrollOf(box), latest.current.scale, itemBox(item.column, item.row), REVEAL_MARGIN);
    if (next) box.scrollTo(next);
  }, []);
  // Bring the selected job into the graph's view (not the page's: the window must not jump).
  const selected = selectedItem ? itemsById.get(selectedItem) : undefined;
  useEffect(() => reveal(selected), [reveal, selected]);

  // The spacer's size is set here and by zoomTo, never by a render: a render with an older scale
  // would shrink the scroll range under the view mid-gesture.
  const sizeSpacer = useCallback(() => {
    const element = spacer.current;
    if (!element) return;
    element.style.width = `${size.width * latest.current.scale}px`;
    element.style.height = `${size.height * latest.current.scale}px`;
  }, [size]);
  useLayoutEffect(() => sizeSpacer(), [sizeSpacer]);

  // Zoom is applied at once, outside React (each wheel step would otherwise wait for a render);
  // only the label follows in a background render.
  const zoomTo = useCallback(
    (wanted: number, anchor?: { x: number; y: number }) => {
      const box = container.current;
      const current = latest.current.scale;
      const next = clampScale(wanted);
      if (!box || next === current) return;
      const scroll = scrollOf(box);
      const target = zoomAround(scroll, current, next, anchor ?? { x: scroll.width / 2, y: scroll.height / 2 }, size);
      latest.current.scale = next;
      sizeSpacer();
      box.scrollTo(target);
      requestPaint();
      startTransition(() => setScaleLabel(next));
    },
    [size, sizeSpacer, requestPaint],
  );
  const fitScale = () => {
    const box = container.current;
    return box ? Math.min(box.clientWidth / size.width, box.clientHeight / size.height, 1) : 1;
  };

  // Ctrl/⌘ + wheel zooms (a trackpad pinch arrives as that); React's wheel listener is passive.
  useEffect(() => {
    const box = container.current;
    const element = canvas.current;
    if (!box || !element) return undefined;
    const onWheel = (event: WheelEvent) => {
      if (!event.ctrlKey && !event.metaKey) return;
      event.preventDefault();
      const rect = element.getBoundingClientRect();
      const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      zoomTo(latest.current.scale * Math.exp(-delta * 0.002), { x: event.clientX - rect.left, y: event.clientY - rect.top });
    };
    box.addEventListener('wheel', onWheel, { passive: false });
    return () => box.removeEventListener('wheel', onWheel);
  }, [zoomTo]);

  const itemUnder = (event: { clientX: number; clientY: number }): LayoutItem | null => {
    const box = container.current;
    const element = canvas.current;
    if (!box || !element) return null;
    const rect = element.getBoundingClientRect();
    const point = toWorld(scrollOf(box), latest.current.scale, event.clientX - rect.left, event.clientY - rect.top);
    return itemAt(hitIndex, point.x, point.y);
  };

  const onPointerMove = (event: { clientX: number; clientY: number }) => {
    const item = itemUnder(event);
    const id = item?.id ?? null;
    if (id === hover.current) return;
    hover.current = id;
    const element = canvas.current;
    if (element) {
      element.style.cursor = id ? 'pointer' : '';
      // The full name of a job whose label is cut short, as the DOM renderer's title shows it.
      element.title = item ? (item.key ?? item.nodeId.replace(/^group:/, '')) : '';
    }
    requestPaint();
  };
  const onPointerLeave = () => {
    if (hover.current === null) return;
    hover.current = null;
    requestPaint();
  };

  const fallbackElement = (id: string) => canvas.current?.querySelector<HTMLElement>(`[data-item="${CSS.escape(id)}"]`) ?? null;
  const focusItem = (id: string) => {
    fallbackElement(id)?.focus({ preventScroll: true });
    reveal(itemsById.get(id));
    requestPaint();
  };

  const onCanvasClick = (event: MouseEvent<HTMLCanvasElement>) => {
    // Clicks on the job list (Enter on a focused link) are the list's own.
    if (event.target !== event.currentTarget) return;
    const item = itemUnder(event);
    if (!item) return;
    if (item.key === null) onToggle(item.nodeId.replace(/^group:/, ''));
    else {
      const href = jobHref(runId, item.key, hrefSearch);
      if (event.ctrlKey || event.metaKey || event.shiftKey) {
        window.open(href, '_blank', 'noopener');
        return;
      }
      onNavigate(href);
    }
    // Arrow keys go on from the clicked job.
    fallbackElement(item.id)?.focus({ preventScroll: true });
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const zoom: Record<string, () => number> = {
      '+': () => latest.current.scale * ZOOM_STEP,
      '=': () => latest.current.scale * ZOOM_STEP,
      '-': () => latest.current.scale / ZOOM_STEP,
      '0': () => 1,
    };
    const zoomKey = Object.hasOwn(zoom, event.key) ? zoom[event.key] : undefined;
    if (zoomKey && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      zoomTo(zoomKey());
      return;
    }
    const direction = arrowDirection(event.key);
    const from = focusedItem(event.target) ?? tabStop;
    if (!direction || !from) return;
    event.preventDefault();
    focusItem(moveFocus(layout, from, direction));
  };

  // Focus moving in, out or within the list: record the tab stop, show the item, redraw the ring.
  const onFocus = (event: { target: EventTarget }) => {
    const id = event.target instanceof HTMLElement ? event.target.dataset.item : undefined;
    if (id) {
      onFocusItem(id);
      reveal(itemsById.get(id));
    }
    requestPaint();
  };

  return (
    <div className="job-graph-frame">
      <div className="job-graph-zoom" role="toolbar" aria-label="Zoom the job graph">
        <button type="button" aria-label="Zoom out" title="Zoom out (−)" onClick={() => zoomTo(latest.current.scale / ZOOM_STEP)}>
          −
        </button>
        <button
          type="button"
          aria-label={`Zoom ${Math.round(scaleLabel * 100)} %, reset to 100 %`}
          title="Actual size (0)"
          onClick={() => zoomTo(1)}
        >
          {Math.round(scaleLabel * 100)} %
        </button>
        <button type="button" aria-label="Zoom in" title="Zoom in (+)" onClick={() => zoomTo(latest.current.scale * ZOOM_STEP)}>
          +
        </button>
        <button type="button" onClick={() => zoomTo(fitScale())}>
          Fit
        </button>
      </div>
      <div
        ref={container}
        className="job-graph canvas-mode"
        role="group"
        aria-label={graphLabel(props.jobCount)}
        style={{ height: `min(var(--graph-max-height), ${size.height + 24}px)` }}
        onScroll={requestPaint}
        onKeyDown={onKeyDown}
        onFocus={onFocus}
        onBlur={requestPaint}
      >
        {/* The canvas sticks to the view inside a spacer as big as the scaled graph, which is what scrolls. */}
        <div ref={spacer} className="job-graph-spacer">
          <canvas
            ref={canvas}
            className="job-graph-surface"
            onClick={onCanvasClick}
            onPointerMove={onPointerMove}
            onPointerLeave={onPointerLeave}
          >
            <JobList
              layout={layout}
              jobsByKey={jobsByKey}
              runId={runId}
              hrefSearch={hrefSearch}
              selectedKey={selectedKey}
              tabStop={tabStop}
              now={now}
              onOpen={onOpen}
              onToggle={onToggle}
            />
          </canvas>
        </div>
      </div>
    </div>
  );
}

/**
 * The graph as a list, in keyboard order (column by column): the canvas's fallback content,
 * which screen readers read and keyboard focus moves through.
 */
const JobList = memo(function JobList(props: {
  layout: GraphLayout;
  jobsByKey: ReadonlyMap<string, Job>;
  runId: string;
  hrefSearch: string;
  selectedKey: string | null;
  tabStop: string | null;
  now: number;
  onOpen: (event: MouseEvent<HTMLAnchorElement>) => void;
  onToggle: (groupId: string) => void;
}) {
  const { layout, jobsByKey, runId, hrefSearch, selectedKey, tabStop, now } = props;
  // What depends on the graph's shape only, computed once per shape rather than on every
  // selection or focus move (which re-render this list of 1,000).
  const rows = useMemo(() => {
    const nodes = new Map(layout.nodes.map((n) => [n.id, n]));
    return layout.items.map((item) => ({
      item,
      href: item.key === null ? '' : jobHref(runId, item.key, hrefSearch),
      group: item.key === null ? nodes.get(item.nodeId) : undefined,
    }));
  }, [layout, runId, hrefSearch]);
  return (
    <ul aria-label="Jobs">
      {rows.map(({ item, href, group }) => {
        if (item.key !== null) {
          const job = jobsByKey.get(item.key);
          if (!job) return null;
          return (
            <JobLink
              key={item.id}
              itemId={item.id}
              job={job}
              href={href}
              selected={job.key === selectedKey}
              tabbable={tabStop === item.id}
              now={job.status === 'running' ? now : 0}
              onOpen={props.onOpen}
            />
          );
        }
        if (!group) return null;
        const members = group.keys.map((k) => jobsByKey.get(k)).filter((j): j is Job => j !== undefined);
        const counts = countsOf(members)
          .map(([s, n]) => `${n} ${s}`)
          .join(', ');
        return (
          <li key={item.id}>
            <button
              type="button"
              data-item={item.id}
              data-job={group.label}
              data-group=""
              data-status={groupStatus(members)}
              aria-expanded={group.expanded}
              tabIndex={tabStop === item.id ? 0 : -1}
              onClick={() => props.onToggle(group.label)}
            >
              {group.label}: matrix of {members.length} jobs, {counts}
            </button>
          </li>
        );
      })}
    </ul>
  );
});

const JobLink = memo(function JobLink(props: {
  itemId: string;
  job: Job;
  href: string;
  selected: boolean;
  tabbable: boolean;
  now: number;
  onOpen: (event: MouseEvent<HTMLAnchorElement>) => void;
}) {
  const { job } = props;
  const time = jobDuration(job, props.now);
  return (
    <li>
      <a
        href={props.href}
        data-item={props.itemId}
        data-job={job.key}
        data-status={job.status}
        aria-current={props.selected ? 'page' : undefined}
        tabIndex={props.tabbable ? 0 : -1}
        onClick={props.onOpen}
      >
        {job.key}: {job.status}
        {time ? `, ${time}` : ''}
      </a>
    </li>
  );
});
