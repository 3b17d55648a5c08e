/**
 * Paints the job graph on a 2D canvas: the edges and nodes that intersect the view, nothing
 * else, so a frame costs the same for 50 jobs or 5,000. It looks like the DOM renderer
 * (JobGraph.css): same boxes, status stripe and icon, name, time, group counts. Zoomed out
 * below readable text it draws an overview instead: blocks in status colours, a fill per colour.
 * Colours come from the page's CSS variables, so the light and dark themes apply as they do to
 * the DOM.
 */
import type { Job, JobStatus } from '../types.ts';
import { edgeCurve, type Box, intersects, itemBox, NODE_H, nodeBox } from './geometry.ts';
import { countsOf, groupStatus, jobDuration, STATUS_ICONS } from './job-status.ts';
import type { GraphLayout, LayoutItem, LayoutNode } from './layout.ts';
import { TEXT_MIN_SCALE } from './viewport.ts';

export interface Palette {
  bgSoft: string;
  bgRaised: string;
  fg: string;
  fgSoft: string;
  border: string;
  accent: string;
  focus: string;
  /** Per status: the stripe and icon colour, and the icon's background. */
  status: Record<JobStatus, { fg: string; bg: string }>;
  fontFamily: string;
}

/** Reads the theme from the CSS variables in effect at `element`. */
export function readPalette(element: Element): Palette {
  const style = getComputedStyle(element);
  const v = (name: string) => style.getPropertyValue(name).trim();
  const idle = { fg: v('--idle'), bg: v('--idle-bg') };
  return {
    bgSoft: v('--bg-soft'),
    bgRaised: v('--bg-raised'),
    fg: v('--fg'),
    fgSoft: v('--fg-soft'),
    border: v('--border'),
    accent: v('--accent'),
    focus: v('--focus'),
    status: {
      success: { fg: v('--ok'), bg: v('--ok-bg') },
      failure: { fg: v('--bad'), bg: v('--bad-bg') },
      running: { fg: v('--run'), bg: v('--run-bg') },
      cancelled: { fg: v('--warn'), bg: v('--warn-bg') },
      skipped: idle,
      queued: idle,
      waiting: idle,
    },
    fontFamily: style.fontFamily,
  };
}

/** What one frame shows. */
export interface Frame {
  layout: GraphLayout;
  /** The layout's nodes by id (built once per layout, not per frame). */
  nodesById: ReadonlyMap<string, LayoutNode>;
  jobsByKey: ReadonlyMap<string, Job>;
  /** The visible world box, the zoom scale and the device pixel ratio. */
  view: Box;
  scale: number;
  dpr: number;
  selectedKey: string | null;
  /** The item under the pointer, and the item with keyboard focus (its ring drawn) if any. */
  hoverId: string | null;
  focusRing: LayoutItem | null;
  /** The clock for running jobs' durations. */
  now: number;
  palette: Palette;
}

/**
 * Truncates text to a width with an ellipsis, remembering the answers: the same names are
 * drawn every frame while panning, and measuring is the costly part of drawing text.
 */
export class TextFitter {
  private readonly fitted = new Map<string, string>();
  private readonly widths = new Map<string, number>();

  /** The width of `text` in the context's current font. */
  width(ctx: CanvasRenderingContext2D, text: string): number {
    const cacheKey = `${ctx.font}\u0000${text}`;
    let width = this.widths.get(cacheKey);
    if (width === undefined) {
      width = ctx.measureText(text).width;
      if (this.widths.size > 20_000) this.widths.clear();
      this.widths.set(cacheKey, width);
    }
    return width;
  }

  fit(ctx: CanvasRenderingContext2D, text: string, maxWidth: number): string {
    const cacheKey = `${ctx.font}\u0000${maxWidth}\u0000${text}`;
    const known = this.fitted.get(cacheKey);
    if (known !== undefined) return known;
    let result = text;
    if (ctx.measureText(text).width > maxWidth) {
      // The longest prefix that fits with the ellipsis, by bisection.
      let low = 0;
      let high = text.length;
      while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        if (ctx.measureText(`${text.slice(0, mid)}…`).width <= maxWidth) low = mid;
        else high = mid - 1;
      }
      result = `${text.slice(0, low)}…`;
    }
    if (this.fitted.size > 20_000) this.fitted.clear();
    this.fitted.set(cacheKey, result);
    return result;
  }
}

const STRIPE = 4;
const PAD_X = 9;
const ICON_R = 9.75;
const GAP = 6.75;
const NAME_PX = 13.2;
const SMALL_PX = 12;
const COUNT_PX = 11.25;

/** Paints one frame on `ctx`, whose canvas covers the view at `dpr` device pixels per CSS pixel. */
export function drawFrame(ctx: CanvasRenderingContext2D, frame: Frame, text: TextFitter): void {
  const { view, scale, dpr, palette, layout } = frame;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = palette.bgSoft;
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  const k = dpr * scale;
  ctx.setTransform(k, 0, 0, k, -view.x * k, -view.y * k);

  drawEdges(ctx, frame, frame.nodesById);

  if (scale >= TEXT_MIN_SCALE) {
    for (const node of layout.nodes) {
      const box = nodeBox(node);
      if (!intersects(box, view)) continue;
      if (node.kind === 'job') {
        const job = frame.jobsByKey.get(node.keys[0] ?? '');
        if (job) drawJob(ctx, frame, text, box, `job:${job.key}`, job);
        continue;
      }
      drawGroup(ctx, frame, text, node);
    }
  } else drawOverview(ctx, frame);

  const ring = frame.focusRing;
  if (ring) {
    const box = itemBox(ring.column, ring.row);
    ctx.strokeStyle = palette.focus;
    ctx.lineWidth = 3 / scale;
    const out = 2 / scale + ctx.lineWidth / 2;
    ctx.beginPath();
    ctx.roundRect(box.x - out, box.y - out, box.width + 2 * out, box.height + 2 * out, 6);
    ctx.stroke();
  }
}

function drawEdges(ctx: CanvasRenderingContext2D, frame: Frame, byId: ReadonlyMap<string, LayoutNode>): void {
  const overview = frame.scale < TEXT_MIN_SCALE;
  ctx.beginPath();
  for (const edge of frame.layout.edges) {
    const from = byId.get(edge.from);
    const to = byId.get(edge.to);
    if (!from || !to) continue;
    const c = edgeCurve(from, to);
    // The curve stays inside the box of its end points.
    const bounds = { x: c.x1, y: Math.min(c.y1, c.y2), width: c.x2 - c.x1, height: Math.abs(c.y2 - c.y1) + 1 };
    if (!intersects(bounds, frame.view)) continue;
    ctx.moveTo(c.x1, c.y1);
    // Zoomed out, straight lines: the curves' shape does not show, and they cost more to raster.
    if (overview) ctx.lineTo(c.x2, c.y2);
    else ctx.bezierCurveTo(c.x1 + c.bend, c.y1, c.x2 - c.bend, c.y2, c.x2, c.y2);
  }
  ctx.globalAlpha = 0.55;
  ctx.strokeStyle = frame.palette.fgSoft;
  ctx.lineWidth = overview ? 1 / frame.scale : 1.5;
  ctx.stroke();
  ctx.globalAlpha = 1;
}

/**
 * The graph zoomed out below readable text: each item a block in its status colours, drawn as
 * one path per colour (a thousand nodes in a dozen fills), plus the selection, hover and open
 * groups' outlines.
 */
function drawOverview(ctx: CanvasRenderingContext2D, frame: Frame): void {
  const { palette, view, layout } = frame;
  const fills = new Map<string, Box[]>();
  const add = (colour: string, box: Box) => {
    const boxes = fills.get(colour);
    if (boxes) boxes.push(box);
    else fills.set(colour, [box]);
  };
  const block = (box: Box, status: JobStatus) => {
    add(palette.status[status].bg, box);
    add(palette.status[status].fg, { x: box.x, y: box.y, width: STRIPE * 2, height: box.height });
  };
  const outlined: Box[] = [];
  for (const node of layout.nodes) {
    const whole = nodeBox(node);
    if (!intersects(whole, view)) continue;
    const members = node.keys.map((key) => frame.jobsByKey.get(key)).filter((j): j is Job => j !== undefined);
    if (node.kind === 'job') {
      const job = members[0];
      if (!job) continue;
      block(whole, job.status);
      if (job.key === frame.selectedKey || frame.hoverId === node.id) outlined.push(whole);
      continue;
    }
    block(itemBox(node.column, node.row), groupStatus(members));
    if (frame.hoverId === node.id) outlined.push(itemBox(node.column, node.row));
    if (!node.expanded) continue;
    for (const [k, job] of members.entries()) {
      const box = itemBox(node.column, node.row + 1 + k);
      block(box, job.status);
      if (job.key === frame.selectedKey || frame.hoverId === `instance:${job.key}`) outlined.push(box);
    }
  }
  for (const [colour, boxes] of fills) {
    ctx.fillStyle = colour;
    ctx.beginPath();
    for (const b of boxes) ctx.rect(b.x, b.y, b.width, b.height);
    ctx.fill();
  }
  ctx.strokeStyle = palette.accent;
  ctx.lineWidth = 2 / frame.scale;
  ctx.beginPath();
  for (const b of outlined) ctx.rect(b.x, b.y, b.width, b.height);
  ctx.stroke();
}

/** A node's frame: background, border (dashed while not started), status stripe, selection ring. */
function drawBox(ctx: CanvasRenderingContext2D, frame: Frame, box: Box, status: JobStatus, hovered: boolean, selected: boolean): void {
  const { palette, scale } = frame;
  if (selected) {
    ctx.fillStyle = palette.accent;
    ctx.beginPath();
    ctx.roundRect(box.x - 2, box.y - 2, box.width + 4, box.height + 4, 8);
    ctx.fill();
  }
  ctx.fillStyle = palette.bgRaised;
  ctx.beginPath();
  ctx.roundRect(box.x, box.y, box.width, box.height, 6);
  ctx.fill();
  ctx.strokeStyle = hovered ? palette.accent : palette.border;
  ctx.lineWidth = Math.max(1, 1 / scale);
  if (status === 'skipped' || status === 'queued' || status === 'waiting') ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.roundRect(box.x + 0.5, box.y + 0.5, box.width - 1, box.height - 1, 6);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = palette.status[status].fg;
  ctx.beginPath();
  ctx.roundRect(box.x, box.y, STRIPE, box.height, [6, 0, 0, 6]);
  ctx.fill();
}

/** The icon, the name (ellipsised) and, on the right, `trailing` (a time) when there is text to draw. */
function drawLabel(
  ctx: CanvasRenderingContext2D,
  frame: Frame,
  text: TextFitter,
  box: Box,
  status: JobStatus,
  name: string,
  selected: boolean,
  rightWidth: number,
): number {
  const { palette } = frame;
  const cx = box.x + STRIPE + PAD_X + ICON_R;
  const cy = box.y + NODE_H / 2;
  ctx.fillStyle = palette.status[status].bg;
  ctx.beginPath();
  ctx.arc(cx, cy, ICON_R, 0, Math.PI * 2);
  ctx.fill();
  ctx.fillStyle = palette.status[status].fg;
  ctx.font = `${SMALL_PX}px ${palette.fontFamily}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(STATUS_ICONS[status], cx, cy + 0.5);

  const nameX = cx + ICON_R + GAP;
  const nameMax = box.x + box.width - PAD_X - rightWidth - nameX;
  ctx.font = `${selected ? '600 ' : ''}${NAME_PX}px ${palette.fontFamily}`;
  ctx.textAlign = 'left';
  ctx.fillStyle = palette.fg;
  ctx.fillText(text.fit(ctx, name, Math.max(0, nameMax)), nameX, cy);
  return box.x + box.width - PAD_X;
}

function drawJob(ctx: CanvasRenderingContext2D, frame: Frame, text: TextFitter, box: Box, itemId: string, job: Job): void {
  const selected = job.key === frame.selectedKey;
  drawBox(ctx, frame, box, job.status, frame.hoverId === itemId, selected);
  const time = jobDuration(job, job.status === 'running' ? frame.now : 0);
  ctx.font = `${SMALL_PX}px ${frame.palette.fontFamily}`;
  const timeWidth = time ? text.width(ctx, time) + GAP : 0;
  const right = drawLabel(ctx, frame, text, box, job.status, job.key, selected, timeWidth);
  if (!time) return;
  ctx.font = `${SMALL_PX}px ${frame.palette.fontFamily}`;
  ctx.textAlign = 'right';
  ctx.fillStyle = frame.palette.fgSoft;
  ctx.fillText(time, right, box.y + NODE_H / 2);
}

function drawGroup(ctx: CanvasRenderingContext2D, frame: Frame, text: TextFitter, node: LayoutNode): void {
  const members = node.keys.map((key) => frame.jobsByKey.get(key)).filter((j): j is Job => j !== undefined);
  const status = groupStatus(members);
  const whole = nodeBox(node);
  if (node.expanded) {
    ctx.strokeStyle = frame.palette.fgSoft;
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.roundRect(whole.x - 3.5, whole.y - 3.5, whole.width + 7, whole.height + 7, 8);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  const header = itemBox(node.column, node.row);
  drawBox(ctx, frame, header, status, frame.hoverId === node.id, false);
  drawGroupHeaderText(ctx, frame, text, header, node, members, status);
  if (!node.expanded) return;
  for (const [k, job] of members.entries()) {
    const box = itemBox(node.column, node.row + 1 + k);
    if (intersects(box, frame.view)) drawJob(ctx, frame, text, box, `instance:${job.key}`, job);
  }
}

function drawGroupHeaderText(
  ctx: CanvasRenderingContext2D,
  frame: Frame,
  text: TextFitter,
  header: Box,
  node: LayoutNode,
  members: readonly Job[],
  status: JobStatus,
): void {
  const { palette } = frame;
  const counts = countsOf(members).map(([s, n]) => ({ status: s, label: `${STATUS_ICONS[s]}${n}` }));
  ctx.font = `${COUNT_PX}px ${palette.fontFamily}`;
  const pill = (label: string) => text.width(ctx, label) + 9;
  const caret = node.expanded ? '▾' : '▸';
  const caretWidth = text.width(ctx, caret) + GAP;
  const countsWidth = counts.reduce((sum, c) => sum + pill(c.label) + 3.75, 0);
  const right = drawLabel(ctx, frame, text, header, status, node.label, false, countsWidth + caretWidth);
  const cy = header.y + NODE_H / 2;
  ctx.font = `${COUNT_PX}px ${palette.fontFamily}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  ctx.fillStyle = palette.fgSoft;
  ctx.fillText(caret, right, cy);
  let x = right - caretWidth;
  for (const count of [...counts].reverse()) {
    const width = pill(count.label);
    x -= width;
    ctx.fillStyle = palette.status[count.status].bg;
    ctx.beginPath();
    ctx.roundRect(x, cy - 8, width, 16, 8);
    ctx.fill();
    ctx.fillStyle = palette.status[count.status].fg;
    ctx.textAlign = 'center';
    ctx.fillText(count.label, x + width / 2, cy);
    x -= 3.75;
  }
}

/** The width the canvas's backing store needs for a CSS size (whole device pixels). */
export function backingSize(cssPixels: number, dpr: number): number {
  return Math.max(1, Math.round(cssPixels * dpr));
}
