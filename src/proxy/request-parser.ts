/**
 * A strict HTTP/1.1 request parser for the proxy's client side. The proxy used node:http's server,
 * whose per-request `IncomingMessage`/`ServerResponse` streams, listeners and timers cost more CPU
 * than the forwarding itself; this parser reads a request head straight from the socket's bytes.
 *
 * Strictness is the point (request smuggling, RFC 9112 §6.3 and §11.2): anything a front-end and
 * a back-end could read differently is refused with 400 — both Content-Length and
 * Transfer-Encoding, more than one Content-Length (even equal), a Content-Length that is not
 * digits, a Transfer-Encoding not ending in `chunked`, obs-fold, bare CR or LF, whitespace
 * before a header's colon, control characters, a missing or repeated Host in HTTP/1.1, and
 * invalid chunk sizes or chunk framing. The proxy always re-frames a body it forwards.
 */

/** Why a request was refused; `status` is what the client is answered before the connection closes. */
export class RequestParseError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Largest request head accepted (node:http's default maxHeaderSize). */
export const MAX_REQUEST_HEAD = 16 * 1024;

/** Body framing of a request. */
export const NO_BODY = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;

/** A parsed request head; header names and values are as sent (values without surrounding OWS). */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 or 1 (HTTP/1.0 or HTTP/1.1). */
  minor: number;
  /** name, value, name, value, … in order. */
  headers: string[];
  bodyMode: number;
  /** Content-Length when `bodyMode` is BODY_LENGTH. */
  contentLength: number;
  /** The Transfer-Encoding value when chunked. */
  transferEncoding: string;
  /** The client wants the connection kept open after this exchange. */
  keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` header: tunnel it. */
  upgrade: boolean;
  /** `Expect: 100-continue`. */
  expectContinue: boolean;
}

// tchar (RFC 9110 §5.6.2) by char code.
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Field value characters (RFC 9110 §5.5): HTAB, visible ASCII, SP, obs-text. No CR, LF, NUL or other controls. */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Request-target characters: visible ASCII only (no SP, controls or obs-text). */
const BAD_TARGET = /[^\x21-\x7e]/;

/** Whether `s` may be sent as a header value (used for the response side too). */
export function validHeaderValue(s: string): boolean {
  return !BAD_VALUE.test(s);
}

function bad(message: string): RequestParseError {
  return new RequestParseError(400, message);
}

/**
 * Parses one request head: `head` is the latin1 text before the blank line (CRLF CRLF excluded).
 * Throws RequestParseError. Leading empty lines must have been skipped by the caller.
 */
export function parseRequestHead(head: string): RequestHead {
  let lineEnd = head.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = head.length;
  // Request line: method SP target SP HTTP/1.x — exactly single spaces.
  const sp1 = head.indexOf(' ');
  if (sp1 <= 0 || sp1 > lineEnd || !isToken(head, 0, sp1)) throw bad('bad request line');
  const sp2 = head.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 > lineEnd || lineEnd - sp2 !== 9) throw bad('bad request line');
  const target = head.slice(sp1 + 1, sp2);
  if (target === '' || BAD_TARGET.test(target)) throw bad('bad request target');
  if (!head.startsWith('HTTP/1.', sp2 + 1)) throw bad('unsupported HTTP version');
  const minor = head.charCodeAt(sp2 + 8) - 48;
  if (minor !== 0 && minor !== 1) throw bad('unsupported HTTP version');
  const method = head.slice(0, sp1);

  const headers: string[] = [];
  let contentLength = -1;
  let te = '';
  let teCount = 0;
  let hosts = 0;
  let keepAlive = minor === 1;
  let connUpgrade = false;
  let hasUpgrade = false;
  let expectContinue = false;
  let p = lineEnd + 2;
  const n = head.length;
  while (p < n) {
    let e = head.indexOf('\r\n', p);
    if (e < 0) e = n;
    const first = head.charCodeAt(p);
    if (first === 32 || first === 9) throw bad('obsolete line folding');
    const colon = head.indexOf(':', p);
    if (colon < 0 || colon > e || !isToken(head, p, colon)) throw bad('bad header name');
    let vs = colon + 1;
    let ve = e;
    while (vs < ve && (head.charCodeAt(vs) === 32 || head.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (head.charCodeAt(ve - 1) === 32 || head.charCodeAt(ve - 1) === 9)) ve--;
    const name = head.slice(p, colon);
    const value = head.slice(vs, ve);
    if (BAD_VALUE.test(value)) throw bad('bad header value');
    p = e + 2;
    headers.push(name, value);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 6:
        if (name.toLowerCase() === 'expect' && value.toLowerCase() === '100-continue') expectContinue = true;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') hasUpgrade = true;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          for (const t of value.split(',')) {
            const tok = t.trim().toLowerCase();
            if (tok === 'close') keepAlive = false;
            else if (tok === 'keep-alive') {
              if (minor === 0) keepAlive = true;
            } else if (tok === 'upgrade') connUpgrade = true;
          }
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (contentLength >= 0) throw bad('more than one Content-Length');
          if (!/^\d{1,15}$/.test(value)) throw bad('bad Content-Length');
          contentLength = Number(value);
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          te = value;
          teCount++;
        }
        break;
    }
  }
  if (minor === 1 && hosts !== 1) throw bad(hosts === 0 ? 'missing Host' : 'more than one Host');
  if (minor === 0 && hosts > 1) throw bad('more than one Host');
  let bodyMode = NO_BODY;
  if (teCount > 0) {
    if (contentLength >= 0) throw bad('both Content-Length and Transfer-Encoding');
    if (teCount > 1 || minor === 0 || !/(?:^|,)[ \t]*chunked$/i.test(te)) throw bad('unsupported Transfer-Encoding');
    bodyMode = BODY_CHUNKED;
  } else if (contentLength > 0) {
    bodyMode = BODY_LENGTH;
  }
  return {
    method,
    target,
    minor,
    headers,
    bodyMode,
    contentLength: Math.max(contentLength, 0),
    transferEncoding: te,
    keepAlive,
    upgrade: connUpgrade && hasUpgrade,
    expectContinue,
  };
}

const CS_SIZE = 0;
const CS_DATA = 1;
const CS_DATA_CR = 2;
const CS_TRAILER = 3;
const CS_DONE = 4;
const MAX_CHUNK_LINE = 4096;

/**
 * Decodes a chunked request body incrementally. `push` returns the offset just past the bytes it
 * consumed (less than `end` only once the body is complete: the rest belongs to the next request)
 * and hands data pieces to `onData`. Throws RequestParseError on bad framing. Extensions and
 * trailers are dropped (the proxy re-chunks the body without them).
 */
export class ChunkedDecoder {
  #state = CS_SIZE;
  #remaining = 0;
  #line: Buffer | null = null;

  get done(): boolean {
    return this.#state === CS_DONE;
  }

  push(buf: Buffer, start: number, onData: (piece: Buffer) => void): number {
    let pos = start;
    const len = buf.length;
    while (pos < len && this.#state !== CS_DONE) {
      if (this.#state === CS_DATA) {
        const n = Math.min(len - pos, this.#remaining);
        onData(buf.subarray(pos, pos + n));
        pos += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = CS_DATA_CR;
        continue;
      }
      // Line-oriented states: need a whole CRLF-terminated line.
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        this.#keep(buf.subarray(pos));
        return len;
      }
      let line = buf.subarray(pos, nl + 1);
      if (this.#line !== null) {
        line = Buffer.concat([this.#line, line]);
        this.#line = null;
      }
      pos = nl + 1;
      if (line.length > MAX_CHUNK_LINE) throw bad('chunk line too long');
      if (line.length < 2 || line[line.length - 2] !== 13) throw bad('bare LF in chunked body');
      const body = line.length - 2;
      for (let i = 0; i < body; i++) if (line[i] === 13 || line[i] === 10 || line[i] === 0) throw bad('bad chunk line');
      if (this.#state === CS_DATA_CR) {
        if (body !== 0) throw bad('missing CRLF after chunk data');
        this.#state = CS_SIZE;
      } else if (this.#state === CS_SIZE) {
        let size = 0;
        let i = 0;
        for (; i < body; i++) {
          const c = line[i] as number;
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d < 0) break;
          if (i >= 12) throw bad('chunk too large');
          size = size * 16 + d;
        }
        if (i === 0) throw bad('bad chunk size');
        if (i < body && line[i] !== 59 /* ; */) throw bad('bad chunk size');
        if (size === 0) this.#state = CS_TRAILER;
        else {
          this.#remaining = size;
          this.#state = CS_DATA;
        }
      } else if (body === 0) {
        this.#state = CS_DONE;
      } else {
        const c = line[0] as number;
        if (c === 32 || c === 9) throw bad('obsolete line folding in trailer');
        const colon = line.indexOf(58);
        if (colon <= 0 || colon >= body) throw bad('bad trailer');
      }
    }
    return pos;
  }

  #keep(rest: Buffer): void {
    const line = this.#line === null ? Buffer.from(rest) : Buffer.concat([this.#line, rest]);
    if (line.length > MAX_CHUNK_LINE) throw bad('chunk line too long');
    this.#line = line;
  }
}
