/**
 * Gantry's traffic proxy: the HTTP data plane of progressive delivery (issue 3, §3). One
 * `TrafficProxy` per environment listens on the environment's port and forwards to the service
 * instances of the current route table; the rollout controller drives it only through
 * `setRoutes` and `drained`, the server reads `metrics`.
 *
 * ```ts
 * const proxy = new TrafficProxy({ environment: 'production', port: 8080 });
 * await proxy.listen();                                  // → { port }
 * proxy.setRoutes({
 *   upstreams: [
 *     { id: 'i-1', host: '127.0.0.1', port: 40001, pool: 'stable', version: 'r41' },
 *     { id: 'i-2', host: '127.0.0.1', port: 40002, pool: 'canary', version: 'r42' },
 *   ],
 *   weights: { stable: 90, canary: 10 },                 // percent, sum 100
 *   match: [{ header: 'x-canary', value: '1' }],          // matching requests → canary
 * });
 * proxy.setRoutes({ ...table, upstreams: withoutI2 });   // i-2 drains: no new requests …
 * await proxy.drained('i-2', 30_000);                    // … true once its in-flight ones finished
 * proxy.metrics.window(Date.now() - 30_000, Date.now(), { pool: 'canary' }); // analysis input
 * proxy.metrics.pendingRollups();                        // ten-second roll-ups for the store, kept …
 * proxy.metrics.ackRollups(through);                     // … until the server stored them
 * proxy.metrics.prometheus();                            // text for GET /metrics (served by the server)
 * await proxy.close();
 * ```
 *
 * Contract:
 * - `setRoutes(table)` validates (InputError, old table kept) and swaps the table atomically:
 *   each request is routed by exactly one table. Requests never go to an instance not in the
 *   current table, except in-flight ones that started before it was removed (draining).
 *   Instances kept (same id, host, port) keep their keep-alive connections.
 * - Split: smooth weighted round robin between the pools (exactly 10 of every 100 requests to
 *   the canary at 90/10), round robin inside a pool; an empty pool's weight goes to the other.
 *   A request matching any `match` rule (header or cookie; `value` equal, `regex`, or present)
 *   goes to the canary when it has instances.
 * - Retries: GET/HEAD/OPTIONS without a body are retried on another instance (same pool first)
 *   when the connection was refused, reset or timed out before any response byte; never after.
 *   Nothing left → 502 `{ error: { code: 'PROXY_UPSTREAM_FAILED' } }`; empty table → 503
 *   `PROXY_NO_UPSTREAM` (header `x-gantry-proxy-error` carries the code too).
 * - Requests are parsed strictly and ambiguous ones refused (ARCHITECTURE.md, "The proxy's
 *   parsing rules"). Headers: hop-by-hop ones (and those named in `Connection`) are dropped both
 *   ways; `X-Forwarded-For` is appended to, `X-Forwarded-Proto` and `-Host` are set; `Host` is
 *   kept, except that an absolute-form target's authority replaces it (RFC 9112 §3.2.2).
 * - Bodies stream both ways with backpressure; nothing is buffered whole. An `Upgrade` request
 *   (WebSocket or other) is forwarded like any request; only when the instance answers 101 does
 *   the connection become a raw tunnel, counted in flight until closed.
 * - The proxy never clears its table by itself: with no `setRoutes` calls it keeps routing.
 * - Metrics (per environment, version, pool, route = method + first path segment, at most 100
 *   routes per version): see `RequestMetrics`. `metrics: false` skips recording (benchmarks).
 *
 * In the server, each environment's proxy runs in its own process (proxy-host.ts) so traffic
 * keeps flowing by the last table while the server is busy, restarting or killed; the server
 * steers it through `ProxyClient` (same operations, asynchronous, over a 0600 Unix socket):
 *
 * ```ts
 * const proxy = await ProxyClient.start({ dataDir, environmentKey: 'p1:production', label: 'shop/production', host: '127.0.0.1', port: 8080 });
 * proxy.adopted;                                         // true: it was already running (same pid)
 * await proxy.setRoutes(table);                          // persisted by the proxy, then applied
 * await proxy.drained('i-2', 30_000);
 * await proxy.window(since, until, { version: 'r42' }); await proxy.prometheus();
 * const { rollups, through } = await proxy.readRollups(); // store them, then:
 * await proxy.ackRollups(through);                      // the proxy forgets them
 * await proxy.detach();                                  // server shutdown: the proxy keeps running
 * await proxy.close();                                   // the environment goes away: the proxy stops
 * ```
 */
export { PROXY_ERROR_CODES, TrafficProxy, type TrafficProxyOptions } from './traffic-proxy.ts';
export {
  RequestMetrics,
  RING_SECONDS,
  ROLLUP_MS,
  MAX_ROUTES,
  MAX_PENDING_ROLLUPS,
  PROMETHEUS_BUCKETS_S,
  type LatencyBucket,
  type Pool,
  type Rollup,
  type RollupBatch,
  type WindowStats,
} from './request-metrics.ts';
export { Router, validateRouteTable, type RouteTable, type Upstream } from './route-table.ts';
export { bucketIndex, bucketHighUs, quantileUs } from './latency-histogram.ts';
export {
  ProxyClient,
  ProxyControlError,
  ProxyFencedError,
  ProxyStartError,
  PROXY_CONTROL_UNAVAILABLE,
  PROXY_FENCED,
  PROXY_FILES,
  PROXY_NODE_FLAGS,
  PROXY_START_FAILED,
  processStartTime,
  proxyDir,
  type ProxyHostRecord,
  type ProxyStartOptions,
} from './proxy-client.ts';
export {
  ChaosFaults,
  ChaosSample,
  MAX_FAULT_SPAN_MS,
  type FaultAction,
  type FaultCallersRequest,
  type FaultReport,
  type FaultSetRequest,
  type FaultsEnd,
} from './chaos-faults.ts';
export { runProxyHost, type ProxyHost, type ProxyHostOptions } from './proxy-host.ts';
export type { RuntimePauseReport, RuntimeReport } from './runtime-pauses.ts';
export { runClusterProxy, type ClusterProxy, type ClusterProxyOptions } from './cluster-proxy.ts';
export { parseClusterRoutes, type ClusterRoute, type ClusterRoutesFile } from './cluster-routes.ts';
