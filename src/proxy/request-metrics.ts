/**
 * What the proxy knows about the traffic it forwards, kept cheap enough to record every request:
 * per (version, pool) a ring of one-second slots (counts by status class, connection errors,
 * an HDR-style latency histogram) for the last `RING_SECONDS`, and per route cumulative
 * counters for Prometheus plus per-second counts for the ten-second roll-ups.
 *
 * Recording writes into preallocated typed arrays (no allocation, no string building once a
 * route is known); the analysis (`window`), the store (`pendingRollups`) and `/metrics`
 * (`prometheus`) pay for aggregation when they ask. Each one-second slot remembers the range of
 * histogram buckets it used, so reading or clearing a slot touches those buckets, not all 1,408.
 * Each request is also added to its ten-second block (a roll-up period), so a five-minute window
 * sums 30 blocks and at most 18 edge seconds instead of 300 seconds, and a roll-up is one block:
 * the server reads five minutes twice a second while a canary is analysed, on the same event loop
 * that forwards requests, and summing 300 slots (~0.6 ms with a wide latency spread) paused every
 * request in flight twice a second.
 *
 * Completed roll-ups are numbered and kept until the server acknowledges them as stored
 * (`ackRollups`): a server killed between reading and storing reads them again, and the store
 * ignores a roll-up it already has, so each is stored exactly once.
 */
import { BUCKETS, bucketHighUs, bucketIndex, quantileUs } from './latency-histogram.ts';

/** Which pool of a route table served the request. */
export type Pool = 'stable' | 'canary';

/** Seconds of one-second slots kept in memory (~5 minutes). */
export const RING_SECONDS = 300;
/** Length of a roll-up, ms. */
export const ROLLUP_MS = 10_000;
/** Distinct routes per (version, pool) before new ones are counted as `<METHOD> /*other`. */
export const MAX_ROUTES = 100;
/**
 * Roll-ups kept for a server that does not acknowledge them (down, or an older one): over an
 * hour for a stable and a canary series. Beyond, the oldest go (counted in `droppedRollups`).
 */
export const MAX_PENDING_ROLLUPS = 1_000;

/** Upper bounds (seconds) of the Prometheus latency histogram. */
export const PROMETHEUS_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// Slot layout of the per-second counters: requests, 1xx..5xx, connection errors, spare.
const SLOT = 8;
const REQ = 0;
const CONN_ERR = 6;
const CLASS_NAMES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);
/** Seconds of one block: a roll-up period, so a roll-up reads one block. */
const BLOCK_SECONDS = ROLLUP_MS / 1000;
/** Blocks kept: the ring's seconds, so a block is reused only once its period is older than any window can reach. */
const BLOCKS = RING_SECONDS / BLOCK_SECONDS;

/** Prometheus bucket of each histogram bucket: the first `le` not below the bucket's highest value. */
const PROM_INDEX = (() => {
  const out = new Uint8Array(BUCKETS);
  for (let i = 0; i < BUCKETS; i++) {
    const s = bucketHighUs(i) / 1e6;
    let j = 0;
    while (j < PROMETHEUS_BUCKETS_S.length && (PROMETHEUS_BUCKETS_S[j] as number) < s) j++;
    out[i] = j;
  }
  return out;
})();

/** Starts slot `slot` afresh for second `sec`, clearing only the buckets its last second used. */
function resetSlot(s: VersionSeries, slot: number, sec: number): void {
  s.secs[slot] = sec;
  const base = slot * SLOT;
  s.counts.fill(0, base, base + SLOT);
  const lo = s.lowBucket[slot] as number;
  const hi = s.highBucket[slot] as number;
  if (s.hist !== null && lo <= hi) s.hist.fill(0, slot * BUCKETS + lo, slot * BUCKETS + hi + 1);
  s.lowBucket[slot] = BUCKETS;
  s.highBucket[slot] = 0;
}

/** Starts block `b` afresh for period `period` (seconds `period * BLOCK_SECONDS` on). */
function resetBlock(s: VersionSeries, b: number, period: number): void {
  s.blockPeriod[b] = period;
  s.blockCounts.fill(0, b * SLOT, b * SLOT + SLOT);
  const lo = s.blockLow[b] as number;
  const hi = s.blockHigh[b] as number;
  if (s.blockHist !== null && lo <= hi) s.blockHist.fill(0, b * BUCKETS + lo, b * BUCKETS + hi + 1);
  s.blockLow[b] = BUCKETS;
  s.blockHigh[b] = 0;
}

/**
 * Adds entry `i` of a set of counters (SLOT each) and histograms (BUCKETS each, counted within
 * `lo..hi`) to `totals` and `hist`: a one-second slot or a ten-second block.
 */
function addEntry(
  counts: Uint32Array,
  h: Uint32Array | null,
  i: number,
  lo: number,
  hi: number,
  totals: Float64Array,
  hist: Float64Array,
): void {
  for (let k = 0; k < SLOT; k++) totals[k]! += counts[i * SLOT + k] as number;
  if (h === null) return;
  const off = i * BUCKETS;
  for (let b = lo; b <= hi; b++) hist[b]! += h[off + b] as number;
}

/**
 * Adds the seconds [from, to) of `s`: whole blocks where a block covers them and is still the one
 * of their period (a block is only reset by a record of a later period, which also means none of
 * its seconds' slots was reset: slots are reset by records `RING_SECONDS` later), slots elsewhere.
 */
function addSeconds(s: VersionSeries, from: number, to: number, totals: Float64Array, hist: Float64Array): void {
  let sec = from;
  while (sec < to) {
    if (sec % BLOCK_SECONDS === 0 && sec + BLOCK_SECONDS <= to) {
      const period = sec / BLOCK_SECONDS;
      const b = period % BLOCKS;
      if (s.blockPeriod[b] === period) {
        addEntry(s.blockCounts, s.blockHist, b, s.blockLow[b] as number, s.blockHigh[b] as number, totals, hist);
        sec += BLOCK_SECONDS;
        continue;
      }
    }
    const slot = sec % RING_SECONDS;
    if (s.secs[slot] === sec) addEntry(s.counts, s.hist, slot, s.lowBucket[slot] as number, s.highBucket[slot] as number, totals, hist);
    sec++;
  }
}

/** Status code → class 1..5 (anything odd counts as 5xx: the client got no usable answer). */
function statusClass(status: number): number {
  const c = (status / 100) | 0;
  return c >= 1 && c <= 5 ? c : 5;
}

/** One route of one (version, pool): cumulative counters and per-second counts. */
export class RouteSeries {
  readonly route: string;
  /** Cumulative requests by class index 1..5 (0 unused). */
  readonly classTotals = new Float64Array(6);
  /** Cumulative non-cumulative-bucket counts for the Prometheus histogram (+Inf last). */
  readonly promBuckets = new Float64Array(PROMETHEUS_BUCKETS_S.length + 1);
  sumSeconds = 0;
  readonly secs = new Float64Array(RING_SECONDS).fill(-1);
  readonly counts = new Uint32Array(RING_SECONDS * SLOT);
  constructor(route: string) {
    this.route = route;
  }
}

/** Per (version, pool): the one-second ring and its routes. Handed to the proxy once per route table. */
export class VersionSeries {
  readonly version: string;
  readonly pool: Pool;
  readonly secs = new Float64Array(RING_SECONDS).fill(-1);
  readonly counts = new Uint32Array(RING_SECONDS * SLOT);
  /** RING_SECONDS histograms back to back, allocated on the first request (1.7 MB). */
  hist: Uint32Array | null = null;
  /** Per slot, the lowest and highest histogram bucket it counted (lowest > highest: none). */
  readonly lowBucket = new Uint16Array(RING_SECONDS).fill(BUCKETS);
  readonly highBucket = new Uint16Array(RING_SECONDS);
  /** The same per ten-second block (`BLOCKS` of them): its period, counters, histogram (allocated with `hist`) and bucket range. */
  readonly blockPeriod = new Float64Array(BLOCKS).fill(-1);
  readonly blockCounts = new Uint32Array(BLOCKS * SLOT);
  blockHist: Uint32Array | null = null;
  readonly blockLow = new Uint16Array(BLOCKS).fill(BUCKETS);
  readonly blockHigh = new Uint16Array(BLOCKS);
  connectionErrorsTotal = 0;
  /** method → first path segment → series; the two-level map avoids building a key per request. */
  readonly routes = new Map<string, Map<string, RouteSeries>>();
  routeCount = 0;
  /** The last request's method, target and series: traffic repeats targets, and a route never changes series once known. */
  #lastMethod = '';
  #lastUrl = '';
  #lastRoute: RouteSeries | null = null;
  constructor(version: string, pool: Pool) {
    this.version = version;
    this.pool = pool;
  }

  /** The series of `method` + the first segment of `url`; bounded by MAX_ROUTES. */
  route(method: string, url: string): RouteSeries {
    if (this.#lastRoute !== null && url === this.#lastUrl && method === this.#lastMethod) return this.#lastRoute;
    const r = this.#route(method, url);
    this.#lastMethod = method;
    this.#lastUrl = url;
    this.#lastRoute = r;
    return r;
  }

  #route(method: string, url: string): RouteSeries {
    const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
    let byPath = this.routes.get(m);
    if (byPath === undefined) {
      byPath = new Map();
      this.routes.set(m, byPath);
    }
    let end = url.length;
    for (let i = 1; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
        end = i;
        break;
      }
    }
    const seg = url.charCodeAt(0) === 47 ? url.slice(0, end) : '/*other';
    const known = byPath.get(seg);
    if (known !== undefined) return known;
    const key = this.routeCount >= MAX_ROUTES ? '/*other' : seg;
    let series = byPath.get(key);
    if (series === undefined) {
      series = new RouteSeries(`${m} ${key}`);
      byPath.set(key, series);
      this.routeCount++;
    }
    return series;
  }
}

/** A ten-second roll-up of one (version, pool), for the store. */
export interface Rollup {
  /** Its number in this proxy process's sequence (what `ackRollups` takes); 0 from an older proxy. */
  seq: number;
  environment: string;
  version: string;
  pool: Pool;
  startMs: number;
  endMs: number;
  requests: number;
  /** 5xx answers (the app's or the proxy's own 502/503). */
  errors: number;
  /** Failed attempts to reach an instance of this version (some were retried elsewhere). */
  connectionErrors: number;
  statusClasses: Record<string, number>;
  latency: LatencyBucket[];
  p50: number;
  p90: number;
  p99: number;
  routes: { route: string; requests: number; errors: number; statusClasses: Record<string, number> }[];
}

/** The roll-ups not yet acknowledged, oldest first, and the cursor that acknowledges all of them. */
export interface RollupBatch {
  rollups: Rollup[];
  /** The highest `seq` among them (or of the last acknowledged one when there are none). */
  through: number;
  /** Roll-ups dropped unacknowledged since the process started (MAX_PENDING_ROLLUPS). */
  dropped: number;
}

/** One histogram bucket: its representative latency (the bucket's highest value) and count. */
export interface LatencyBucket {
  valueMs: number;
  count: number;
}

/** Aggregate of a time window, what the canary analysis compares. */
export interface WindowStats {
  requests: number;
  errors: number;
  connectionErrors: number;
  statusClasses: Record<string, number>;
  latency: LatencyBucket[];
  p50: number;
  p90: number;
  p99: number;
}

function classRecord(counts: ArrayLike<number>, base: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let c = 1; c <= 5; c++) out[CLASS_NAMES[c - 1] as string] = counts[base + c] as number;
  return out;
}

function latencyBuckets(hist: Float64Array): LatencyBucket[] {
  const out: LatencyBucket[] = [];
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i] as number;
    if (n > 0) out.push({ valueMs: bucketHighUs(i) / 1000, count: n });
  }
  return out;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * Request metrics of one environment's proxy. The proxy calls `series()` when a route table is
 * installed and `record()` once per request; readers use `window`, `drainRollups` and
 * `prometheus`. Not thread-safe (one event loop).
 */
export class RequestMetrics {
  readonly environment: string;
  readonly #series = new Map<string, VersionSeries>();
  readonly #now: () => number;
  #rolledUntilMs: number;
  /** Completed roll-ups not yet acknowledged, by ascending seq. */
  #pending: Rollup[] = [];
  #lastSeq = 0;
  #dropped = 0;

  constructor(o: { environment: string; now?: () => number }) {
    this.environment = o.environment;
    this.#now = o.now ?? Date.now;
    this.#rolledUntilMs = Math.floor(this.#now() / ROLLUP_MS) * ROLLUP_MS;
  }

  /** The series of a (version, pool), created on first use and kept (versions are few). */
  series(version: string, pool: Pool): VersionSeries {
    const key = `${pool}\0${version}`;
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new VersionSeries(version, pool);
      this.#series.set(key, s);
    }
    return s;
  }

  /** Records one answered request (status as sent to the client) that took `latencyMs`, ending at `atMs` (epoch). */
  record(s: VersionSeries, method: string, url: string, status: number, latencyMs: number, atMs: number): void {
    const sec = Math.floor(atMs / 1000);
    const slot = sec % RING_SECONDS;
    const cls = statusClass(status);
    const counts = s.counts;
    const base = slot * SLOT;
    if (s.secs[slot] !== sec) resetSlot(s, slot, sec);
    counts[base + REQ]! += 1;
    counts[base + cls]! += 1;
    if (s.hist === null) {
      s.hist = new Uint32Array(RING_SECONDS * BUCKETS);
      s.blockHist = new Uint32Array(BLOCKS * BUCKETS);
    }
    const hist = s.hist;
    const idx = bucketIndex(latencyMs * 1000);
    hist[slot * BUCKETS + idx]! += 1;
    if (idx < (s.lowBucket[slot] as number)) s.lowBucket[slot] = idx;
    if (idx > (s.highBucket[slot] as number)) s.highBucket[slot] = idx;
    const period = (sec - (sec % BLOCK_SECONDS)) / BLOCK_SECONDS;
    const b = period % BLOCKS;
    if (s.blockPeriod[b] !== period) resetBlock(s, b, period);
    const bc = s.blockCounts;
    bc[b * SLOT + REQ]! += 1;
    bc[b * SLOT + cls]! += 1;
    (s.blockHist as Uint32Array)[b * BUCKETS + idx]! += 1;
    if (idx < (s.blockLow[b] as number)) s.blockLow[b] = idx;
    if (idx > (s.blockHigh[b] as number)) s.blockHigh[b] = idx;

    const r = s.route(method, url);
    r.classTotals[cls]! += 1;
    r.promBuckets[PROM_INDEX[idx] as number]! += 1;
    r.sumSeconds += latencyMs / 1000;
    const rc = r.counts;
    if (r.secs[slot] !== sec) {
      r.secs[slot] = sec;
      rc.fill(0, base, base + SLOT);
    }
    rc[base + REQ]! += 1;
    rc[base + cls]! += 1;
  }

  /** Records a failed attempt to reach an instance (refused, reset, timed out) at `atMs`. */
  recordConnectionError(s: VersionSeries, atMs: number): void {
    const sec = Math.floor(atMs / 1000);
    const slot = sec % RING_SECONDS;
    if (s.secs[slot] !== sec) resetSlot(s, slot, sec);
    s.counts[slot * SLOT + CONN_ERR]! += 1;
    const period = (sec - (sec % BLOCK_SECONDS)) / BLOCK_SECONDS;
    const b = period % BLOCKS;
    if (s.blockPeriod[b] !== period) resetBlock(s, b, period);
    s.blockCounts[b * SLOT + CONN_ERR]! += 1;
    s.connectionErrorsTotal += 1;
  }

  /**
   * Totals of the one-second slots starting in [sinceMs, untilMs), optionally of one version
   * and/or pool. Slots older than RING_SECONDS are gone. Latencies in ms.
   */
  window(sinceMs: number, untilMs: number, filter: { version?: string; pool?: Pool } = {}): WindowStats {
    const totals = new Float64Array(SLOT);
    const hist = new Float64Array(BUCKETS);
    const nowSec = Math.floor(this.#now() / 1000);
    const from = Math.max(Math.ceil(sinceMs / 1000), nowSec - RING_SECONDS + 1);
    const to = Math.ceil(untilMs / 1000); // exclusive: slot `sec` starts at sec*1000 < untilMs
    for (const s of this.#series.values()) {
      if (filter.version !== undefined && s.version !== filter.version) continue;
      if (filter.pool !== undefined && s.pool !== filter.pool) continue;
      addSeconds(s, from, to, totals, hist);
    }
    return summarize(totals, hist);
  }

  /**
   * The roll-ups completed and not yet acknowledged (at most MAX_PENDING_ROLLUPS, oldest first).
   * Reading does not consume: the same ones come back until `ackRollups` takes them.
   */
  pendingRollups(): RollupBatch {
    this.collectRollups();
    return { rollups: [...this.#pending], through: this.#lastSeq, dropped: this.#dropped };
  }

  /** Forgets the roll-ups up to `through` (stored by the server). Idempotent; returns how many went. */
  ackRollups(through: number): number {
    let n = 0;
    while (n < this.#pending.length && (this.#pending[n] as Rollup).seq <= through) n++;
    if (n > 0) this.#pending.splice(0, n);
    return n;
  }

  /**
   * Reads and acknowledges at once: each roll-up is handed out at most once (lost if the caller
   * fails to store it). For servers that predate `ackRollups`.
   */
  drainRollups(): Rollup[] {
    const { rollups, through } = this.pendingRollups();
    this.ackRollups(through);
    return rollups;
  }

  /**
   * Turns the ten-second periods completed since the last call into numbered pending roll-ups
   * (one per (version, pool) with traffic). Called on a timer by the proxy process, so periods
   * older than the ring are kept while no server reads them.
   */
  collectRollups(): void {
    const until = Math.floor(this.#now() / ROLLUP_MS) * ROLLUP_MS;
    const oldest = until - (RING_SECONDS - ROLLUP_MS / 1000) * 1000;
    for (let start = Math.max(this.#rolledUntilMs, oldest); start < until; start += ROLLUP_MS) {
      for (const s of this.#series.values()) {
        const r = this.#rollup(s, start);
        if (r === null) continue;
        this.#pending.push(r);
        if (this.#pending.length > MAX_PENDING_ROLLUPS) {
          this.#pending.shift();
          this.#dropped++;
        }
      }
    }
    this.#rolledUntilMs = Math.max(this.#rolledUntilMs, until);
  }

  /** The roll-up of `s` over [start, start + ROLLUP_MS), or null without traffic. */
  #rollup(s: VersionSeries, start: number): Rollup | null {
    const firstSec = start / 1000;
    const lastSec = firstSec + ROLLUP_MS / 1000;
    const totals = new Float64Array(SLOT);
    const hist = new Float64Array(BUCKETS);
    addSeconds(s, firstSec, lastSec, totals, hist);
    if (totals[REQ] === 0 && totals[CONN_ERR] === 0) return null;
    const routes: Rollup['routes'] = [];
    for (const byPath of s.routes.values()) {
      for (const r of new Set(byPath.values())) {
        const rt = new Float64Array(SLOT);
        for (let sec = firstSec; sec < lastSec; sec++) {
          const slot = sec % RING_SECONDS;
          if (r.secs[slot] !== sec) continue;
          for (let k = 0; k < SLOT; k++) rt[k]! += r.counts[slot * SLOT + k] as number;
        }
        if (rt[REQ] === 0) continue;
        routes.push({ route: r.route, requests: rt[REQ] as number, errors: rt[5] as number, statusClasses: classRecord(rt, 0) });
      }
    }
    return {
      seq: ++this.#lastSeq,
      environment: this.environment,
      version: s.version,
      pool: s.pool,
      startMs: start,
      endMs: start + ROLLUP_MS,
      ...summarize(totals, hist),
      routes,
    };
  }

  /**
   * The Prometheus text exposition of the cumulative counters: `gantry_proxy_requests_total`,
   * `gantry_proxy_request_duration_seconds` (histogram) and `gantry_proxy_connection_errors_total`.
   * Series of one version in both pools are summed (the labels do not carry the pool).
   */
  prometheus(): string {
    const env = escapeLabel(this.environment);
    type Agg = { version: string; route: string; classes: Float64Array; buckets: Float64Array; sum: number };
    const byKey = new Map<string, Agg>();
    const connErr = new Map<string, number>();
    for (const s of this.#series.values()) {
      connErr.set(s.version, (connErr.get(s.version) ?? 0) + s.connectionErrorsTotal);
      for (const byPath of s.routes.values()) {
        for (const r of new Set(byPath.values())) {
          const key = `${s.version}\0${r.route}`;
          let a = byKey.get(key);
          if (a === undefined) {
            a = {
              version: s.version,
              route: r.route,
              classes: new Float64Array(6),
              buckets: new Float64Array(r.promBuckets.length),
              sum: 0,
            };
            byKey.set(key, a);
          }
          for (let c = 0; c < 6; c++) a.classes[c]! += r.classTotals[c] as number;
          for (let b = 0; b < r.promBuckets.length; b++) a.buckets[b]! += r.promBuckets[b] as number;
          a.sum += r.sumSeconds;
        }
      }
    }
    const lines: string[] = [
      '# HELP gantry_proxy_requests_total Requests answered through the proxy, by status class.',
      '# TYPE gantry_proxy_requests_total counter',
    ];
    for (const a of byKey.values()) {
      const l = `environment="${env}",version="${escapeLabel(a.version)}",route="${escapeLabel(a.route)}"`;
      for (let c = 1; c <= 5; c++)
        if ((a.classes[c] as number) > 0)
          lines.push(`gantry_proxy_requests_total{${l},status_class="${CLASS_NAMES[c - 1]}"} ${a.classes[c]}`);
    }
    lines.push('# HELP gantry_proxy_request_duration_seconds Time from request received to response handed to the client.');
    lines.push('# TYPE gantry_proxy_request_duration_seconds histogram');
    for (const a of byKey.values()) {
      const l = `environment="${env}",version="${escapeLabel(a.version)}",route="${escapeLabel(a.route)}"`;
      let cum = 0;
      for (let b = 0; b < PROMETHEUS_BUCKETS_S.length; b++) {
        cum += a.buckets[b] as number;
        lines.push(`gantry_proxy_request_duration_seconds_bucket{${l},le="${PROMETHEUS_BUCKETS_S[b]}"} ${cum}`);
      }
      cum += a.buckets[PROMETHEUS_BUCKETS_S.length] as number;
      lines.push(`gantry_proxy_request_duration_seconds_bucket{${l},le="+Inf"} ${cum}`);
      lines.push(`gantry_proxy_request_duration_seconds_sum{${l}} ${a.sum}`);
      lines.push(`gantry_proxy_request_duration_seconds_count{${l}} ${cum}`);
    }
    lines.push('# HELP gantry_proxy_connection_errors_total Failed attempts to reach an instance (refused, reset, timed out).');
    lines.push('# TYPE gantry_proxy_connection_errors_total counter');
    for (const [version, n] of connErr)
      lines.push(`gantry_proxy_connection_errors_total{environment="${env}",version="${escapeLabel(version)}"} ${n}`);
    return `${lines.join('\n')}\n`;
  }
}

function summarize(totals: Float64Array, hist: Float64Array): WindowStats {
  const n = totals[REQ] as number;
  return {
    requests: n,
    errors: totals[5] as number,
    connectionErrors: totals[CONN_ERR] as number,
    statusClasses: classRecord(totals, 0),
    latency: latencyBuckets(hist),
    p50: quantileUs(hist, n, 0.5) / 1000,
    p90: quantileUs(hist, n, 0.9) / 1000,
    p99: quantileUs(hist, n, 0.99) / 1000,
  };
}
