/**
 * Keep-alive connections to one upstream instance, and the HTTP/1.1 response parser that runs on
 * them. A custom pool instead of `http.Agent` because the agent's per-request `ClientRequest`,
 * `IncomingMessage` and listener churn were most of a naive proxy's CPU: here a connection's
 * listeners are attached once, idle connections are reused least recently used first, and a
 * response is parsed straight from the socket's buffers into callbacks on the waiting exchange.
 * Bodies stream through piece by piece; nothing is buffered beyond one socket read.
 *
 * Least recently used first, not the warmest: under steady traffic every connection a burst once
 * needed keeps being used, so none sits idle long enough to be closed, and the next burst finds
 * them open (HAProxy's stay open too). Reusing the warmest one first let the others idle out after
 * `idleTimeoutMs` (2 s) and each burst opened them again, a TCP handshake and the upstream's
 * accept on the path of the requests that were already waiting longest.
 *
 * Framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204, 304; `Transfer-Encoding: chunked`
 * before `Content-Length`; otherwise read until close. Anything ambiguous (bad status line,
 * obs-fold, conflicting lengths, bytes after the response) closes the connection, never reuses it.
 * A 101 to a request that asked for an upgrade turns the connection into one end of a raw tunnel:
 * it leaves the pool, and its reads go to the `TunnelEnd` instead of the parser.
 */
import { connect, type Socket } from 'node:net';
import type { VersionSeries } from './request-metrics.ts';
import { parseResponseHead, type ResponseHead } from './response-head.ts';
import type { Upstream } from './route-table.ts';

/** What a connection reports to the exchange it serves. Called in this order: head, body*, end | failure. */
export interface ExchangeSink {
  /** Whether the request was a HEAD (its response has no body whatever the headers say). */
  readonly isHead: boolean;
  /** Whether the request asked for an upgrade (a 101 answer is then allowed). */
  readonly upgrade: boolean;
  /** False while the request body is still being sent: the connection is then not reusable. */
  requestComplete(): boolean;
  /**
   * The final response head: `block` holds the header lines to relay (`Name: value\r\n` each,
   * validated, hop-by-hop and framing headers removed except Content-Length), `hasLength`
   * whether Content-Length is among them. `block` may be a view of the connection's read buffer:
   * valid until this read is handled (`onReadEnd` or `onResponseEnd`), copy it to keep it longer.
   */
  onResponseHead(status: number, reason: string, block: Buffer, hasLength: boolean): void;
  /**
   * One piece of the decoded body; false asks the connection to pause until `resume()`. The
   * piece is valid during the call only (the connection reads into a reused buffer): copy to keep it.
   */
  onResponseBody(piece: Buffer): boolean;
  /**
   * The response is complete; its final body piece, when there is one, is `buf[from, to)` (valid
   * during the call only: a range rather than a view, one object fewer per response).
   */
  onResponseEnd(buf: Buffer | null, from: number, to: number): void;
  /** The connection failed; `responseStarted` is true once any response byte arrived. */
  onFailure(code: string, responseStarted: boolean): void;
  /** The connection can take more request body. */
  onRequestDrain(): void;
  /**
   * A socket read was handled and the response is still incomplete: anything held back (a
   * response head kept to go out with the first body bytes) must be sent now.
   */
  onReadEnd(): void;
  /**
   * The upstream switched protocols: `head` is its 101 head as received (validated, blank line
   * included), `rest` the bytes after it (a copy). `conn` has left the pool and reads nothing
   * until `conn.tunnel()` names where its bytes go.
   */
  onSwitchingProtocols(conn: UpstreamConnection, head: string, rest: Buffer): void;
}

/** Where a connection's bytes go once it is a tunnel (after a 101); `onData`'s piece is valid during the call only. */
export interface TunnelEnd {
  /** False asks the connection to pause until `resume()`. */
  onUpstreamData(piece: Buffer): boolean;
  onUpstreamEnd(): void;
  onUpstreamClose(): void;
  onUpstreamDrain(): void;
}

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_CRLF = 4;
const TRAILERS = 5;
const BODY_CLOSE = 6;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4096;

class ProtocolError extends Error {
  readonly code = 'EPROTO';
}

/** One keep-alive TCP connection to an upstream, serving one exchange at a time. */
export class UpstreamConnection {
  readonly socket: Socket;
  readonly pool: UpstreamPool;
  exchange: ExchangeSink | null = null;
  /** performance.now() when it last went idle. */
  idleSince = 0;
  /** performance.now() when it was opened; requests sent before it connected waited from then. */
  readonly #openedAt = performance.now();
  #state = HEAD;
  #remaining = 0;
  #pending: Buffer | null = null;
  #keepAlive = true;
  #gotBytes = false;
  #lastError: string | null = null;
  #connected = false;
  #dead = false;
  /** Set on a 101 to an upgrade request. */
  #switched = false;
  #tunnel: TunnelEnd | null = null;

  constructor(pool: UpstreamPool) {
    this.pool = pool;
    // Reads land in the pool's one buffer (no allocation and no stream machinery per read); what
    // must outlive a read is copied.
    const s = connect({
      host: pool.upstream.host,
      port: pool.upstream.port,
      noDelay: true,
      onread: { buffer: pool.readBuffer, callback: this.#onRead },
    });
    this.socket = s;
    s.setTimeout(pool.connectTimeoutMs);
    s.on('connect', this.#onConnect);
    s.on('end', this.#onEnd);
    s.on('error', this.#onError);
    s.on('close', this.#onClose);
    s.on('timeout', this.#onTimeout);
    s.on('drain', this.#onDrain);
  }

  /** Starts a response cycle for `ex` (the request is written by the caller). */
  begin(ex: ExchangeSink): void {
    this.exchange = ex;
    this.#state = HEAD;
    this.#gotBytes = false;
    this.#keepAlive = true;
  }

  /** Resumes reading after the client caught up. */
  resume(): void {
    this.socket.resume();
  }

  /** Closes it now; an exchange still attached is not told (the caller gave up on it). */
  destroy(): void {
    this.exchange = null;
    this.#dead = true;
    this.socket.destroy();
  }

  get alive(): boolean {
    return !this.#dead && !this.socket.destroyed;
  }

  /** Sends this (switched) connection's bytes to `end` from now on, and starts reading. */
  tunnel(end: TunnelEnd): void {
    this.#tunnel = end;
    this.socket.resume();
  }

  #onConnect = (): void => {
    this.#connected = true;
    this.socket.setTimeout(0);
    if (this.exchange !== null) recordWait(this.pool.stats.connectWaits, performance.now() - this.#openedAt);
  };

  #onTimeout = (): void => {
    if (!this.#connected) {
      this.#lastError = 'ETIMEDOUT';
      this.socket.destroy();
    }
  };

  #onError = (err: NodeJS.ErrnoException): void => {
    this.#lastError = err.code ?? 'ECONNRESET';
  };

  #onDrain = (): void => {
    if (this.#tunnel !== null) this.#tunnel.onUpstreamDrain();
    else this.exchange?.onRequestDrain();
  };

  #onEnd = (): void => {
    if (this.#tunnel !== null) {
      this.#tunnel.onUpstreamEnd();
      return;
    }
    const ex = this.exchange;
    if (ex !== null && this.#state === BODY_CLOSE) {
      this.#complete(null, 0, 0, false);
      return;
    }
    this.#dead = true;
    this.socket.destroy();
  };

  #onClose = (): void => {
    this.#dead = true;
    if (this.#switched) {
      // Left the pool at the 101.
      this.#tunnel?.onUpstreamClose();
      return;
    }
    this.pool.remove(this);
    const ex = this.exchange;
    if (ex === null) return;
    this.exchange = null;
    ex.onFailure(this.#lastError ?? (this.#connected ? 'ECONNRESET' : 'ECONNREFUSED'), this.#gotBytes);
  };

  #fail(code: string): void {
    this.#lastError = code;
    this.#dead = true;
    this.socket.destroy();
  }

  /** The `onread` callback: `n` bytes are in the pool's read buffer. True keeps reading (pausing is explicit). */
  #onRead = (n: number): boolean => {
    const t = this.#tunnel;
    if (t !== null) {
      if (!t.onUpstreamData(this.pool.readBuffer.subarray(0, n))) this.socket.pause();
      return true;
    }
    const ex = this.exchange;
    if (ex === null) {
      // Bytes nobody asked for: the stream is out of step, never reuse it.
      this.#fail('EPROTO');
      return true;
    }
    this.#parse(this.pool.readBuffer.subarray(0, n), ex);
    if (this.exchange === ex) ex.onReadEnd();
    return true;
  };

  #parse(chunk: Buffer, ex: ExchangeSink): void {
    this.#gotBytes = true;
    let buf = chunk;
    if (this.#pending !== null) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = null;
    }
    let pos = 0;
    const len = buf.length;
    try {
      while (pos < len) {
        switch (this.#state) {
          case HEAD: {
            const end = buf.indexOf(CRLFCRLF, pos);
            if (end < 0) {
              if (len - pos > MAX_HEAD) throw new ProtocolError('response head too large');
              this.#pending = Buffer.from(buf.subarray(pos));
              return;
            }
            const head = parseResponseHead(buf, pos, end, ex.upgrade);
            const headStart = pos;
            pos = end + 4;
            if (head.interim) break;
            if (head.switched) {
              this.#switched = true;
              this.#switchProtocols(ex, buf.toString('latin1', headStart, end), buf.subarray(pos));
              return;
            }
            if (!this.#onHead(head, ex)) {
              this.#complete(null, 0, 0, pos < len);
              return;
            }
            break;
          }
          case BODY_LENGTH: {
            const avail = len - pos;
            if (avail < this.#remaining) {
              this.#remaining -= avail;
              if (!ex.onResponseBody(pos === 0 ? buf : buf.subarray(pos))) this.socket.pause();
              return;
            }
            const from = pos;
            pos += this.#remaining;
            this.#remaining = 0;
            this.#complete(buf, from, pos, pos < len);
            return;
          }
          case BODY_CLOSE: {
            if (!ex.onResponseBody(pos === 0 ? buf : buf.subarray(pos))) this.socket.pause();
            return;
          }
          case CHUNK_SIZE: {
            const nl = buf.indexOf(10, pos);
            if (nl < 0) {
              if (len - pos > MAX_LINE) throw new ProtocolError('chunk size line too long');
              this.#pending = Buffer.from(buf.subarray(pos));
              return;
            }
            let size = 0;
            let digits = 0;
            for (let i = pos; i < nl; i++) {
              const c = buf[i] as number;
              const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
              if (d < 0) {
                if (c === 59 /* ; */ || c === 13 /* \r */ || c === 32 || c === 9) break;
                throw new ProtocolError('bad chunk size');
              }
              size = size * 16 + d;
              if (++digits > 12) throw new ProtocolError('chunk too large');
            }
            if (digits === 0) throw new ProtocolError('bad chunk size');
            pos = nl + 1;
            if (size === 0) this.#state = TRAILERS;
            else {
              this.#remaining = size;
              this.#state = CHUNK_DATA;
            }
            break;
          }
          case CHUNK_DATA: {
            const n = Math.min(len - pos, this.#remaining);
            const piece = buf.subarray(pos, pos + n);
            pos += n;
            this.#remaining -= n;
            if (this.#remaining === 0) this.#state = CHUNK_CRLF;
            if (!ex.onResponseBody(piece)) this.socket.pause();
            if (this.exchange !== ex) return; // the client went away while we wrote
            break;
          }
          case CHUNK_CRLF: {
            const nl = buf.indexOf(10, pos);
            if (nl < 0) {
              if (len - pos > 2) throw new ProtocolError('missing CRLF after chunk');
              this.#pending = Buffer.from(buf.subarray(pos));
              return;
            }
            if (nl - pos > 1) throw new ProtocolError('missing CRLF after chunk');
            pos = nl + 1;
            this.#state = CHUNK_SIZE;
            break;
          }
          case TRAILERS: {
            // Trailers are dropped (the client gets a fresh chunked encoding); read to the empty line.
            const nl = buf.indexOf(10, pos);
            if (nl < 0) {
              if (len - pos > MAX_HEAD) throw new ProtocolError('trailers too large');
              this.#pending = Buffer.from(buf.subarray(pos));
              return;
            }
            const empty = nl === pos || (nl === pos + 1 && buf[pos] === 13);
            pos = nl + 1;
            if (empty) {
              this.#complete(null, 0, 0, pos < len);
              return;
            }
            break;
          }
        }
      }
    } catch (e) {
      this.#fail(e instanceof ProtocolError ? 'EPROTO' : 'EPROTO');
    }
  }

  /** A final response head arrived: hands it to the exchange; returns whether a body follows. */
  #onHead(head: ResponseHead, ex: ExchangeSink): boolean {
    // Read before the exchange runs: `head` is the parser's one shared object.
    const { status, chunked, transferEncoding, contentLength } = head;
    this.#keepAlive = !head.close;
    ex.onResponseHead(status, head.reason, head.block, contentLength >= 0);
    if (this.exchange !== ex) return false;
    if (ex.isHead || status === 204 || status === 304) return false;
    if (chunked) {
      this.#state = CHUNK_SIZE;
      return true;
    }
    if (!transferEncoding && contentLength >= 0) {
      if (contentLength === 0) return false;
      this.#remaining = contentLength;
      this.#state = BODY_LENGTH;
      return true;
    }
    this.#keepAlive = false;
    this.#state = BODY_CLOSE;
    return true;
  }

  /** A 101: the connection leaves the pool, holds its reads until `tunnel()`, and the exchange takes it over. */
  #switchProtocols(ex: ExchangeSink, head: string, rest: Buffer): void {
    this.exchange = null;
    this.#pending = null;
    this.socket.pause();
    this.pool.detach();
    ex.onSwitchingProtocols(this, `${head}\r\n\r\n`, Buffer.from(rest));
  }

  /** The response is done: hand the connection back (or close it), then tell the exchange (its last piece: `buf[from, to)`). */
  #complete(buf: Buffer | null, from: number, to: number, extraBytes: boolean): void {
    const ex = this.exchange;
    this.exchange = null;
    this.#state = HEAD;
    this.#pending = null;
    if (ex === null) return;
    if (this.#keepAlive && !extraBytes && ex.requestComplete() && this.socket.readyState === 'open') {
      this.pool.release(this);
    } else {
      this.#dead = true;
      this.socket.destroy();
    }
    ex.onResponseEnd(to > from ? buf : null, from, to);
  }
}

/** Requests that waited, and how long (ms; `maxMs` since whoever reads them last reset it). */
export interface WaitStats {
  count: number;
  totalMs: number;
  maxMs: number;
}

/**
 * Counters over all of a proxy's pools. Connections opened is the churn figure: a warm pool opens
 * none at a steady rate, and each opening is a TCP handshake on the request's path. The waits say
 * what that cost: requests sent on a connection still being opened (`connectWaits`, from its
 * opening to its connection) and requests that found every connection of a full pool busy
 * (`poolWaits`, until one was released).
 */
export interface UpstreamStats {
  connectionsOpened: number;
  connectWaits: WaitStats;
  poolWaits: WaitStats;
  /** Requests waiting for a full pool's connection now. */
  waitingForPool: number;
}

/** Fresh counters. */
export function newUpstreamStats(): UpstreamStats {
  return {
    connectionsOpened: 0,
    connectWaits: { count: 0, totalMs: 0, maxMs: 0 },
    poolWaits: { count: 0, totalMs: 0, maxMs: 0 },
    waitingForPool: 0,
  };
}

function recordWait(w: WaitStats, ms: number): void {
  w.count++;
  w.totalMs += ms;
  if (ms > w.maxMs) w.maxMs = ms;
}

/** Something waiting for a connection of a full pool. */
export interface PoolWaiter {
  attach(conn: UpstreamConnection): void;
}

/**
 * The connections to one upstream instance, its in-flight count (for draining) and the
 * metrics series of the version it runs. One per instance listed in the route table.
 */
export class UpstreamPool {
  upstream: Upstream;
  /** Metrics series of the upstream's (version, pool); replaced when the table relabels it. */
  series: VersionSeries;
  readonly maxSockets: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Where this instance's connections read into; one per pool, as reads are handled synchronously. */
  readonly readBuffer: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** Exchanges (and WebSocket tunnels) using this instance now. */
  inFlight = 0;
  /** No longer in the table: no new requests, close once idle. */
  draining = false;
  /** Idle connections, least recently used first. */
  readonly #idle: UpstreamConnection[] = [];
  readonly #waiters: PoolWaiter[] = [];
  /** performance.now() when each waiter started waiting (same order as `#waiters`). */
  readonly #waitingSince: number[] = [];
  #open = 0;
  readonly #onIdle: (pool: UpstreamPool) => void;
  /** Shared by the proxy's pools. */
  readonly stats: UpstreamStats;

  constructor(o: {
    upstream: Upstream;
    series: VersionSeries;
    maxSockets: number;
    connectTimeoutMs: number;
    idleTimeoutMs: number;
    onIdle: (pool: UpstreamPool) => void;
    /** Counts the connections this pool opens (shared by the proxy's pools). */
    stats?: UpstreamStats;
  }) {
    this.upstream = o.upstream;
    this.series = o.series;
    this.maxSockets = o.maxSockets;
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.idleTimeoutMs = o.idleTimeoutMs;
    this.#onIdle = o.onIdle;
    this.stats = o.stats ?? newUpstreamStats();
  }

  /** Open connections (idle and busy). */
  get openConnections(): number {
    return this.#open;
  }

  get idleConnections(): number {
    return this.#idle.length;
  }

  /**
   * A connection for `w`: the least recently used idle one that is young enough, a new one, or —
   * when `maxSockets` are busy — the next one released (then `w.attach` is called later).
   */
  acquire(w: PoolWaiter): UpstreamConnection | null {
    const now = performance.now();
    while (this.#idle.length > 0) {
      const c = this.#idle.shift() as UpstreamConnection;
      // Old idle connections race the server's keep-alive timeout; close them rather than risk a reset.
      if (c.alive && now - c.idleSince < this.idleTimeoutMs) return c;
      c.destroy(); // its 'close' calls remove(), which does the accounting
    }
    if (this.#open < this.maxSockets) {
      this.#open++;
      this.stats.connectionsOpened++;
      return new UpstreamConnection(this);
    }
    this.#waiters.push(w);
    this.#waitingSince.push(now);
    this.stats.waitingForPool++;
    return null;
  }

  /** Forgets a waiter that gave up (client gone). */
  cancel(w: PoolWaiter): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) {
      this.#waiters.splice(i, 1);
      this.#waitingSince.splice(i, 1);
      this.stats.waitingForPool--;
    }
  }

  /** The longest-waiting waiter, its wait counted. */
  #nextWaiter(): PoolWaiter | undefined {
    const w = this.#waiters.shift();
    if (w === undefined) return w;
    this.stats.waitingForPool--;
    recordWait(this.stats.poolWaits, performance.now() - (this.#waitingSince.shift() as number));
    return w;
  }

  /** Takes back a connection whose response is complete. */
  release(c: UpstreamConnection): void {
    const w = this.#nextWaiter();
    if (w !== undefined) {
      w.attach(c);
      return;
    }
    if (this.draining) {
      c.destroy();
      return;
    }
    c.idleSince = performance.now();
    this.#idle.push(c);
  }

  /** Called exactly once by each connection, when its socket closed (or `detach` when it became a tunnel). */
  remove(c: UpstreamConnection): void {
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    this.detach();
  }

  /**
   * A connection that became a tunnel (101) no longer counts against `maxSockets`: a long-lived
   * WebSocket must not hold a slot ordinary requests wait for. It stays in flight (`inFlight`)
   * until the tunnel closes.
   */
  detach(): void {
    this.#open--;
    // A waiter could now open a fresh connection.
    if (this.#waiters.length > 0 && this.#open < this.maxSockets) {
      const w = this.#nextWaiter() as PoolWaiter;
      this.#open++;
      this.stats.connectionsOpened++;
      w.attach(new UpstreamConnection(this));
    }
  }

  /** Closes idle connections older than the idle timeout (called on a coarse timer). */
  sweep(now: number): void {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const c = this.#idle[i] as UpstreamConnection;
      if (now - c.idleSince >= this.idleTimeoutMs || this.draining) {
        this.#idle.splice(i, 1);
        c.destroy();
      }
    }
  }

  /** Closes every idle connection (draining, shutdown). */
  closeIdle(): void {
    for (const c of this.#idle.splice(0)) c.destroy();
  }

  /** One fewer request in flight; tells the proxy when a draining pool became idle. */
  done(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.#onIdle(this);
  }
}
