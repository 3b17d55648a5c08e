/**
 * The client side of the proxy: one accepted TCP connection, parsed with the strict
 * `request-parser.ts` and answered by writing response heads straight to the socket. It replaces
 * node:http's server, whose per-request `IncomingMessage`, `ServerResponse`, listeners and timers
 * were about half of the proxy's CPU per request.
 *
 * One request at a time per connection: pipelined bytes wait until the current response is
 * complete. An Upgrade request is a request like any other until its upstream switches protocols
 * (101): only then does the exchange take the socket over (`takeOver`) as a raw tunnel, with the
 * bytes that followed the request; any other answer keeps the connection parsed request by request. Request bodies are handed to the current exchange piece by piece (Content-Length
 * bodies as they are, chunked ones decoded); the exchange pauses the socket for backpressure. A
 * response head is held until its first body bytes (or its end) so small answers leave in one
 * write. Timeouts (idle keep-alive, slow heads) are deadlines checked by the proxy's coarse sweeper,
 * not timers per request.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from '../platform/node-http.ts';
import type { ErrorCode } from '../core/error-codes.ts';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  ChunkedDecoder,
  MAX_REQUEST_HEAD,
  parseRequestHead,
  RequestParseError,
  validHeaderValue,
  type RequestHead,
} from './request-parser.ts';

/** What a connection reports to the exchange serving its current request. */
export interface ClientExchange {
  /** A piece of the (decoded) request body. */
  onRequestBody(piece: Buffer): void;
  /** The request body is complete. */
  onRequestEnd(): void;
  /** The client socket can take more response bytes. */
  onClientDrain(): void;
  /** The client went away (or sent garbage mid-body): stop, record nothing. */
  abort(): void;
}

/** What the proxy does with parsed requests. */
export interface ClientHandler {
  /** A request head arrived; the handler must set `conn.exchange` and eventually answer it (or take the socket over). */
  onRequest(conn: ClientConnection, head: RequestHead): void;
  /** The connection closed (it is no longer tracked). */
  onClosed(conn: ClientConnection): void;
}

const S_HEAD = 0;
const S_LENGTH = 1;
const S_CHUNKED = 2;
const S_WAIT = 3;
const S_CLOSED = 4;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');
/** Bodies up to this size are copied into the same buffer as the head and sent in one write. */
const JOIN_LIMIT = 16 * 1024;
/** The codes of the connection's own refusals. */
const HEAD_TOO_LARGE_CODE = 'PROXY_HEAD_TOO_LARGE' satisfies ErrorCode;
const BAD_REQUEST = 'PROXY_BAD_REQUEST' satisfies ErrorCode;
const METHOD_NOT_ALLOWED = 'PROXY_METHOD_NOT_ALLOWED' satisfies ErrorCode;
/** Why a head is refused with 431 (the proxy's limit is node:http's default). */
const HEAD_TOO_LARGE = `request head larger than ${MAX_REQUEST_HEAD} bytes`;
/** The last lines of every response head the proxy relays (its framing and Connection), with the blank line. */
const CLOSE_END = Buffer.from('Connection: close\r\n\r\n', 'latin1');
const KEEP_ALIVE_END = Buffer.from('Connection: keep-alive\r\n\r\n', 'latin1');
const CHUNKED_CLOSE_END = Buffer.from('Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n', 'latin1');
const CHUNKED_KEEP_ALIVE_END = Buffer.from('Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const EMPTY: Buffer = Buffer.alloc(0);
/**
 * The last status line written and what it was made from: most responses repeat it (`200 OK`),
 * and then it is neither checked nor formatted again.
 */
let lastStatus = 0;
let lastReason = '';
let lastStatusLine = EMPTY;
/** Pipelined bytes buffered while a response is pending before the socket is paused. */
const MAX_PIPELINED = 64 * 1024;

/** How long a connection may sit idle between requests, and how long a request head may take (ms). */
export interface ClientTimeouts {
  keepAliveMs: number;
  headersMs: number;
}

/** One client connection of the proxy. */
export class ClientConnection {
  readonly socket: Socket;
  /** The client's address, for X-Forwarded-For (read once per connection). */
  readonly remoteAddress: string;
  /** The exchange answering the current request, if any. */
  exchange: ClientExchange | null = null;
  /** performance.now() after which the sweeper closes the connection. */
  deadline: number;
  /** Set when the proxy shuts down: answer the current request, then close. */
  closeAfterResponse = false;
  readonly #handler: ClientHandler;
  readonly #timeouts: ClientTimeouts;
  #state = S_HEAD;
  #buf: Buffer | null = null;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;
  #keepAlive = true;
  #minor = 1;
  #isHead = false;
  #clientEnded = false;
  #pausedForPipeline = false;
  // Response side.
  /**
   * A committed head not yet written: its status line, header lines (possibly a view of an
   * upstream read, so written or copied before that read is over: see `flush`) and last lines.
   */
  #pendingHead: Buffer | null = null;
  #pendingStatus = EMPTY;
  #pendingEnd = EMPTY;
  #headWritten = false;
  #chunkedOut = false;
  #closeAfter = false;
  #onPiece = (piece: Buffer): void => {
    this.exchange?.onRequestBody(piece);
  };

  constructor(socket: Socket, handler: ClientHandler, timeouts: ClientTimeouts) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.#handler = handler;
    this.#timeouts = timeouts;
    this.deadline = performance.now() + timeouts.keepAliveMs;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('drain', this.#onDrain);
    socket.on('error', noop);
    socket.on('close', this.#onClose);
  }

  /** No request in progress and nothing buffered: safe to close at shutdown. */
  get idle(): boolean {
    return this.exchange === null && this.#state === S_HEAD && this.#buf === null;
  }

  /**
   * The authority a request without one is for (RFC 9112 §3.3: the connection's local address and
   * port), e.g. `127.0.0.1:8080` or `[::1]:8080`.
   */
  get localAuthority(): string {
    const a = this.socket.localAddress ?? '';
    return `${a.includes(':') ? `[${a}]` : a}:${this.socket.localPort ?? ''}`;
  }

  /**
   * Hands the socket over for good (the upstream switched protocols): this connection stops
   * reading and is no longer tracked. `rest` are the bytes received after the request, `ended`
   * whether the client already half-closed. Call it only once the request body is complete.
   */
  takeOver(): { rest: Buffer | null; ended: boolean } {
    const rest = this.#buf;
    this.#buf = null;
    this.exchange = null;
    this.#state = S_CLOSED;
    this.#pausedForPipeline = false;
    this.#detach();
    return { rest, ended: this.#clientEnded };
  }

  /** A response head was committed (written or about to be): the answer can no longer change. */
  get responseStarted(): boolean {
    return this.#pendingHead !== null || this.#headWritten;
  }

  /** Closes the connection now. */
  destroy(): void {
    this.#state = S_CLOSED;
    this.socket.destroy();
  }

  /** Stops reading (request body backpressure). */
  pause(): void {
    this.socket.pause();
  }

  /** Resumes reading. */
  resume(): void {
    if (!this.#pausedForPipeline) this.socket.resume();
  }

  /**
   * Commits the response head (sent with the first body bytes, at the end, or by `flush`).
   * `block` holds validated header lines without hop-by-hop or framing headers except
   * Content-Length (`hasLength`); it is not copied: keep its bytes until the head is sent (the
   * proxy flushes at the end of the upstream read that brought it). Returns false, sending
   * nothing, when the reason phrase cannot be relayed safely.
   */
  respondHead(status: number, reason: string, block: Buffer, hasLength: boolean, noBody: boolean): boolean {
    let statusLine: Buffer;
    if (status === lastStatus && reason === lastReason) statusLine = lastStatusLine;
    else {
      let phrase = reason;
      if (phrase === '') phrase = STATUS_CODES[status] ?? 'Unknown';
      else if (!validHeaderValue(phrase)) return false;
      statusLine = Buffer.from(`HTTP/1.1 ${status} ${phrase}\r\n`, 'latin1');
      lastStatus = status;
      lastReason = reason;
      lastStatusLine = statusLine;
    }
    let chunked = false;
    const bodyless = noBody || this.#isHead || status === 204 || status === 304 || status < 200;
    this.#chunkedOut = false;
    if (!bodyless && !hasLength) {
      if (this.#minor === 1) {
        this.#chunkedOut = true;
        chunked = true;
      } else {
        // An HTTP/1.0 client cannot read chunks: the end of the body is the end of the connection.
        this.#closeAfter = true;
      }
    }
    if (!this.#keepAlive || this.closeAfterResponse || this.#clientEnded) this.#closeAfter = true;
    this.#pendingEnd = chunked
      ? this.#closeAfter
        ? CHUNKED_CLOSE_END
        : CHUNKED_KEEP_ALIVE_END
      : this.#closeAfter
        ? CLOSE_END
        : KEEP_ALIVE_END;
    this.#pendingStatus = statusLine;
    this.#pendingHead = block;
    return true;
  }

  /** Sends a committed head that is still held (the body may take a while). */
  flush(): void {
    if (this.#pendingHead !== null) this.socket.write(this.#out(0));
  }

  /**
   * One buffer for the next write: the held head, if any, then `extra` bytes of room (filled by the
   * caller). One write of one buffer, not strings: no encoding or flattening on the way out.
   */
  #out(extra: number): Buffer {
    const block = this.#pendingHead;
    if (block === null) return Buffer.allocUnsafe(extra);
    const status = this.#pendingStatus;
    const end = this.#pendingEnd;
    const out = Buffer.allocUnsafe(status.length + block.length + end.length + extra);
    out.set(status, 0);
    out.set(block, status.length);
    out.set(end, status.length + block.length);
    this.#pendingHead = null;
    this.#headWritten = true;
    return out;
  }

  /**
   * Writes a piece of the response body; false when the client is slow (wait for `onClientDrain`).
   * `piece` may be reused by the caller afterwards: it is copied (small pieces into the head's buffer).
   */
  respondBody(piece: Buffer, from = 0, to = piece.length): boolean {
    const s = this.socket;
    const n = to - from;
    const chunked = this.#chunkedOut;
    if (n > JOIN_LIMIT) {
      s.cork();
      if (this.#pendingHead !== null) s.write(this.#out(0));
      if (chunked) s.write(`${n.toString(16)}\r\n`, 'latin1');
      let ok = s.write(Buffer.from(piece.subarray(from, to)));
      if (chunked) ok = s.write(CRLF);
      s.uncork();
      return ok;
    }
    const size = chunked ? `${n.toString(16)}\r\n` : '';
    const extra = size.length + n + (chunked ? 2 : 0);
    const out = this.#out(extra);
    let o = out.length - extra;
    if (chunked) o += out.write(size, o, 'latin1');
    piece.copy(out, o, from, to);
    if (chunked) out.set(CRLF, o + n);
    return s.write(out);
  }

  /**
   * Ends the response, with its last body piece `last[from, to)` if `last` is not null (copied
   * before returning), and moves on to the next request.
   */
  respondEnd(last: Buffer | null, from = 0, to = last?.length ?? 0): void {
    const s = this.socket;
    const n = last === null ? 0 : to - from;
    const chunked = this.#chunkedOut;
    if (last !== null && n > JOIN_LIMIT) {
      s.cork();
      this.respondBody(last, from, to);
      if (chunked) s.write(LAST_CHUNK);
      s.uncork();
    } else {
      const size = chunked && n > 0 ? `${n.toString(16)}\r\n` : '';
      const extra = size.length + n + (chunked ? (n > 0 ? 2 : 0) + LAST_CHUNK.length : 0);
      if (this.#pendingHead !== null || extra > 0) {
        const out = this.#out(extra);
        let o = out.length - extra;
        if (size !== '') o += out.write(size, o, 'latin1');
        if (last !== null && n > 0) o += last.copy(out, o, from, to);
        if (chunked) {
          if (n > 0) o += out.write('\r\n', o, 'latin1');
          out.set(LAST_CHUNK, o);
        }
        s.write(out);
      }
    }
    this.#done();
  }

  /** Answers the current request with the proxy's own JSON error (or cuts the connection if an answer already started). */
  respondError(status: number, code: string, message: string): void {
    if (this.responseStarted) {
      this.exchange = null;
      this.destroy();
      return;
    }
    const body = `${JSON.stringify({ error: { code, message } })}\n`;
    if (!this.#keepAlive || this.closeAfterResponse || this.#clientEnded || this.#state === S_LENGTH || this.#state === S_CHUNKED)
      this.#closeAfter = true;
    this.socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Gantry-Proxy-Error: ${code}\r\nConnection: ${this.#closeAfter ? 'close' : 'keep-alive'}\r\n\r\n${body}`,
      'latin1',
    );
    this.#done();
  }

  /** The response is complete: close, or get ready for the next request. */
  #done(): void {
    this.exchange = null;
    this.#headWritten = false;
    this.#isHead = false;
    // A request whose body was not read to its end leaves the stream out of step: never reuse it.
    if (this.#closeAfter || this.#state !== S_WAIT) {
      this.#state = S_CLOSED;
      const s = this.socket;
      s.end(() => s.destroy());
      return;
    }
    this.#state = S_HEAD;
    this.deadline = performance.now() + this.#timeouts.keepAliveMs;
    if (this.#pausedForPipeline) {
      this.#pausedForPipeline = false;
      this.socket.resume();
    }
    const pending = this.#buf;
    if (pending !== null) {
      this.#buf = null;
      // Not from inside the upstream's callbacks: the next request may pick the same connection.
      setImmediate(() => {
        if (this.#state === S_HEAD) this.#consume(pending);
      });
    } else if (this.#clientEnded) {
      // Half-closed by the client: the answer just written still has to get out.
      this.#state = S_CLOSED;
      const s = this.socket;
      s.end(() => s.destroy());
    }
  }

  /** Refuses a malformed request with `{ error: { code, message } }` and closes the connection. */
  #reject(status: number, code: ErrorCode, message: string): void {
    const ex = this.exchange;
    if (ex !== null) {
      this.exchange = null;
      ex.abort();
    }
    if (this.responseStarted) {
      this.destroy();
      return;
    }
    this.#state = S_CLOSED;
    const s = this.socket;
    if (!s.writable) {
      s.destroy();
      return;
    }
    const body = `${JSON.stringify({ error: { code, message } })}\n`;
    s.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        `X-Gantry-Proxy-Error: ${code}\r\nConnection: close\r\n\r\n${body}`,
      'latin1',
      () => s.destroy(),
    );
  }

  #onData = (chunk: Buffer): void => {
    const pending = this.#buf;
    if (pending !== null) {
      this.#buf = null;
      chunk = Buffer.concat([pending, chunk]);
    }
    this.#consume(chunk);
  };

  #consume(buf: Buffer): void {
    let pos = 0;
    const len = buf.length;
    try {
      while (pos < len) {
        switch (this.#state) {
          case S_HEAD: {
            // Empty lines before a request line are allowed (RFC 9112 §2.2), as CRLF only.
            while (pos + 1 < len && buf[pos] === 13 && buf[pos + 1] === 10) pos += 2;
            if (pos >= len) return;
            const end = buf.indexOf(CRLFCRLF, pos);
            if (end < 0) {
              if (len - pos > MAX_REQUEST_HEAD) {
                this.#reject(431, HEAD_TOO_LARGE_CODE, HEAD_TOO_LARGE);
                return;
              }
              // A blank line made of bare LFs would never end the head: refuse rather than wait.
              if (buf.indexOf(LFLF, pos) >= 0) {
                this.#reject(400, BAD_REQUEST, 'bare LF in request head');
                return;
              }
              this.#buf = pos === 0 ? buf : buf.subarray(pos);
              const headDeadline = performance.now() + this.#timeouts.headersMs;
              if (headDeadline < this.deadline) this.deadline = headDeadline;
              return;
            }
            if (end - pos > MAX_REQUEST_HEAD) {
              this.#reject(431, HEAD_TOO_LARGE_CODE, HEAD_TOO_LARGE);
              return;
            }
            const head = parseRequestHead(buf.toString('latin1', pos, end));
            pos = end + 4;
            if (head.method === 'CONNECT') {
              this.#reject(405, METHOD_NOT_ALLOWED, 'CONNECT is not proxied');
              return;
            }
            this.deadline = Infinity;
            this.#keepAlive = head.keepAlive;
            this.#minor = head.minor;
            this.#isHead = head.method === 'HEAD';
            this.#closeAfter = false;
            if (head.bodyMode === BODY_LENGTH) {
              this.#state = S_LENGTH;
              this.#remaining = head.contentLength;
            } else if (head.bodyMode === BODY_CHUNKED) {
              this.#state = S_CHUNKED;
              this.#decoder = new ChunkedDecoder();
            } else {
              this.#state = S_WAIT;
            }
            if (head.expectContinue && head.bodyMode !== 0 && head.minor === 1)
              this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
            this.#handler.onRequest(this, head);
            if (this.#state === S_WAIT) {
              this.#requestEnd(buf, pos);
              return;
            }
            break;
          }
          case S_LENGTH: {
            const n = Math.min(len - pos, this.#remaining);
            const piece = pos === 0 && n === len ? buf : buf.subarray(pos, pos + n);
            pos += n;
            this.#remaining -= n;
            if (this.#remaining === 0) this.#state = S_WAIT;
            this.exchange?.onRequestBody(piece);
            if (this.#state === S_WAIT) {
              this.#requestEnd(buf, pos);
              return;
            }
            break;
          }
          case S_CHUNKED: {
            const d = this.#decoder as ChunkedDecoder;
            pos = d.push(buf, pos, this.#onPiece);
            if (d.done && this.#state === S_CHUNKED) {
              this.#state = S_WAIT;
              this.#decoder = null;
              this.#requestEnd(buf, pos);
              return;
            }
            break;
          }
          case S_WAIT: {
            this.#holdPipelined(buf, pos);
            return;
          }
          default:
            return;
        }
      }
    } catch (e) {
      if (!(e instanceof RequestParseError)) throw e;
      this.#reject(e.status, e.code, e.message);
    }
  }

  /**
   * The request is complete: what follows is held before the exchange hears of it, since an
   * exchange whose upstream already switched protocols takes the socket over right then.
   */
  #requestEnd(buf: Buffer, pos: number): void {
    if (pos < buf.length) this.#holdPipelined(buf, pos);
    this.exchange?.onRequestEnd();
  }

  /** Pipelined bytes: the next request waits for this response (or, after a 101, the tunnel takes them). */
  #holdPipelined(buf: Buffer, pos: number): void {
    const rest = pos === 0 ? buf : buf.subarray(pos);
    this.#buf = this.#buf === null ? rest : Buffer.concat([this.#buf, rest]);
    if (this.#buf.length > MAX_PIPELINED) {
      this.#pausedForPipeline = true;
      this.socket.pause();
    }
  }

  #onEnd = (): void => {
    this.#clientEnded = true;
    if (this.#state === S_LENGTH || this.#state === S_CHUNKED) {
      // The body was cut short: nothing sensible can be forwarded.
      const ex = this.exchange;
      this.exchange = null;
      ex?.abort();
      this.destroy();
      return;
    }
    if (this.exchange === null) this.destroy();
    // Otherwise the response is still owed (half-close); #done closes after it.
  };

  #onDrain = (): void => {
    this.exchange?.onClientDrain();
  };

  #onClose = (): void => {
    this.#state = S_CLOSED;
    const ex = this.exchange;
    this.exchange = null;
    if (ex !== null) ex.abort();
    this.#handler.onClosed(this);
  };

  /** Hands the socket over (a tunnel after a 101): our listeners go, the tunnel's come. */
  #detach(): void {
    const s = this.socket;
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('drain', this.#onDrain);
    s.off('error', noop);
    s.off('close', this.#onClose);
    // Hold bytes until the tunnel listens (it resumes reading).
    s.pause();
    this.#handler.onClosed(this);
  }
}

function noop(): void {}
