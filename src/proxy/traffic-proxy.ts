/**
 * The traffic proxy of one environment: an HTTP/1.1 listener that forwards each request to an
 * instance chosen by the current route table, streams bodies both ways with backpressure, retries
 * idempotent requests whose connection failed before any response byte, drains removed instances,
 * passes WebSocket upgrades through, and records every request in `RequestMetrics`.
 *
 * The client side is node:http's server (its C parser guards against malformed and smuggled
 * requests); the upstream side is `UpstreamPool`. The per-request path allocates one `Exchange`,
 * the request head string and the response header array; listeners live on sockets, not requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { RequestMetrics, type VersionSeries } from './request-metrics.ts';
import { compileRules, cookieMatches, Router, ruleMatches, validateRouteTable, type CompiledRule, type RouteTable } from './route-table.ts';
import { UpstreamPool, type ExchangeSink, type PoolWaiter, type UpstreamConnection } from './upstream-pool.ts';

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
}

/** Stable codes of the proxy's own error answers (`{ error: { code, message } }`). */
export const PROXY_ERROR_CODES = {
  /** 503: the route table has no upstream. */
  noUpstream: 'PROXY_NO_UPSTREAM',
  /** 502: every upstream tried failed before answering (or the one tried, for non-idempotent requests). */
  upstreamFailed: 'PROXY_UPSTREAM_FAILED',
} as const;

const kExchange = Symbol('gantry.proxy.exchange');
interface ClientSocket extends Socket { [kExchange]?: Exchange | null }

const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const NO_BODY = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;

/** What `buildHead` found besides the head itself (one reused object: the proxy is single-threaded). */
interface HeadScan { head: string; toCanary: boolean; bodyMode: number }

function errorBody(code: string, message: string): string {
  return `${JSON.stringify({ error: { code, message } })}\n`;
}

/**
 * Builds the upstream request head from the client's raw headers: hop-by-hop headers and those
 * named in `Connection` removed, `X-Forwarded-For/-Proto/-Host` added, match rules evaluated on
 * the way. `upgrade` keeps `Connection: Upgrade` + `Upgrade` for WebSocket handshakes.
 */
function buildHead(req: IncomingMessage, rules: CompiledRule[], out: HeadScan, upgrade: boolean, drop: Set<string> | null): void {
  const raw = req.rawHeaders;
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  let xff = '';
  let host = '';
  let toCanary = false;
  let bodyMode = NO_BODY;
  let te = '';
  let upgradeValue = '';
  let connTokens: string[] | null = null;
  const nRules = rules.length;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const n = name.length;
    if (nRules > 0 && !toCanary) toCanary = matchHeader(rules, name, value);
    if (drop !== null && drop.has(name.toLowerCase())) continue;
    switch (n) {
      case 2:
        if (name.toLowerCase() === 'te') continue;
        break;
      case 4:
        if (name.toLowerCase() === 'host') host = value;
        break;
      case 7: {
        const l = name.toLowerCase();
        if (l === 'upgrade') { upgradeValue = value; continue; }
        if (l === 'trailer') continue;
        break;
      }
      case 10: {
        const l = name.toLowerCase();
        if (l === 'keep-alive') continue;
        if (l === 'connection') {
          for (const t of value.split(',')) {
            const tok = t.trim().toLowerCase();
            if (tok !== '' && tok !== 'close' && tok !== 'keep-alive' && tok !== 'upgrade') (connTokens ??= []).push(tok);
          }
          continue;
        }
        break;
      }
      case 14:
        if (name.toLowerCase() === 'content-length') bodyMode = BODY_LENGTH;
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') { xff = xff === '' ? value : `${xff}, ${value}`; continue; }
        break;
      case 16: {
        const l = name.toLowerCase();
        if (l === 'proxy-connection' || l === 'x-forwarded-host') continue;
        break;
      }
      case 17: {
        const l = name.toLowerCase();
        if (l === 'transfer-encoding') { te = value; bodyMode = BODY_CHUNKED; continue; }
        if (l === 'x-forwarded-proto') continue;
        break;
      }
      case 19:
        if (name.toLowerCase() === 'proxy-authorization') continue;
        break;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (connTokens !== null && drop === null) {
    buildHead(req, rules, out, upgrade, new Set(connTokens));
    return;
  }
  const remote = req.socket.remoteAddress ?? '';
  head += `X-Forwarded-For: ${xff === '' ? remote : `${xff}, ${remote}`}\r\nX-Forwarded-Proto: http\r\n`;
  if (host !== '') head += `X-Forwarded-Host: ${host}\r\n`;
  if (bodyMode === BODY_CHUNKED) head += `Transfer-Encoding: ${te}\r\n`;
  if (upgrade) head += `Connection: Upgrade\r\nUpgrade: ${upgradeValue}\r\n`;
  out.head = `${head}\r\n`;
  out.toCanary = toCanary;
  out.bodyMode = bodyMode;
}

function matchHeader(rules: CompiledRule[], name: string, value: string): boolean {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r] as CompiledRule;
    if (rule.kind === 'header') {
      if (name.length === rule.name.length && name.toLowerCase() === rule.name && ruleMatches(rule, value)) return true;
    } else if (name.length === 6 && name.toLowerCase() === 'cookie' && cookieMatches(rule, value)) {
      return true;
    }
  }
  return false;
}

/**
 * One client request on its way through the proxy. Implements the connection's callbacks, so a
 * request costs one object rather than a set of closures.
 */
class Exchange implements ExchangeSink, PoolWaiter {
  readonly proxy: TrafficProxy;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly start: number;
  readonly head: string;
  readonly isHead: boolean;
  readonly bodyMode: number;
  readonly retryable: boolean;
  pool: UpstreamPool | null = null;
  conn: UpstreamConnection | null = null;
  tried: UpstreamPool[] | null = null;
  status = 0;
  done = false;
  reqDone: boolean;
  bodyStarted = false;
  #resDrain: (() => void) | null = null;

  constructor(proxy: TrafficProxy, req: IncomingMessage, res: ServerResponse, start: number, scan: HeadScan) {
    this.proxy = proxy;
    this.req = req;
    this.res = res;
    this.start = start;
    this.head = scan.head;
    this.bodyMode = scan.bodyMode;
    const method = req.method as string;
    this.isHead = method === 'HEAD';
    this.retryable = scan.bodyMode === NO_BODY && RETRYABLE_METHODS.has(method);
    this.reqDone = scan.bodyMode === NO_BODY;
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
    conn.socket.write(this.head, 'latin1');
    if (this.bodyMode !== NO_BODY && !this.bodyStarted) this.#startBody();
  }

  requestComplete(): boolean {
    return this.reqDone;
  }

  onResponseHead(status: number, reason: string, headers: string[]): void {
    if (this.res.destroyed) {
      this.abort();
      return;
    }
    this.status = status;
    try {
      this.res.writeHead(status, reason, headers);
    } catch {
      // Header bytes node refuses to send (invalid characters): the answer cannot be relayed.
      this.status = 502;
      this.conn?.destroy();
      this.conn = null;
      this.#sendError(502, PROXY_ERROR_CODES.upstreamFailed, 'the upstream answered with headers that cannot be relayed');
      this.#finish();
    }
  }

  onResponseBody(piece: Buffer): boolean {
    const res = this.res;
    if (res.destroyed) {
      this.abort();
      return true;
    }
    if (res.write(piece)) return true;
    res.once('drain', (this.#resDrain ??= () => this.conn?.resume()));
    return false;
  }

  onResponseEnd(last: Buffer | null): void {
    this.conn = null;
    if (last === null) this.res.end();
    else this.res.end(last);
    this.#finish();
  }

  onFailure(code: string, responseStarted: boolean): void {
    this.conn = null;
    const pool = this.pool as UpstreamPool;
    const proxy = this.proxy;
    if (proxy.metricsOn) proxy.metrics.recordConnectionError(pool.series, performance.timeOrigin + performance.now());
    if (this.done) return;
    if (!responseStarted && this.retryable && !this.res.headersSent) {
      (this.tried ??= []).push(pool);
      const next = proxy.router.retry(pool, this.tried);
      if (next !== null) {
        pool.done();
        this.startOn(next);
        return;
      }
    }
    if (this.res.headersSent) {
      // Part of the answer is out: all we can do is cut the client connection so it sees the failure.
      this.status = 502;
      this.res.destroy();
    } else {
      this.status = 502;
      const why = responseStarted ? 'the upstream connection failed mid-response' : `no upstream could be reached (${code})`;
      this.#sendError(502, PROXY_ERROR_CODES.upstreamFailed, why);
    }
    this.#finish();
  }

  onRequestDrain(): void {
    if (!this.reqDone) this.req.resume();
  }

  /** The client went away: stop work upstream, do not record an answer. */
  abort(): void {
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
    this.#untrack();
  }

  #sendError(status: number, code: string, message: string): void {
    const body = errorBody(code, message);
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-gantry-proxy-error': code });
    res.end(body);
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    const pool = this.pool as UpstreamPool;
    const proxy = this.proxy;
    if (proxy.metricsOn) {
      const end = performance.now();
      proxy.metrics.record(pool.series, this.req.method as string, this.req.url as string, this.status, end - this.start, performance.timeOrigin + end);
    }
    pool.done();
    this.#untrack();
  }

  #untrack(): void {
    const s = this.req.socket as ClientSocket;
    if (s[kExchange] === this) s[kExchange] = null;
  }

  #startBody(): void {
    this.bodyStarted = true;
    const req = this.req;
    const chunked = this.bodyMode === BODY_CHUNKED;
    req.on('data', (chunk: Buffer) => {
      const conn = this.conn;
      if (conn === null || this.done) return;
      const s = conn.socket;
      let ok: boolean;
      if (chunked) {
        s.cork();
        s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        s.write(chunk);
        ok = s.write('\r\n', 'latin1');
        s.uncork();
      } else {
        ok = s.write(chunk);
      }
      if (!ok) req.pause();
    });
    req.on('end', () => {
      if (chunked && this.conn !== null && !this.done) this.conn.socket.write('0\r\n\r\n', 'latin1');
      this.reqDone = true;
    });
    req.on('error', () => this.abort());
  }
}

/** One WebSocket (or other Upgrade) tunnel; counted in flight on its upstream until it closes. */
class Tunnel {
  readonly proxy: TrafficProxy;
  readonly req: IncomingMessage;
  readonly client: Socket;
  readonly firstBytes: Buffer;
  readonly head: string;
  readonly start: number;
  pool: UpstreamPool | null = null;
  up: Socket | null = null;
  tried: UpstreamPool[] = [];
  closed = false;

  constructor(proxy: TrafficProxy, req: IncomingMessage, client: Socket, firstBytes: Buffer, head: string, start: number) {
    this.proxy = proxy;
    this.req = req;
    this.client = client;
    this.firstBytes = firstBytes;
    this.head = head;
    this.start = start;
    client.on('error', () => this.close());
    client.on('close', () => this.close());
  }

  open(pool: UpstreamPool): void {
    this.pool = pool;
    pool.inFlight++;
    const up = connect({ host: pool.upstream.host, port: pool.upstream.port, noDelay: true });
    this.up = up;
    let connected = false;
    up.setTimeout(pool.connectTimeoutMs, () => { if (!connected) up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })); });
    up.once('connect', () => {
      connected = true;
      up.setTimeout(0);
      if (this.closed) { up.destroy(); return; }
      up.write(this.head, 'latin1');
      if (this.firstBytes.length > 0) up.write(this.firstBytes);
      up.once('data', (d: Buffer) => this.#firstResponse(d));
      // Either side finishing ends the tunnel once its last bytes are flushed to the other (node's
      // http sockets allow half-open connections, which would otherwise keep it alive forever).
      up.pipe(this.client, { end: false });
      this.client.pipe(up, { end: false });
      up.once('end', () => this.client.end(() => this.close()));
      this.client.once('end', () => up.end(() => this.close()));
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (connected || this.closed) { this.close(); return; }
      if (this.proxy.metricsOn) this.proxy.metrics.recordConnectionError(pool.series, Date.now());
      this.tried.push(pool);
      pool.done();
      this.pool = null;
      this.up = null;
      const next = this.proxy.router.retry(pool, this.tried);
      if (next !== null) { this.open(next); return; }
      const body = errorBody(PROXY_ERROR_CODES.upstreamFailed, `no upstream could be reached (${err.code ?? 'ECONNRESET'})`);
      this.client.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      this.closed = true;
    });
    up.on('close', () => this.close());
  }

  #firstResponse(d: Buffer): void {
    const status = d.length >= 12 ? Number(d.toString('latin1', 9, 12)) : 502;
    if (this.proxy.metricsOn && this.pool !== null) {
      const end = performance.now();
      this.proxy.metrics.record(this.pool.series, this.req.method as string, this.req.url as string, Number.isFinite(status) ? status : 502, end - this.start, performance.timeOrigin + end);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.up?.destroy();
    this.client.destroy();
    this.proxy.tunnels.delete(this);
    this.pool?.done();
    this.pool = null;
  }
}

interface DrainWaiter { id: string; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }

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
  readonly #o: Required<Omit<TrafficProxyOptions, 'metrics'>>;
  readonly #server: Server;
  /** Pools of the current table, by id + address. */
  #active = new Map<string, UpstreamPool>();
  readonly #draining = new Set<UpstreamPool>();
  readonly #drainWaiters = new Set<DrainWaiter>();
  readonly #scan: HeadScan = { head: '', toCanary: false, bodyMode: NO_BODY };
  #sweeper: NodeJS.Timeout | null = null;
  #closing = false;

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
    this.#server = createServer({
      keepAliveTimeout: 60_000,
      headersTimeout: 30_000,
      // Uploads and long polls may take long; slow clients are bounded by headersTimeout.
      requestTimeout: 0,
      noDelay: true,
    }, this.#onRequest);
    this.#server.on('upgrade', this.#onUpgrade);
    this.#server.on('connection', (s: ClientSocket) => {
      s[kExchange] = null;
      s.on('close', onClientClose);
    });
    this.#server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
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
          upstream: { ...u }, series, maxSockets: this.#o.maxSocketsPerUpstream,
          connectTimeoutMs: this.#o.connectTimeoutMs, idleTimeoutMs: this.#o.upstreamIdleTimeoutMs,
          onIdle: this.#onPoolIdle,
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
        timer: setTimeout(() => { this.#drainWaiters.delete(w); resolve(false); }, timeoutMs),
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
    this.#server.closeIdleConnections();
    const deadline = performance.now() + this.#o.closeTimeoutMs;
    while (this.#inFlight() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.#server.closeAllConnections();
    for (const t of [...this.tunnels]) t.close();
    for (const p of [...this.#active.values(), ...this.#draining]) {
      p.draining = true;
      p.closeIdle();
    }
    for (const w of this.#drainWaiters) { clearTimeout(w.timer); w.resolve(!this.#busy(w.id)); }
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
  }

  #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const start = performance.now();
    const router = this.router;
    if (router.all.length === 0 || this.#closing) {
      const code = PROXY_ERROR_CODES.noUpstream;
      const body = errorBody(code, this.#closing ? 'the proxy is shutting down' : `environment ${this.#o.environment} has no upstream in its route table`);
      res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-gantry-proxy-error': code });
      res.end(body);
      return;
    }
    const scan = this.#scan;
    buildHead(req, router.rules, scan, false, null);
    const pool = router.pick(scan.toCanary) as UpstreamPool;
    const ex = new Exchange(this, req, res, start, scan);
    (req.socket as ClientSocket)[kExchange] = ex;
    ex.startOn(pool);
  };

  #onUpgrade = (req: IncomingMessage, socket: Socket, firstBytes: Buffer): void => {
    const start = performance.now();
    const router = this.router;
    if (router.all.length === 0 || this.#closing) {
      const body = errorBody(PROXY_ERROR_CODES.noUpstream, `environment ${this.#o.environment} has no upstream in its route table`);
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const scan = this.#scan;
    buildHead(req, router.rules, scan, true, null);
    const pool = router.pick(scan.toCanary) as UpstreamPool;
    const t = new Tunnel(this, req, socket, firstBytes, scan.head, start);
    this.tunnels.add(t);
    t.open(pool);
  };
}

function onClientClose(this: ClientSocket): void {
  const ex = this[kExchange];
  if (ex !== undefined && ex !== null && !ex.done) ex.abort();
}
