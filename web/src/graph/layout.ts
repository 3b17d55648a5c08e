/**
 * Where the nodes of a run's job graph go: the `needs` DAG left to right. Pure and independent
 * of statuses, so the dashboard lays a graph out once per shape and live status updates only
 * repaint nodes.
 *
 * - Matrix instances of one job id collapse into one group node unless the group is expanded;
 *   an expanded group stays one node, taller by a row per instance (the instances listed inside
 *   it), so expanding never reshuffles the rest of the graph's columns.
 * - Columns are depths: the longest path from a root. Bad input (a cycle, an unknown need)
 *   must not hang: edges closing a cycle are ignored, unknown needs dropped.
 * - Rows inside a column come from a few barycenter sweeps (Sugiyama-style, without dummy
 *   nodes): each node moves towards the mean row of its neighbours in the previous (downward
 *   sweep) or next (upward sweep) columns. Each sweep is O(V + E + V log V).
 */

/** The part of a job the layout reads: its shape, never its status. */
export interface GraphJob {
  key: string;
  /** The job id in gantry.yaml, shared by the instances of a matrix. */
  id: string;
  needs: readonly string[];
}

export interface LayoutNode {
  /** `job:<key>` or `group:<id>`. */
  id: string;
  kind: 'job' | 'group';
  /** The job id for a group, the key for a job. */
  label: string;
  /** The job keys this node stands for (one for a job; the instances, in input order, for a group). */
  keys: string[];
  expanded: boolean;
  column: number;
  /** The row of the node's top (its header); a node spans `size` rows. */
  row: number;
  size: number;
}

export interface LayoutEdge {
  from: string;
  to: string;
}

/** One keyboard stop: a job, a group's header, or an instance inside an expanded group. */
export interface LayoutItem {
  /** `job:<key>`, `group:<id>` or `instance:<key>`. */
  id: string;
  nodeId: string;
  /** The job this item opens; null for a group header (which expands or collapses). */
  key: string | null;
  column: number;
  row: number;
}

export interface GraphLayout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  /** Keyboard stops ordered by column, then row. */
  items: LayoutItem[];
  columns: number;
  /** Rows of the tallest column. */
  rows: number;
  /** job key → the id of the node showing it. */
  nodeOfKey: Map<string, string>;
}

export interface LayoutOptions {
  /** Ids of the matrix groups shown expanded. */
  expanded?: ReadonlySet<string>;
  /** Barycenter sweeps (alternating down and up); default 4. */
  sweeps?: number;
}

/** Lays out the job graph; see the module comment. */
export function layoutGraph(jobs: readonly GraphJob[], options: LayoutOptions = {}): GraphLayout {
  const expanded = options.expanded ?? new Set<string>();
  const sweeps = options.sweeps ?? 4;

  const { nodes, nodeOfKey } = groupNodes(jobs, expanded);
  const index = new Map(nodes.map((n, i) => [n.id, i]));

  // Edges between nodes, deduplicated (instances of one group needing another make one edge).
  const preds: number[][] = nodes.map(() => []);
  const succs: number[][] = nodes.map(() => []);
  const seen = new Set<string>();
  for (const job of jobs) {
    const to = index.get(nodeOfKey.get(job.key) ?? '');
    if (to === undefined) continue;
    for (const need of job.needs) {
      const from = index.get(nodeOfKey.get(need) ?? '');
      if (from === undefined || from === to) continue;
      const pair = `${from}>${to}`;
      if (seen.has(pair)) continue;
      seen.add(pair);
      preds[to]?.push(from);
      succs[from]?.push(to);
    }
  }

  const depth = depths(nodes.length, preds, succs);
  // Edges closing a cycle (or going backwards after the fallback) are dropped from the drawing.
  const edges: LayoutEdge[] = [];
  for (let to = 0; to < nodes.length; to++) {
    for (const from of preds[to] ?? []) {
      if ((depth[from] ?? 0) < (depth[to] ?? 0)) edges.push({ from: nodes[from]?.id ?? '', to: nodes[to]?.id ?? '' });
    }
  }

  const columnCount = nodes.length === 0 ? 0 : Math.max(...depth) + 1;
  const columns: number[][] = Array.from({ length: columnCount }, () => []);
  for (let i = 0; i < nodes.length; i++) columns[depth[i] ?? 0]?.push(i);

  const rowOf = new Float64Array(nodes.length);
  const assignRows = (column: number[]) => {
    let row = 0;
    for (const i of column) {
      rowOf[i] = row;
      row += nodes[i]?.size ?? 1;
    }
  };
  for (const column of columns) assignRows(column);

  for (let sweep = 0; sweep < sweeps; sweep++) {
    const down = sweep % 2 === 0;
    const neighbours = down ? preds : succs;
    const order = down ? columns.keys() : [...columns.keys()].reverse().values();
    for (const c of order) {
      const column = columns[c];
      if (!column || column.length < 2) continue;
      const keyed = column.map((i, position) => {
        const near = neighbours[i] ?? [];
        let sum = 0;
        for (const n of near) sum += rowOf[n] ?? 0;
        // A node with no neighbour on this side keeps its place.
        return { i, position, weight: near.length ? sum / near.length : (rowOf[i] ?? 0) };
      });
      keyed.sort((a, b) => a.weight - b.weight || a.position - b.position);
      columns[c] = keyed.map((k) => k.i);
      assignRows(columns[c] ?? []);
    }
  }

  let rows = 0;
  const items: LayoutItem[] = [];
  for (const [c, column] of columns.entries()) {
    for (const i of column) {
      const node = nodes[i];
      if (!node) continue;
      node.column = c;
      node.row = rowOf[i] ?? 0;
      rows = Math.max(rows, node.row + node.size);
      if (node.kind === 'job') {
        items.push({ id: node.id, nodeId: node.id, key: node.keys[0] ?? null, column: c, row: node.row });
      } else {
        items.push({ id: node.id, nodeId: node.id, key: null, column: c, row: node.row });
        if (node.expanded)
          for (const [k, key] of node.keys.entries())
            items.push({ id: `instance:${key}`, nodeId: node.id, key, column: c, row: node.row + 1 + k });
      }
    }
  }
  return { nodes, edges, items, columns: columnCount, rows, nodeOfKey };
}

/** One node per job, except matrix instances (2+ jobs sharing an id) which share a group node. */
function groupNodes(jobs: readonly GraphJob[], expanded: ReadonlySet<string>): { nodes: LayoutNode[]; nodeOfKey: Map<string, string> } {
  const keysPerId = new Map<string, Set<string>>();
  for (const job of jobs) {
    const keys = keysPerId.get(job.id) ?? new Set<string>();
    keys.add(job.key);
    keysPerId.set(job.id, keys);
  }
  const nodes: LayoutNode[] = [];
  const groups = new Map<string, LayoutNode>();
  const nodeOfKey = new Map<string, string>();
  for (const job of jobs) {
    if (nodeOfKey.has(job.key)) continue; // duplicate keys: the first wins
    if ((keysPerId.get(job.id)?.size ?? 0) < 2) {
      const id = `job:${job.key}`;
      nodes.push({ id, kind: 'job', label: job.key, keys: [job.key], expanded: false, column: 0, row: 0, size: 1 });
      nodeOfKey.set(job.key, id);
      continue;
    }
    let group = groups.get(job.id);
    if (!group) {
      const open = expanded.has(job.id);
      group = { id: `group:${job.id}`, kind: 'group', label: job.id, keys: [], expanded: open, column: 0, row: 0, size: 1 };
      groups.set(job.id, group);
      nodes.push(group);
    }
    group.keys.push(job.key);
    if (group.expanded) group.size = 1 + group.keys.length;
    nodeOfKey.set(job.key, group.id);
  }
  return { nodes, nodeOfKey };
}

/**
 * Longest-path depth of each node (Kahn's algorithm). Nodes on a cycle never reach in-degree 0:
 * they are placed after their already placed predecessors, in input order.
 */
function depths(count: number, preds: number[][], succs: number[][]): number[] {
  const depth = new Array<number>(count).fill(0);
  const remaining = preds.map((p) => p.length);
  const done = new Uint8Array(count);
  const queue: number[] = [];
  for (let i = 0; i < count; i++) if (remaining[i] === 0) queue.push(i);
  const drain = () => {
    for (let head = 0; head < queue.length; head++) {
      const i = queue[head] ?? 0;
      done[i] = 1;
      for (const s of succs[i] ?? []) {
        depth[s] = Math.max(depth[s] ?? 0, (depth[i] ?? 0) + 1);
        remaining[s] = (remaining[s] ?? 0) - 1;
        if (remaining[s] === 0) queue.push(s);
      }
    }
    queue.length = 0;
  };
  drain();
  for (let i = 0; i < count; i++) {
    if (done[i]) continue;
    // Break the cycle here: forget the predecessors not placed yet.
    let d = 0;
    for (const p of preds[i] ?? []) if (done[p]) d = Math.max(d, (depth[p] ?? 0) + 1);
    depth[i] = d;
    remaining[i] = 0;
    queue.push(i);
    drain();
  }
  return depth;
}

/**
 * Crossings between edges joining adjacent columns (edges spanning more columns are not
 * counted): what the sweeps try to reduce, for tests and diagnostics.
 */
export function countCrossings(layout: GraphLayout): number {
  const byId = new Map(layout.nodes.map((n) => [n.id, n]));
  const spans: { column: number; a: number; b: number }[] = [];
  for (const e of layout.edges) {
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    if (from && to && to.column === from.column + 1) spans.push({ column: from.column, a: from.row, b: to.row });
  }
  let crossings = 0;
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const x = spans[i];
      const y = spans[j];
      if (x && y && x.column === y.column && (x.a - y.a) * (x.b - y.b) < 0) crossings++;
    }
  }
  return crossings;
}

/** Where a key moves the focus inside the graph. */
export type FocusMove = 'up' | 'down' | 'left' | 'right' | 'home' | 'end';

/**
 * The keyboard stop an arrow key moves to from `current`: up/down within the column, left/right
 * to the nearest row in the neighbouring column (skipping empty ones). Returns `current` when
 * there is nowhere to go.
 */
export function moveFocus(layout: GraphLayout, current: string, key: FocusMove): string {
  const { items } = layout;
  const at = items.findIndex((item) => item.id === current);
  const here = items[at];
  if (!here) return items[0]?.id ?? current;
  if (key === 'home') return items[0]?.id ?? current;
  if (key === 'end') return items[items.length - 1]?.id ?? current;
  if (key === 'up' || key === 'down') {
    const next = items[at + (key === 'up' ? -1 : 1)];
    return next && next.column === here.column ? next.id : current;
  }
  const step = key === 'left' ? -1 : 1;
  for (let column = here.column + step; column >= 0 && column < layout.columns; column += step) {
    let best: LayoutItem | undefined;
    for (const item of items) {
      if (item.column !== column) continue;
      if (!best || Math.abs(item.row - here.row) < Math.abs(best.row - here.row)) best = item;
    }
    if (best) return best.id;
  }
  return current;
}
