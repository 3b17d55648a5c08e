/**
 * The traffic proxy of one environment: an HTTP/1.1 listener that forwards each request to an
 * instance chosen by the current route table, streams bodies both ways with backpressure, retries
 * idempotent requests whose connection failed before any response byte, drains removed instances,
 * tunnels upgrades the upstream accepted (101, `tunnel.ts`), and records every request in `RequestMetrics`.
 *
 * The client side is `ClientConnection` (a strict request parser that refuses ambiguous requests,
 * writing response heads straight to the socket); the upstream side is `UpstreamPool`. The
 * per-request path allocates the parsed head, one `Exchange` and the request head string;
 * listeners live on sockets, not requests, and timeouts are deadlines checked by one sweeper.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ChaosFaults, type ChaosSample, type FaultAction } from './chaos-faults.ts';
import { ClientConnection, type ClientExchange, type ClientHandler } from './client-connection.ts';
import { RequestMetrics, type VersionSeries } from './request-metrics.ts';
import { BODY_CHUNKED, MAX_REQUEST_HEAD, NO_BODY, type RequestHead } from './request-parser.ts';
import { compileRules, Router, validateRouteTable, type RouteTable } from './route-table.ts';
import { Tunnel } from './tunnel.ts';
import {
  newUpstreamStats,
  UpstreamPool,
  type ExchangeSink,
  type PoolWaiter,
  type UpstreamConnection,
  type UpstreamStats,
} from './upstream-pool.ts';
import { buildUpstreamHead, type HeadScan } from './upstream-head.ts';
import type { ErrorCode } from '../core/error-codes.ts';

/** node:http's defaults for the client side: idle keep-alive 60 s (was keepAliveTimeout), a head within 30 s (headersTimeout). */
const CLIENT_TIMEOUTS = { keepAliveMs: 60_000, headersMs: 30_000 } as const;

/** Options of a `TrafficProxy`. */
export interface TrafficProxyOptions {
  environment: string;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 picks a free one (see `listen()`'s result). */
  port: number;
  /** Record request metrics; default true. Off only to measure what recording costs. */
  metrics?: boolean;
  /** Connecting to an instance longer than this counts as refused (retryable); default 2,000 ms. */
  connectTimeoutMs?: number;
  /** Connections per instance; requests beyond wait for one. Default 256. */
  maxSocketsPerUpstream?: number;
  /** Idle upstream connections older than this are closed, well below Node's 5 s keep-alive; default 2,000 ms. */
  upstreamIdleTimeoutMs?: number;
  /** How long `close()` lets in-flight requests finish; default 5,000 ms. */
  closeTimeoutMs?: number;
  /** Chaos faults (tests pass one with a seeded random source); default a fresh one. */
  chaos?: ChaosFaults;
}

/** Stable codes of the proxy's own error answers (`{ error: { code, message } }`). */
export const PROXY_ERROR_CODES = {
  /** 503: the route table has no upstream. */
  noUpstream: 'PROXY_NO_UPSTREAM' satisfies ErrorCode,
  /** 502: every upstream tried failed before answering (or the one tried, for non-idempotent requests). */
  upstreamFailed: 'PROXY_UPSTREAM_FAILED' satisfies ErrorCode,
  /** 431: the head the upstream would get (the client's plus X-Forwarded-*) exceeds MAX_REQUEST_HEAD. */
  headTooLarge: 'PROXY_HEAD_TOO_LARGE' satisfies ErrorCode,
} as const;

/** Methods retried on another instance when the connection failed before any response byte (compared, not looked up: every request asks). */
function retryableMethod(m: string): boolean {
  return m === 'GET' || m === 'HEAD' || m === 'OPTIONS';
}

/** `performance.timeOrigin`, read once: its getter allocates on every read, and every request needs it. */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * One client request on its way through the proxy. Implements the connections' callbacks on both
 * sides, so a request costs one object rather than a set of closures.
 */
class Exchange implements ExchangeSink, PoolWaiter, ClientExchange {
  readonly proxy: TrafficProxy;
  readonly client: ClientConnection;
  readonly method: string;
  readonly url: string;
  readonly start: number;
  readonly head: string;
  readonly isHead: boolean;
  readonly upgrade: boolean;
  readonly chunked: boolean;
  readonly retryable: boolean;
  pool: UpstreamPool | null = null;
  conn: UpstreamConnection | null = null;
  tried: UpstreamPool[] | null = null;
  status = 0;
  done = false;
  reqDone = false;
  /** Request body pieces that arrived before an upstream connection was free. */
  queued: Buffer[] | null = null;
  waitingForClient = false;
  /** Set once the upstream switched protocols (101). */
  tunnel: Tunnel | null = null;
  /** The side of a chaos experiment's blast radius this request is counted on, while one is set. */
  chaos: ChaosSample | null = null;

  constructor(proxy: TrafficProxy, client: ClientConnection, req: RequestHead, start: number, head: string) {
    this.proxy = proxy;
    this.client = client;
    this.method = req.method;
    this.url = req.target;
    this.start = start;
    this.head = head;
    this.isHead = req.method === 'HEAD';
    this.upgrade = req.upgrade;
    this.chunked = req.bodyMode === BODY_CHUNKED;
    this.retryable = req.bodyMode === NO_BODY && retryableMethod(req.method);
  }

  /** Sends the request to `pool` (now or when the pool has a free connection). */
  startOn(pool: UpstreamPool): void {
    this.pool = pool;
    pool.inFlight++;
    const c = pool.acquire(this);
    if (c !== null) this.attach(c);
  }

  attach(conn: UpstreamConnection): void {
    if (this.done) {
      // The client left while we waited for a connection: give it straight back.
      conn.pool.release(conn);
      return;
    }
    this.conn = conn;
    conn.begin(this);
    const s = conn.socket;
    s.write(this.head, 'latin1');
    const queued = this.queued;
    if (queued !== null) {
      this.queued = null;
      let ok = true;
      for (const piece of queued) ok = this.#sendBody(s, piece);
      if (ok) this.client.resume();
    }
    if (this.reqDone && this.chunked) s.write('0\r\n\r\n', 'latin1');
  }

  // ---- client side

  onRequestBody(piece: Buffer): void {
    if (this.done) return;
    const conn = this.conn;
    if (conn === null) {
      (this.queued ??= []).push(piece);
      this.client.pause();
      return;
    }
    if (!this.#sendBody(conn.socket, piece)) this.client.pause();
  }

  onRequestEnd(): void {
    this.reqDone = true;
    if (this.chunked && this.conn !== null && !this.done) this.conn.socket.write('0\r\n\r\n', 'latin1');
    if (this.tunnel !== null) this.#joinTunnel(this.tunnel);
  }

  onClientDrain(): void {
    if (this.tunnel !== null) {
      this.conn?.resume();
      return;
    }
    if (!this.waitingForClient) return;
    this.waitingForClient = false;
    this.conn?.resume();
  }

  #sendBody(s: Socket, piece: Buffer): boolean {
    if (!this.chunked) return s.write(piece);
    s.cork();
    s.write(`${piece.length.toString(16)}\r\n`, 'latin1');
    s.write(piece);
    const ok = s.write('\r\n', 'latin1');
    s.uncork();
    return ok;
  }

  // ---- upstream side

  requestComplete(): boolean {
    return this.reqDone;
  }

  onResponseHead(status: number, reason: string, block: Buffer, hasLength: boolean): void {
    this.status = status;
    if (this.client.respondHead(status, reason, block, hasLength, this.isHead)) return;
    // A reason phrase that must not be sent (invalid characters): the answer cannot be relayed.
    this.status = 502;
    this.conn?.destroy();
    this.conn = null;
    this.client.respondError(502, PROXY_ERROR_CODES.upstreamFailed, 'the upstream answered with headers that cannot be relayed');
    this.#finish();
  }

  onResponseBody(piece: Buffer): boolean {
    if (this.client.respondBody(piece)) return true;
    this.waitingForClient = true;
    return false;
  }

  onReadEnd(): void {
    this.client.flush();
  }

  onResponseEnd(buf: Buffer | null, from: number, to: number): void {
    this.conn = null;
    this.client.respondEnd(buf, from, to);
    this.#finish();
  }

  onFailure(code: string, responseStarted: boolean): void {
    this.conn = null;
    const pool = this.pool as UpstreamPool;
    const proxy = this.proxy;
    if (proxy.metricsOn) proxy.metrics.recordConnectionError(pool.series, TIME_ORIGIN + performance.now());
    if (this.done) return;
    if (!responseStarted && this.retryable && !this.client.responseStarted) {
      (this.tried ??= []).push(pool);
      const next = proxy.router.retry(pool, this.tried);
      if (next !== null) {
        pool.done();
        this.startOn(next);
        return;
      }
    }
    this.status = 502;
    // When part of the answer is out, respondError cuts the client connection so it sees the failure.
    const why = responseStarted ? 'the upstream connection failed mid-response' : `no upstream could be reached (${code})`;
    this.client.respondError(502, PROXY_ERROR_CODES.upstreamFailed, why);
    this.#finish();
  }

  onRequestDrain(): void {
    if (!this.reqDone) this.client.resume();
  }

  onSwitchingProtocols(conn: UpstreamConnection, head: string, rest: Buffer): void {
    this.status = 101;
    this.#record();
    const pool = this.pool as UpstreamPool;
    const proxy = this.proxy;
    // In flight on its upstream (for draining) until it closes.
    const t = new Tunnel(this.client.socket, conn, () => {
      proxy.tunnels.delete(t);
      pool.done();
    });
    this.tunnel = t;
    proxy.tunnels.add(t);
    t.start(head, rest);
    // Until the request body is complete, the client's bytes are that body (see onRequestEnd).
    if (this.reqDone) this.#joinTunnel(t);
  }

  #joinTunnel(t: Tunnel): void {
    const { rest, ended } = this.client.takeOver();
    t.joinClient(rest, ended);
  }

  /** The client went away: stop work upstream, do not record an answer. */
  abort(): void {
    if (this.tunnel !== null) {
      this.tunnel.close();
      return;
    }
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) conn.destroy();
    const pool = this.pool;
    if (pool !== null) {
      if (conn === null) pool.cancel(this);
      pool.done();
    }
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    this.#record();
    (this.pool as UpstreamPool).done();
  }

  #record(): void {
    const proxy = this.proxy;
    if (this.chaos !== null) this.chaos.add(this.status, performance.now() - this.start, this);
    if (!proxy.metricsOn) return;
    const end = performance.now();
    proxy.metrics.record((this.pool as UpstreamPool).series, this.method, this.url, this.status, end - this.start, TIME_ORIGIN + end);
  }
}

interface DrainWaiter {
  id: string;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * The HTTP data plane of one environment. `setRoutes` atomically replaces routing; instances no
 * longer listed are drained (no new requests; in-flight ones and WebSocket tunnels finish).
 * Without `setRoutes` calls it keeps routing with the last table, whatever happens elsewhere.
 */
export class TrafficProxy {
  /** Request metrics of this environment; the server exposes `metrics.prometheus()` at /metrics. */
  readonly metrics: RequestMetrics;
  /** @internal read on the hot path */
  readonly metricsOn: boolean;
  /** @internal the current compiled table */
  router: Router<UpstreamPool> = new Router<UpstreamPool>([], [], { stable: 100, canary: 0 }, []);
  /** @internal open WebSocket tunnels */
  readonly tunnels = new Set<Tunnel>();
  /** A chaos experiment's faults, set and cleared through the control socket (chaos-faults.ts). */
  readonly chaos: ChaosFaults;
  /** Upstream connections opened since the start, and the requests that waited for one, over every instance's pool (diagnostics). */
  readonly upstreamStats: UpstreamStats = newUpstreamStats();
  readonly #callers = new WeakMap<ClientConnection, { generation: number; caller: string | null }>();
  readonly #o: Required<Omit<TrafficProxyOptions, 'metrics' | 'chaos'>>;
  readonly #server: Server;
  /** Pools of the current table, by id + address. */
  #active = new Map<string, UpstreamPool>();
  readonly #draining = new Set<UpstreamPool>();
  readonly #drainWaiters = new Set<DrainWaiter>();
  readonly #scan: HeadScan = { head: '', toCanary: false };
  #sweeper: NodeJS.Timeout | null = null;
  #closing = false;
  readonly #clients = new Set<ClientConnection>();
  readonly #handler: ClientHandler = {
    onRequest: (c, h) => this.#onRequest(c, h),
    onClosed: (c) => {
      this.#clients.delete(c);
    },
  };

  constructor(o: TrafficProxyOptions) {
    this.#o = {
      environment: o.environment,
      host: o.host ?? '127.0.0.1',
      port: o.port,
      connectTimeoutMs: o.connectTimeoutMs ?? 2000,
      maxSocketsPerUpstream: o.maxSocketsPerUpstream ?? 256,
      upstreamIdleTimeoutMs: o.upstreamIdleTimeoutMs ?? 2000,
      closeTimeoutMs: o.closeTimeoutMs ?? 5000,
    };
    this.metricsOn = o.metrics ?? true;
    this.metrics = new RequestMetrics({ environment: o.environment });
    this.chaos = o.chaos ?? new ChaosFaults();
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (s: Socket) => {
      this.#clients.add(new ClientConnection(s, this.#handler, CLIENT_TIMEOUTS));
    });
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        const a = this.#server.address();
        this.#sweeper = setInterval(() => this.#sweep(), 500);
        this.#sweeper.unref();
        resolve({ port: typeof a === 'object' && a !== null ? a.port : this.#o.port });
      });
    });
  }

  /**
   * Atomically replaces routing (throws InputError on an invalid table, keeping the old one).
   * Instances kept (same id, host and port) keep their warm connections; the others are drained.
   */
  setRoutes(table: RouteTable): void {
    validateRouteTable(table);
    const rules = compileRules(table.match ?? []);
    const next = new Map<string, UpstreamPool>();
    const stable: UpstreamPool[] = [];
    const canary: UpstreamPool[] = [];
    for (const u of table.upstreams) {
      const key = `${u.id}\0${u.host}\0${u.port}`;
      const series: VersionSeries = this.metrics.series(u.version, u.pool);
      let pool = this.#active.get(key);
      if (pool === undefined) {
        pool = new UpstreamPool({
          upstream: { ...u },
          series,
          maxSockets: this.#o.maxSocketsPerUpstream,
          connectTimeoutMs: this.#o.connectTimeoutMs,
          idleTimeoutMs: this.#o.upstreamIdleTimeoutMs,
          onIdle: this.#onPoolIdle,
          stats: this.upstreamStats,
        });
      } else {
        pool.upstream = { ...u };
        pool.series = series;
      }
      next.set(key, pool);
      (u.pool === 'canary' ? canary : stable).push(pool);
    }
    for (const [key, pool] of this.#active) {
      if (next.has(key)) continue;
      pool.draining = true;
      pool.closeIdle();
      if (pool.inFlight > 0) this.#draining.add(pool);
    }
    this.#active = next;
    this.router = new Router(stable, canary, table.weights, rules);
  }

  /** Resolves true once no request (or tunnel) is in flight to upstream `upstreamId`, false after `timeoutMs`. */
  drained(upstreamId: string, timeoutMs: number): Promise<boolean> {
    if (!this.#busy(upstreamId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: DrainWaiter = {
        id: upstreamId,
        resolve,
        timer: setTimeout(() => {
          this.#drainWaiters.delete(w);
          resolve(false);
        }, timeoutMs),
      };
      this.#drainWaiters.add(w);
    });
  }

  /**
   * Stops listening, lets in-flight requests finish for up to `closeTimeoutMs`, then closes every
   * client, tunnel and upstream connection.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const c of this.#clients) {
      c.closeAfterResponse = true;
      if (c.idle) c.destroy();
    }
    const deadline = performance.now() + this.#o.closeTimeoutMs;
    while (this.#inFlight() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.#clients) c.destroy();
    for (const t of [...this.tunnels]) t.close();
    for (const p of [...this.#active.values(), ...this.#draining]) {
      p.draining = true;
      p.closeIdle();
    }
    for (const w of this.#drainWaiters) {
      clearTimeout(w.timer);
      w.resolve(!this.#busy(w.id));
    }
    this.#drainWaiters.clear();
    await closed;
  }

  #inFlight(): number {
    let n = 0;
    for (const p of this.#active.values()) n += p.inFlight;
    for (const p of this.#draining) n += p.inFlight;
    return n;
  }

  #busy(id: string): boolean {
    for (const p of this.#active.values()) if (p.upstream.id === id && p.inFlight > 0) return true;
    for (const p of this.#draining) if (p.upstream.id === id && p.inFlight > 0) return true;
    return false;
  }

  #onPoolIdle = (pool: UpstreamPool): void => {
    if (pool.draining) {
      this.#draining.delete(pool);
      pool.closeIdle();
    }
    if (this.#drainWaiters.size === 0) return;
    const id = pool.upstream.id;
    if (this.#busy(id)) return;
    for (const w of this.#drainWaiters) {
      if (w.id !== id) continue;
      clearTimeout(w.timer);
      this.#drainWaiters.delete(w);
      w.resolve(true);
    }
  };

  #sweep(): void {
    const now = performance.now();
    for (const p of this.#active.values()) p.sweep(now);
    // Idle keep-alive connections and heads that take too long (node:http's keepAliveTimeout, headersTimeout).
    for (const c of this.#clients) if (c.deadline < now) c.destroy();
  }

  #onRequest(client: ClientConnection, req: RequestHead): void {
    const start = performance.now();
    const router = this.router;
    if (router.all.length === 0 || this.#closing) {
      client.respondError(
        503,
        PROXY_ERROR_CODES.noUpstream,
        this.#closing ? 'the proxy is shutting down' : `environment ${this.#o.environment} has no upstream in its route table`,
      );
      return;
    }
    const scan = this.#scan;
    buildUpstreamHead(req, client.remoteAddress, req.authority === '' ? client.localAuthority : req.authority, router.rules, scan);
    // What the upstream gets must fit a Node upstream's default limit too, X-Forwarded-* included.
    if (scan.head.length > MAX_REQUEST_HEAD) {
      client.respondError(
        431,
        PROXY_ERROR_CODES.headTooLarge,
        `request head larger than ${MAX_REQUEST_HEAD} bytes once the proxy's X-Forwarded-* headers are added`,
      );
      return;
    }
    const pool = router.pick(scan.toCanary) as UpstreamPool;
    const ex = new Exchange(this, client, req, start, scan.head);
    client.exchange = ex;
    if (this.chaos.active) {
      const action = this.chaos.decide(req.method, req.target, req.headers, pool.upstream.version, () => this.#callerOf(client));
      if (action !== null) {
        this.#applyFault(action, ex, client, pool);
        return;
      }
    }
    ex.startOn(pool);
  }

  /** The Gantry instance calling on this connection, looked up once per connection (chaos-faults.ts `callerOf`). */
  #callerOf(client: ClientConnection): string | null {
    const known = this.#callers.get(client);
    if (known !== undefined && known.generation === this.chaos.generation) return known.caller;
    const caller = this.chaos.callerOf(client.socket.remotePort ?? 0, client.socket.localPort ?? 0);
    this.#callers.set(client, { generation: this.chaos.generation, caller });
    return caller;
  }

  /** Carries out a chaos experiment's decision on one request (see chaos-faults.ts). */
  #applyFault(action: FaultAction, ex: Exchange, client: ClientConnection, pool: UpstreamPool): void {
    ex.chaos = action.sample;
    switch (action.kind) {
      case 'none':
        ex.startOn(pool);
        return;
      case 'delay':
      case 'timeout': {
        let timer: NodeJS.Timeout | null = null;
        const forward = (): void => {
          if (timer !== null) clearTimeout(timer);
          unhold();
          if (!ex.done) ex.startOn(pool);
        };
        const unhold = this.chaos.hold({ release: forward });
        timer = setTimeout(() => {
          if (action.kind === 'delay') {
            forward();
            return;
          }
          unhold();
          if (ex.done) return;
          ex.done = true;
          this.#answerFault(ex, client, pool, 504, `a chaos experiment held this request for ${Math.round(action.ms)} ms`);
        }, action.ms);
        return;
      }
      case 'abort':
        ex.done = true;
        this.#answerFault(ex, client, pool, action.status, 'a chaos experiment answered this request with an injected error');
        return;
      case 'reset':
        ex.done = true;
        action.sample.add(0, performance.now() - ex.start, ex);
        client.exchange = null;
        client.destroy();
        return;
    }
  }

  #answerFault(ex: Exchange, client: ClientConnection, pool: UpstreamPool, status: number, message: string): void {
    const end = performance.now();
    ex.chaos?.add(status, end - ex.start, ex);
    client.respondError(status, 'CHAOS_FAULT' satisfies ErrorCode, message);
    if (this.metricsOn) this.metrics.record(pool.series, ex.method, ex.url, status, end - ex.start, TIME_ORIGIN + end);
  }
}
