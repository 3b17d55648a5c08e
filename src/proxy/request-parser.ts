/**
 * A strict HTTP/1.1 request parser for the proxy's client side. The proxy used node:http's server,
 * whose per-request `IncomingMessage`/`ServerResponse` streams, listeners and timers cost more CPU
 * than the forwarding itself; this parser reads a request head straight from the socket's bytes.
 *
 * Strictness is the point (request smuggling, RFC 9112 §6.3 and §11.2): anything a front-end and
 * a back-end could read differently is refused — see "The proxy's parsing rules" in
 * ARCHITECTURE.md for the list and the reason for each. The proxy always re-frames a body it
 * forwards, and forwards absolute-form targets in origin-form with the target's authority as Host.
 */
import type { ErrorCode } from '../core/error-codes.ts';

/** Why a request was refused; the client is answered `status` with `code` before the connection closes. */
export class RequestParseError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  constructor(status: number, code: ErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Largest request head, on either side of the proxy: node:http's default maxHeaderSize. Node counts
 * the target, names and values only, so a whole head (request line to blank line) within this
 * size always fits a Node upstream's default.
 */
export const MAX_REQUEST_HEAD = 16 * 1024;

/** Body framing of a request. */
export const NO_BODY = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;

/**
 * A parsed request head; header names and values are as sent (values without surrounding OWS).
 * Names and values stay offsets into `raw` until someone asks for them as strings (`headers`):
 * forwarding copies the lines it keeps from `raw` as they are.
 */
export class RequestHead {
  method: string;
  /** The target to forward: origin-form (`/path?query`, also for an absolute-form request) or `*`. */
  target: string;
  /** 0 or 1 (HTTP/1.0 or HTTP/1.1). */
  minor: number;
  /** The head as received (latin1), request line to the last header line, without the final CRLF. */
  raw: string;
  /**
   * Where each header line is in `raw`, four numbers a line: its start, its colon, and its value's
   * start and end (surrounding OWS excluded). A line ends two characters before the next one
   * starts, the last one at the end of `raw`.
   */
  fields: number[];
  /** `Connection` names a header besides `close`, `keep-alive` and `upgrade`: that header is hop-by-hop. */
  connectionOptions = false;
  bodyMode = NO_BODY;
  /** Content-Length when `bodyMode` is BODY_LENGTH. */
  contentLength = 0;
  /** The transfer codings when chunked: every Transfer-Encoding line combined (RFC 9110 §5.3), `chunked` last. */
  transferEncoding = '';
  /** The client wants the connection kept open after this exchange. */
  keepAlive: boolean;
  /** HTTP/1.1 with `Connection: upgrade` and an `Upgrade` header: tunnel it if the upstream switches (101). */
  upgrade = false;
  /** `Expect: 100-continue`. */
  expectContinue = false;
  /**
   * Host and port the request is for: an absolute-form target's authority (it replaces Host, RFC
   * 9112 §3.2.2), else the Host value; '' when neither names one (HTTP/1.0 without Host, empty Host).
   */
  authority: string;
  /** The target came in absolute-form: Host is forwarded as `authority`, not as sent. */
  absoluteForm: boolean;
  #headers: string[] | null = null;

  constructor(method: string, target: string, minor: number, raw: string, fields: number[], authority: string, absoluteForm: boolean) {
    this.method = method;
    this.target = target;
    this.minor = minor;
    this.raw = raw;
    this.fields = fields;
    this.keepAlive = minor === 1;
    this.authority = authority;
    this.absoluteForm = absoluteForm;
  }

  /** name, value, name, value, … in order (made on first read: the proxy's own path reads `raw` and `fields`). */
  get headers(): string[] {
    if (this.#headers !== null) return this.#headers;
    const raw = this.raw;
    const f = this.fields;
    const out: string[] = [];
    for (let i = 0; i < f.length; i += 4) out.push(raw.slice(f[i], f[i + 1]), raw.slice(f[i + 2], f[i + 3]));
    this.#headers = out;
    return out;
  }
}

/** Whether `s` from `from` spells `lower` (lowercase ASCII) in any case, compared in place. */
export function nameIs(s: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(from + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

// tchar (RFC 9110 §5.6.2) by char code.
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/**
 * reg-name characters of a Host (RFC 3986 §3.2.2: unreserved, sub-delims, `%`) without the comma:
 * X-Forwarded-Host is read as a list downstream, so `a.test,b.test` would name two hosts there.
 */
const REG_NAME = new Uint8Array(128);
for (const c of "-._~!$&'()*+;=%0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") REG_NAME[c.charCodeAt(0)] = 1;
/** Inside `[ ]`: IPv6 (hex, `:`, `.`) and IPvFuture (`v`, unreserved, sub-delims, `:`). */
const IP_LITERAL = /^\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[-._~!$&'()*+,;=:0-9A-Za-z]+)\]$/;

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/**
 * `s` without surrounding OWS (SP, HTAB; RFC 9110 §5.6.3). Not `String.prototype.trim`, which also
 * strips NBSP (0xA0, obs-text): `Transfer-Encoding: \xa0chunked` would read as chunked here and as
 * an unknown coding in Node.
 */
export function trimOws(s: string): string {
  let from = 0;
  let to = s.length;
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  return from === 0 && to === s.length ? s : s.slice(from, to);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Whether `s.slice(from, to)` is `uri-host [ ":" port ]` (RFC 9110 §7.2) without userinfo, path or
 * a comma. Only a wholly empty Host names no host (a target URI without authority); an `http`
 * URI must name one (RFC 9110 §4.2.1), hence `needHost` for absolute-form targets.
 */
function validAuthority(s: string, from: number, to: number, needHost: boolean): boolean {
  if (to === from) return !needHost;
  let hostEnd = to;
  // The port: digits after the last colon outside an IP literal.
  for (let i = to - 1; i >= from; i--) {
    const c = s.charCodeAt(i);
    if (c === 58 /* : */) {
      hostEnd = i;
      break;
    }
    if (c < 48 || c > 57) break;
  }
  if (hostEnd === from) return false;
  if (s.charCodeAt(from) === 91 /* [ */) return IP_LITERAL.test(s.slice(from, hostEnd));
  for (let i = from; i < hostEnd; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || REG_NAME[c] === 0) return false;
    if (c === 37 /* % */ && !(i + 2 < hostEnd && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2)))) return false;
  }
  return true;
}

/** Field value characters (RFC 9110 §5.5): HTAB, visible ASCII, SP, obs-text. No CR, LF, NUL or other controls. */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Request-target characters (RFC 9112 §3.2): visible ASCII without `#` (a fragment is never sent). */
const BAD_TARGET = /[^\x21\x22\x24-\x7e]/;
/** `http://` or `https://`, any case, at the start of an absolute-form target. */
const HTTP_SCHEME = /^https?:\/\//i;

/** Whether `s` may be sent as a header value (used for the response side too). */
export function validHeaderValue(s: string): boolean {
  return !BAD_VALUE.test(s);
}

/**
 * CGI-style servers (and frameworks on WSGI, Rack, PHP) map `-` and `_` in names to the same
 * variable, so `Transfer_Encoding` would frame the body there while the proxy reads a plain header.
 */
const UNDERSCORE_FRAMING = 'framing header spelt with an underscore';

/** The codes of the parser's refusals. */
const BAD_REQUEST = 'PROXY_BAD_REQUEST' satisfies ErrorCode;
const CODING_UNSUPPORTED = 'PROXY_TRANSFER_CODING_UNSUPPORTED' satisfies ErrorCode;

function bad(message: string): RequestParseError {
  return new RequestParseError(400, BAD_REQUEST, message);
}

/** Transfer codings the proxy passes on (the registered ones, RFC 9112 §7; `identity` is no longer one). */
const KNOWN_CODINGS = new Set(['chunked', 'gzip', 'deflate', 'compress', 'x-gzip', 'x-compress']);

/**
 * Checks the combined Transfer-Encoding list (RFC 9112 §6.1, §6.3): each element a bare coding,
 * `chunked` once and last (else 400), every coding a registered one (else 501). Returns the list
 * to forward: as sent when it is plain, else its elements joined by ", ".
 */
function checkTransferEncoding(te: string): string {
  if (te.length === 7 && te.toLowerCase() === 'chunked') return te;
  const codings: string[] = [];
  for (const part of te.split(',')) {
    const coding = trimOws(part);
    // Empty list elements are allowed (RFC 9110 §5.6.1); parameters are refused, no coding needs one.
    if (coding === '') continue;
    if (!isToken(coding, 0, coding.length)) throw bad('bad Transfer-Encoding');
    codings.push(coding);
  }
  let chunked = 0;
  for (const c of codings) if (c.toLowerCase() === 'chunked') chunked++;
  if (chunked !== 1 || (codings.at(-1) as string).toLowerCase() !== 'chunked')
    throw bad(chunked > 1 ? 'chunked applied more than once' : 'chunked is not the final transfer coding');
  for (const c of codings)
    if (!KNOWN_CODINGS.has(c.toLowerCase())) throw new RequestParseError(501, CODING_UNSUPPORTED, `unsupported transfer coding ${c}`);
  return codings.join(', ');
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
  let target = head.slice(sp1 + 1, sp2);
  if (target === '' || BAD_TARGET.test(target)) throw bad('bad request target');
  if (!head.startsWith('HTTP/1.', sp2 + 1)) throw bad('unsupported HTTP version');
  const minor = head.charCodeAt(sp2 + 8) - 48;
  if (minor !== 0 && minor !== 1) throw bad('unsupported HTTP version');
  // The common method as a constant: one string fewer per request.
  const method = sp1 === 3 && head.startsWith('GET') ? 'GET' : head.slice(0, sp1);
  let authority = '';
  let absoluteForm = false;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // RFC 9112 §3.2: origin-form is the rule; absolute-form (http/https only) and OPTIONS * are
    // the exceptions a gateway takes; authority-form is CONNECT's, which the proxy refuses.
    if (target === '*') {
      if (method !== 'OPTIONS') throw bad('asterisk-form target outside OPTIONS');
    } else {
      const scheme = HTTP_SCHEME.exec(target);
      if (scheme === null) throw bad('bad request target');
      const from = scheme[0].length;
      let to = from;
      while (to < target.length && target.charCodeAt(to) !== 47 && target.charCodeAt(to) !== 63 /* ? */) to++;
      if (target.lastIndexOf('@', to) >= from) throw bad('userinfo in request target');
      if (!validAuthority(target, from, to, true)) throw bad('bad authority in request target');
      authority = target.slice(from, to);
      absoluteForm = true;
      target = to === target.length ? '/' : target.charCodeAt(to) === 47 ? target.slice(to) : `/${target.slice(to)}`;
    }
  }

  // Sized once (four numbers a header line) rather than grown by pushes.
  let lines = 0;
  for (let q = lineEnd; q >= 0 && q + 2 < head.length; q = head.indexOf('\r\n', q + 2)) lines++;
  const fields: number[] = new Array(lines * 4);
  let f = 0;
  let contentLength = -1;
  let te = '';
  let teCount = 0;
  let hosts = 0;
  let keepAlive = minor === 1;
  let connUpgrade = false;
  let connectionOptions = false;
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
    for (let i = vs; i < ve; i++) {
      const c = head.charCodeAt(i);
      // Field value characters (RFC 9110 §5.5): HTAB, visible ASCII, SP, obs-text; no CR, LF, NUL or other controls.
      if (c < 32 ? c !== 9 : c === 127) throw bad('bad header value');
    }
    const lineStart = p;
    p = e + 2;
    fields[f++] = lineStart;
    fields[f++] = colon;
    fields[f++] = vs;
    fields[f++] = ve;
    // Names are compared in place, by length first: no header costs a string here.
    switch (colon - lineStart) {
      case 4:
        if (nameIs(head, lineStart, 'host')) {
          // RFC 9112 §3.2: an invalid Host is a 400 even when an absolute-form target overrides it.
          if (!validAuthority(head, vs, ve, false)) throw bad('bad Host');
          hosts++;
          if (!absoluteForm) authority = head.slice(vs, ve);
        }
        break;
      case 6:
        if (nameIs(head, lineStart, 'expect') && ve - vs === 12 && nameIs(head, vs, '100-continue')) expectContinue = true;
        break;
      case 7:
        if (nameIs(head, lineStart, 'upgrade')) hasUpgrade = true;
        break;
      case 10:
        if (nameIs(head, lineStart, 'connection')) {
          let ts = vs;
          while (ts <= ve) {
            let comma = head.indexOf(',', ts);
            if (comma < 0 || comma > ve) comma = ve;
            let a = ts;
            let b = comma;
            while (a < b && (head.charCodeAt(a) === 32 || head.charCodeAt(a) === 9)) a++;
            while (b > a && (head.charCodeAt(b - 1) === 32 || head.charCodeAt(b - 1) === 9)) b--;
            const len = b - a;
            if (len === 5 && nameIs(head, a, 'close')) keepAlive = false;
            else if (len === 10 && nameIs(head, a, 'keep-alive')) {
              if (minor === 0) keepAlive = true;
            } else if (len === 7 && nameIs(head, a, 'upgrade')) connUpgrade = true;
            else if (len > 0) connectionOptions = true;
            ts = comma + 1;
          }
        }
        break;
      case 14:
        if (nameIs(head, lineStart, 'content-length')) {
          if (contentLength >= 0) throw bad('more than one Content-Length');
          contentLength = digitsValue(head, vs, ve);
          if (contentLength < 0) throw bad('bad Content-Length');
        } else if (nameIs(head, lineStart, 'content_length')) {
          throw bad(UNDERSCORE_FRAMING);
        }
        break;
      case 17:
        if (nameIs(head, lineStart, 'transfer-encoding')) {
          // Field lines of one list combine in order (RFC 9110 §5.3).
          const value = head.slice(vs, ve);
          te = teCount === 0 ? value : `${te}, ${value}`;
          teCount++;
        } else if (nameIs(head, lineStart, 'transfer_encoding')) {
          throw bad(UNDERSCORE_FRAMING);
        }
        break;
    }
  }
  if (minor === 1 && hosts !== 1) throw bad(hosts === 0 ? 'missing Host' : 'more than one Host');
  if (minor === 0 && hosts > 1) throw bad('more than one Host');
  let bodyMode = NO_BODY;
  if (teCount > 0) {
    if (contentLength >= 0) throw bad('both Content-Length and Transfer-Encoding');
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (minor === 0) throw bad('Transfer-Encoding in HTTP/1.0');
    te = checkTransferEncoding(te);
    bodyMode = BODY_CHUNKED;
  } else if (contentLength > 0) {
    bodyMode = BODY_LENGTH;
  }
  // A head passed with its last CRLF (not by the proxy's connection, which cuts at CRLF CRLF): `raw` ends with the last line.
  const raw = n >= 2 && head.charCodeAt(n - 1) === 10 && head.charCodeAt(n - 2) === 13 ? head.slice(0, n - 2) : head;
  const parsed = new RequestHead(method, target, minor, raw, fields, authority, absoluteForm);
  parsed.connectionOptions = connectionOptions;
  parsed.bodyMode = bodyMode;
  parsed.contentLength = Math.max(contentLength, 0);
  parsed.transferEncoding = te;
  parsed.keepAlive = keepAlive;
  // RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request.
  parsed.upgrade = connUpgrade && hasUpgrade && minor === 1;
  parsed.expectContinue = expectContinue;
  return parsed;
}

/** `s[from, to)` as a number when it is 1 to 15 decimal digits (no sign, no spaces), else -1. */
export function digitsValue(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Byte is a tchar. */
function tokenByte(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/**
 * `line[from, to)` is `*( ";" token [ "=" ( token / quoted-string ) ] )` — RFC 9112 §7.1.1's
 * chunk-ext without its optional whitespace (BWS), which Node's parser refuses too: a proxy in
 * front of Gantry must not be able to read an extension where Gantry reads data, or the reverse.
 */
function validChunkExtensions(line: Buffer, from: number, to: number): boolean {
  let i = from;
  while (i < to) {
    if (line[i] !== 59 /* ; */) return false;
    const name = ++i;
    while (i < to && tokenByte(line[i] as number)) i++;
    if (i === name) return false;
    if (i === to || line[i] === 59) continue;
    if (line[i] !== 61 /* = */) return false;
    i++;
    if (line[i] === 34 /* " */) {
      // quoted-string (RFC 9110 §5.6.4): qdtext or quoted-pair up to the closing quote.
      i++;
      for (;;) {
        if (i >= to) return false;
        const c = line[i] as number;
        if (c === 34) break;
        if (c === 92 /* \ */) {
          const q = line[i + 1];
          if (i + 1 >= to || q === undefined || !(q === 9 || (q >= 32 && q !== 127))) return false;
          i += 2;
          continue;
        }
        if (!(c === 9 || (c >= 32 && c !== 127))) return false;
        i++;
      }
      i++;
    } else {
      const value = i;
      while (i < to && tokenByte(line[i] as number)) i++;
      if (i === value) return false;
    }
  }
  return true;
}

/** A trailer line (without CRLF) is a field line: token, colon, value without controls; no obs-fold. */
function validTrailer(line: Buffer, end: number): boolean {
  const colon = line.indexOf(58 /* : */);
  if (colon <= 0 || colon >= end) return false;
  for (let i = 0; i < colon; i++) if (!tokenByte(line[i] as number)) return false;
  for (let i = colon + 1; i < end; i++) {
    const c = line[i] as number;
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  return true;
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
 * and hands data pieces to `onData`. Throws RequestParseError on bad framing, bad extensions or
 * bad trailer lines. Extensions and trailers are checked, then dropped (the proxy re-chunks the
 * body without them).
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
        if (i < body && (line[i] !== 59 /* ; */ || !validChunkExtensions(line, i, body))) throw bad('bad chunk size or extension');
        if (size === 0) this.#state = CS_TRAILER;
        else {
          this.#remaining = size;
          this.#state = CS_DATA;
        }
      } else if (body === 0) {
        this.#state = CS_DONE;
      } else if (!validTrailer(line, body)) {
        throw bad('bad trailer field');
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
