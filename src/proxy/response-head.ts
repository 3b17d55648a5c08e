/**
 * The upstream response-head parser, on the bytes as read: no `toString` of the head, names
 * compared and values checked in place, and the header lines to relay handed on as a range of the
 * same buffer (a copy only when lines were dropped from its middle). The head was a latin1 string
 * parsed character by character before; the checks are the same, byte for byte (latin1 maps each
 * byte to the character of the same code), and are compared against that string parser over
 * generated heads in test/proxy/response-head.test.ts.
 *
 * What it refuses (a `ResponseHeadError`, which closes the upstream connection): a status line
 * other than `HTTP/1.x NNN[ reason]` with three digits (RFC 9112 §4), controls in the status line
 * or a header value (HTAB aside; a bare CR or LF would let the upstream inject lines), a header
 * name that is not a token, obs-fold, a Content-Length that is not 1–15 digits or conflicts with
 * another, and a 101 to a request that did not ask for an upgrade. Interim 1xx heads (100, 103)
 * are skipped unread: they are not relayed.
 */
/**
 * A response head the proxy must not relay: the upstream connection is closed and never reused,
 * and the exchange fails with the connection's `EPROTO` (answered 502 unless retried).
 */
export class ResponseHeadError extends Error {
  readonly code = 'EPROTO';
}

/** What a head said. One object, reused by every call: read it before parsing the next head. */
export interface ResponseHead {
  status: number;
  /** The reason phrase ('' when none); the same string as the last head's when the bytes repeat. */
  reason: string;
  /** A 1xx other than 101: skipped, nothing else is set. */
  interim: boolean;
  /** A 101 to an upgrade request (validated whole; the caller relays the head as received). */
  switched: boolean;
  /**
   * The header lines to relay (`Name: value\r\n` each), hop-by-hop and framing headers removed
   * except Content-Length: a view of the parsed buffer when they were one run of it (valid as long
   * as that buffer's bytes are), a copy otherwise.
   */
  block: Buffer;
  /** -1 when the head has none (or Transfer-Encoding overrode it). */
  contentLength: number;
  transferEncoding: boolean;
  chunked: boolean;
  /** The upstream will close the connection after this response (HTTP/1.0 without keep-alive, `Connection: close`). */
  close: boolean;
}

const EMPTY: Buffer = Buffer.alloc(0);
const result: ResponseHead = {
  status: 0,
  reason: '',
  interim: false,
  switched: false,
  block: EMPTY,
  contentLength: -1,
  transferEncoding: false,
  chunked: false,
  close: false,
};

const NOT_HOP = 0;
const HOP_OTHER = 1;
const HOP_CONNECTION = 2;
const HOP_TRANSFER_ENCODING = 3;

// tchar (RFC 9110 §5.6.2) by byte.
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** `HTTP/1.` */
const VERSION_PREFIX = [72, 84, 84, 80, 47, 49, 46];

/** The last status line's bytes (from the status code to the line end) and its reason phrase. */
let lastLine: Buffer = EMPTY;
let lastReason = '';

/** Whether `buf[from, to)` holds the bytes of `b` (a loop: a few bytes, cheaper than a native compare). */
function sameBytes(buf: Buffer, from: number, to: number, b: Buffer): boolean {
  if (to - from !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (buf[from + i] !== b[i]) return false;
  return true;
}

/** Whether the `lower.length` bytes at `from` are `lower` in any case. */
function nameIs(b: Buffer, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = b[from + i] as number;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Whether the field name of `n` bytes at `from` is hop-by-hop (RFC 9110 §7.6.1) or a framing
 * header the proxy re-creates, and which of those it must read.
 */
function hopByHop(b: Buffer, from: number, n: number): number {
  switch (n) {
    case 2:
      return nameIs(b, from, 'te') ? HOP_OTHER : NOT_HOP;
    case 7:
      return nameIs(b, from, 'trailer') || nameIs(b, from, 'upgrade') ? HOP_OTHER : NOT_HOP;
    case 10:
      if (nameIs(b, from, 'connection')) return HOP_CONNECTION;
      return nameIs(b, from, 'keep-alive') ? HOP_OTHER : NOT_HOP;
    case 16:
      return nameIs(b, from, 'proxy-connection') ? HOP_OTHER : NOT_HOP;
    case 17:
      return nameIs(b, from, 'transfer-encoding') ? HOP_TRANSFER_ENCODING : NOT_HOP;
    default:
      return NOT_HOP;
  }
}

/** Bytes `String.prototype.trim` removes that can appear in a validated value: SP, HTAB, NBSP (latin1). */
function isTrimmed(c: number): boolean {
  return c === 32 || c === 9 || c === 160;
}

/** Whether the value in `[from, to)` is `lower` in any case, with only what `trim` would remove around it. */
function onlyToken(b: Buffer, from: number, to: number, lower: string): boolean {
  while (from < to && isTrimmed(b[from] as number)) from++;
  while (to > from && isTrimmed(b[to - 1] as number)) to--;
  return to - from === lower.length && nameIs(b, from, lower);
}

/** The Content-Length value in `[from, to)` (SP, HTAB, NBSP around it ignored), or -1 unless it is 1 to 15 digits. */
function contentLengthValue(b: Buffer, from: number, to: number): number {
  while (from < to && isTrimmed(b[from] as number)) from++;
  while (to > from && isTrimmed(b[to - 1] as number)) to--;
  if (to <= from || to - from > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = (b[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** The lines of a header block whose (lowercased) names are not in `drop`. */
function dropHeaders(block: string, drop: Set<string>): string {
  let out = '';
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    if (!drop.has(line.slice(0, line.indexOf(':')).toLowerCase())) out += `${line}\r\n`;
  }
  return out;
}

/** Controls other than HTAB, CR and LF. */
const BAD_HEAD_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** `head` from `from` on is CRLF-separated field lines: a token, a colon, no bare CR or LF, no obs-fold. */
function validFieldLines(head: string, from: number): boolean {
  let p = from;
  while (p < head.length) {
    let e = head.indexOf('\r\n', p);
    if (e < 0) e = head.length;
    const colon = head.indexOf(':', p);
    if (colon <= p || colon > e) return false;
    for (let i = p; i < colon; i++) if (TOKEN[head.charCodeAt(i)] !== 1) return false;
    for (let i = colon + 1; i < e; i++) {
      const c = head.charCodeAt(i);
      if (c === 13 || c === 10) return false;
    }
    p = e + 2;
  }
  return true;
}

/**
 * Parses the response head in `buf[start, end)` (`end` is where its blank line starts: the
 * `\r\n\r\n` follows it in `buf`). `upgrade`: the request asked for one, so a 101 is allowed.
 * Throws `ResponseHeadError`; returns the shared `ResponseHead`.
 */
export function parseResponseHead(buf: Buffer, start: number, end: number, upgrade: boolean): ResponseHead {
  const r = result;
  r.interim = false;
  r.switched = false;
  r.block = EMPTY;
  r.contentLength = -1;
  r.transferEncoding = false;
  r.chunked = false;
  if (end - start < 12) throw new ResponseHeadError('bad status line');
  for (let i = 0; i < 7; i++) if (buf[start + i] !== VERSION_PREFIX[i]) throw new ResponseHeadError('bad status line');
  if (buf[start + 8] !== 32) throw new ResponseHeadError('bad status line');
  const minor = (buf[start + 7] as number) - 48;
  const d1 = (buf[start + 9] as number) - 48;
  const d2 = (buf[start + 10] as number) - 48;
  const d3 = (buf[start + 11] as number) - 48;
  if (d1 < 1 || d1 > 9 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) throw new ResponseHeadError('bad status code');
  const status = d1 * 100 + d2 * 10 + d3;
  r.status = status;
  // The first CRLF inside the head (a bare CR before it is refused below); a short loop, no native call.
  let lineEnd = end;
  for (let i = start + 12; i < end - 1; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10) {
      lineEnd = i;
      break;
    }
  }
  // Three digits, then the line's end or a space before the reason phrase.
  if (lineEnd > start + 12 && buf[start + 12] !== 32) throw new ResponseHeadError('bad status line');
  // The same status line as the last response (most are `200 OK`): the same reason, no slice.
  if (!sameBytes(buf, start + 9, lineEnd, lastLine)) {
    lastReason = lineEnd > start + 13 ? buf.toString('latin1', start + 13, lineEnd) : '';
    lastLine = Buffer.from(buf.subarray(start + 9, lineEnd));
  }
  r.reason = lastReason;
  if (status < 200 && status !== 101) {
    // 100 Continue, 103 Early Hints: interim, not forwarded.
    r.interim = true;
    return r;
  }
  for (let i = start; i < lineEnd; i++) {
    const c = buf[i] as number;
    if (c < 32 ? c !== 9 : c === 127) throw new ResponseHeadError('bad character in status line');
  }
  if (status === 101) {
    // Rare: checked on the string the tunnel relays anyway.
    const head = buf.toString('latin1', start, end);
    if (BAD_HEAD_CHARS.test(head)) throw new ResponseHeadError('bad character in response head');
    if (!upgrade) throw new ResponseHeadError('unexpected 101');
    if (!validFieldLines(head, lineEnd - start + 2)) throw new ResponseHeadError('bad header line');
    r.switched = true;
    return r;
  }
  // Header lines are relayed as they came, in runs of the buffer: only dropped lines break a run.
  let runs: Buffer[] | null = null;
  let runStart = lineEnd + 2;
  let contentLength = -1;
  let chunked = false;
  let transferEncoding = false;
  let close = minor === 0;
  let connectionTokens: string[] | null = null;
  let p = lineEnd + 2;
  while (p < end) {
    const first = buf[p] as number;
    if (first === 32 || first === 9) throw new ResponseHeadError('obsolete line folding');
    // One pass: a token up to the first colon, then no controls but HTAB until the CRLF that
    // ends the line (any other CR or LF is bare); the last line ends with the head.
    let colon = -1;
    let e = end;
    for (let i = p; i < end; i++) {
      const c = buf[i] as number;
      if (colon < 0) {
        if (c === 58) colon = i;
        else if (TOKEN[c] === 0) throw new ResponseHeadError('bad header name');
      } else if (c < 32 ? c !== 9 : c === 127) {
        if (c !== 13 || i + 1 >= end || buf[i + 1] !== 10) throw new ResponseHeadError('bad character in response head');
        e = i;
        break;
      }
    }
    if (colon <= p) throw new ResponseHeadError('bad header name');
    const n = colon - p;
    const lineStart = p;
    p = e + 2;
    if (n === 2 || n === 7 || n === 10 || n === 14 || n === 16 || n === 17) {
      const hop = n === 14 ? NOT_HOP : hopByHop(buf, lineStart, n);
      if (n === 14 && nameIs(buf, lineStart, 'content-length')) {
        const v = contentLengthValue(buf, colon + 1, e);
        if (v < 0) throw new ResponseHeadError('bad content-length');
        if (contentLength >= 0 && contentLength !== v) throw new ResponseHeadError('conflicting content-length');
        if (contentLength < 0) {
          contentLength = v;
          continue;
        }
      } else if (hop === NOT_HOP) {
        continue;
      } else if (hop === HOP_CONNECTION && onlyToken(buf, colon + 1, e, 'keep-alive')) {
        // What nearly every upstream sends, read in place.
        if (minor === 0) close = false;
      } else if (hop !== HOP_OTHER) {
        // Connection or Transfer-Encoding: read before being dropped (the others are dropped unread).
        const value = buf.toString('latin1', colon + 1, e).trim();
        if (hop === HOP_TRANSFER_ENCODING) {
          transferEncoding = true;
          chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        } else {
          for (const t of value.split(',')) {
            const tok = t.trim().toLowerCase();
            if (tok === 'close') close = true;
            else if (tok === 'keep-alive') {
              if (minor === 0) close = false;
            } else if (tok !== '') (connectionTokens ??= []).push(tok);
          }
        }
      }
      // Dropped: end the current run before this line.
      if (lineStart > runStart) (runs ??= []).push(buf.subarray(runStart, lineStart));
      runStart = p;
    }
  }
  // The last run ends with the head: its line's CRLF is the first half of the blank line's.
  let block = EMPTY;
  if (runs === null) block = runStart < end ? buf.subarray(runStart, end + 2) : EMPTY;
  else {
    if (runStart < end) runs.push(buf.subarray(runStart, end + 2));
    block = runs.length === 1 ? (runs[0] as Buffer) : Buffer.concat(runs);
  }
  if (transferEncoding && contentLength >= 0) {
    // RFC 9112 §6.3: Transfer-Encoding wins, and the length must not reach the client.
    (connectionTokens ??= []).push('content-length');
    contentLength = -1;
    close = true;
  }
  if (connectionTokens !== null) block = Buffer.from(dropHeaders(block.toString('latin1'), new Set(connectionTokens)), 'latin1');
  r.block = block;
  r.contentLength = contentLength;
  r.transferEncoding = transferEncoding;
  r.chunked = chunked;
  r.close = close;
  return r;
}
