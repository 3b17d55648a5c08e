/**
 * Writes a job's log file: masks secrets, timestamps lines, caps the size.
 *
 * ## Log file format (defined in `core/log-line.ts`, which every reader parses it with)
 *
 * One line per output line, UTF-8 (bytes of the job's output are stored as they came):
 *
 *     <ISO-8601 UTC timestamp with ms> <stream> <text>\n
 *     2024-05-01T12:00:00.123Z o hello from stdout
 *     2024-05-01T12:00:00.124Z e a warning on stderr
 *     2024-05-01T12:00:00.125Z s ▶ npm test
 *
 * `stream` is `o` (stdout), `e` (stderr) or `s` (Gantry's own system lines). The timestamp is
 * when the chunk completing the line was read. `\r\n` is stored as `\n`; a line longer than
 * 64 KiB is split into several lines; a last line without a newline is stored at `close()`.
 *
 * ## Cap
 *
 * The first `capBytes/2` bytes of the log go to the file. Past that, output goes to rotating
 * segment files next to the log (`<file>.tail.<n>`), old segments being deleted, so neither
 * memory nor disk grow with what a job prints. `close()` appends one system line
 * `[gantry] log truncated: N bytes (M lines) cut from the middle` (N counts stored bytes) and
 * the last ~`capBytes/2` bytes (starting at a line boundary), then removes the segments.
 *
 * ## Lending the file
 *
 * A job's steps usually run under the step helper, which writes their output to this file
 * itself (spawner.ts, log mode), so it never passes through Node: `lend()` hands it the cap's
 * state, `resume()` takes back its counts, and the tail it kept in its ring file (`<file>.tail.ring`,
 * read like segments) is assembled here at `close()`. The file is opened with O_APPEND, so both
 * writers append. What follows describes Node's own path (no helper, `onLine` set, services).
 *
 * ## Performance
 *
 * Output is handled as bytes: each chunk's complete lines are turned into one latin1 string (one
 * char per byte, no UTF-8 decoding), masked, prefixed with one timestamp string computed once
 * per chunk, and written with one `writeSync`. Per-line work (UTF-8 decoding, `LogLine`
 * objects) happens only when `onLine` is given. Writes are synchronous: a chunk is at most a few
 * tens of KiB to the page cache, and it keeps the order of lines trivially right.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { logLinePrefix, STREAM_NAMES, type StreamCode, truncationMarkerText } from '../core/log-line.ts';
import type { LogLine } from './ports.ts';
import type { Masker } from './masker.ts';

export interface LogWriterOptions {
  file: string;
  /** Cap of the stored log in bytes; 0 or Infinity for none. */
  capBytes: number;
  jobKey: string;
  masker: Masker;
  /** Called once per stored line, already masked, in order. Must not throw. */
  onLine?: (line: LogLine) => void;
  now?: () => number;
}

export interface LogSummary {
  /** Size of the stored log. */
  bytes: number;
  /** Lines in the stored log (including the truncation marker). */
  lines: number;
  truncated: boolean;
  /** Stored bytes that were cut from the middle. */
  cutBytes: number;
}

export interface LogWriter {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** A line (or lines) of Gantry's own. Flushes partial stdout/stderr lines first so they stay before it. */
  system(text: string): void;
  /**
   * Lends the file to another writer that formats, masks and caps lines exactly like this one
   * (the step helper: see spawner.ts), so a step's output does not pass through Node. Partial
   * lines are stored first; this writer then writes nothing until `resume`. Null when it cannot
   * lend: `onLine` needs every line, the head is full already, a write failed, or it is closed.
   */
  lend(): LogLoan | null;
  /**
   * Takes the file back with what the borrower stored meanwhile; null when it could not say (it
   * ended): what it stored is then recounted from the file, and a tail it kept is lost.
   */
  resume(stored: LogLoanReturn | null): void;
  /**
   * Flushes partial lines, assembles a truncated log, closes the file. Later writes are ignored.
   * Rejects with the first write error if writing failed at any point (what was written stays).
   */
  close(): Promise<LogSummary>;
}

/** What a borrower of the log needs: where to write, and the cap's state (see `lend`). */
export interface LogLoan {
  file: string;
  /** Where to keep the tail past the head: a ring of `ringBytes`, read back by `close`. */
  ringFile: string;
  /** Bytes the file may hold before output goes to the ring; -1 without a cap. */
  headBudget: number;
  ringBytes: number;
  /** Bytes and lines in the file now. */
  headBytes: number;
  headLines: number;
  /** How much of the end a truncated log keeps (-1 without a cap), and its marker line as a sprintf format (bytes, lines). */
  tailBudget: number;
  markerFormat: string;
}

/** What the borrower stored, when it gives the log back. */
export interface LogLoanReturn {
  headBytes: number;
  headLines: number;
  /** Everything stored, head and ring, as if nothing had been cut. */
  totalBytes: number;
  totalLines: number;
  /** Bytes written to the ring: it holds the last min(ringWritten, ringBytes) of them. */
  ringWritten: number;
  truncated: boolean;
  /**
   * Set when the borrower also appended the marker and the kept tail (its last hand-back): the
   * log is then whole, `bytes` and `lines` long; lines written after it are appended after the tail.
   */
  assembled?: { bytes: number; lines: number; cutBytes: number } | null;
  /** The borrower's first write error (it stopped writing there). */
  error: string | null;
}

export { parseLogLine, type ParsedLogLine, type StreamCode } from '../core/log-line.ts';

/**
 * The truncation marker's text as a sprintf format (`%1$d` bytes, `%2$d` lines), for a borrower
 * that assembles the tail itself: built from the one definition of the text.
 */
const MARKER_FORMAT = truncationMarkerText(1_111_111_111_111, 2_222_222_222_222)
  .replaceAll('%', '%%')
  .replace('1111111111111', '%1$d')
  .replace('2222222222222', '%2$d');

/** Longest stored line in bytes; longer output lines are split (at a UTF-8 character boundary). */
export const MAX_LINE_BYTES = 64 * 1024;
const MIN_SEGMENT_BYTES = 4096;
const NL = 10;
/**
 * The ring holds a whole tail budget plus a longest line with its prefix, so the kept tail can
 * always start at a line boundary within the last `tailBudget` bytes, as with segments.
 */
const RING_SLACK_BYTES = MAX_LINE_BYTES + 1024;
interface Segment {
  path: string;
  bytes: number;
  /** Where its bytes start in the file (a part of the borrower's ring). */
  start?: number;
  /** Written by someone else: never appended to. */
  sealed?: boolean;
}

/** Opens (truncates) the log file and returns its writer. */
export function createLogWriter(o: LogWriterOptions): LogWriter {
  const now = o.now ?? Date.now;
  const { masker, onLine, jobKey } = o;
  const capped = Number.isFinite(o.capBytes) && o.capBytes > 0;
  const headBudget = capped ? Math.floor(o.capBytes / 2) : Infinity;
  const tailBudget = capped ? o.capBytes - headBudget : Infinity;
  // Few, large segments: creating files is the expensive part. At most ~2 × tailBudget on disk.
  const segmentBytes = capped ? Math.max(MIN_SEGMENT_BYTES, tailBudget) : 0;

  // A directory created just now holds no segments of an earlier attempt: skip the listing.
  if (mkdirSync(dirname(o.file), { recursive: true }) === undefined) removeSegments(o.file);
  // Appending: a borrower (the step helper) appends to the same file between lend and resume.
  const fd = openSync(o.file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o666);
  const ringFile = `${o.file}.tail.ring`;
  const ringBytes = capped ? tailBudget + RING_SLACK_BYTES : 0;
  let lent = false;
  let everLent = false;
  /** The borrower assembled the truncated log (marker and tail): what follows is appended as is. */
  let assembled: { cutBytes: number } | null = null;

  let closed = false;
  let headBytes = 0;
  let headLines = 0;
  let totalBytes = 0;
  let totalLines = 0;
  let truncated = false;
  const segments: Segment[] = [];
  let segmentFd = -1;
  let segmentSeq = 0;
  const pending: { o: Buffer | null; e: Buffer | null } = { o: null, e: null };

  let stampMs = -1;
  let stamp = '';
  const prefixes = { o: '', e: '', s: '' };
  const prefixFor = (stream: StreamCode, ms: number): string => {
    if (ms !== stampMs) {
      stampMs = ms;
      stamp = new Date(ms).toISOString();
      prefixes.o = logLinePrefix(stamp, 'o');
      prefixes.e = logLinePrefix(stamp, 'e');
      prefixes.s = logLinePrefix(stamp, 's');
    }
    return prefixes[stream];
  };

  /** Stores complete lines: `bytes` is latin1 text (one char per byte) ending with `\n`. */
  const emit = (stream: StreamCode, bytes: string, ms: number) => {
    let text = bytes.includes('\r') ? bytes.replaceAll('\r\n', '\n') : bytes;
    if (masker.active) text = masker.maskBytes(text);
    const prefix = prefixFor(stream, ms);
    const formatted = (prefix + text.replaceAll('\n', `\n${prefix}`)).slice(0, -prefix.length);
    const lines = (formatted.length - text.length) / prefix.length;
    totalBytes += formatted.length;
    totalLines += lines;
    store(formatted, lines);
    if (onLine) deliver(stream, text, ms);
  };

  const deliver = (stream: StreamCode, latin1: string, ms: number) => {
    if (!onLine) return;
    const utf8 = Buffer.from(latin1, 'latin1').toString('utf8');
    const name = STREAM_NAMES[stream];
    let start = 0;
    for (let nl = utf8.indexOf('\n'); nl !== -1; nl = utf8.indexOf('\n', start)) {
      onLine({ jobKey, stream: name, at: ms, text: utf8.slice(start, nl) });
      start = nl + 1;
    }
  };

  const store = (formatted: string, lines: number) => {
    if (!truncated || assembled) {
      if (assembled || headBytes + formatted.length <= headBudget) {
        writeSync(fd, formatted, null, 'latin1');
        headBytes += formatted.length;
        headLines += lines;
        return;
      }
      // The head is full: what fits (whole lines) goes to the file, the rest starts the tail.
      const cut = formatted.lastIndexOf('\n', headBudget - headBytes - 1) + 1;
      if (cut > 0) {
        const head = formatted.slice(0, cut);
        writeSync(fd, head, null, 'latin1');
        headBytes += cut;
        headLines += countNewlines(head);
      }
      truncated = true;
      formatted = formatted.slice(cut);
      if (formatted.length === 0) return;
    }
    writeTail(formatted);
  };

  const writeTail = (formatted: string) => {
    let current = segments.at(-1);
    if (!current || current.sealed || current.bytes >= segmentBytes) {
      if (segmentFd !== -1) closeSync(segmentFd);
      current = { path: `${o.file}.tail.${segmentSeq++}`, bytes: 0 };
      segmentFd = openSync(current.path, 'w');
      segments.push(current);
      // Keep just enough older segments to hold the tail budget.
      let kept = segments.reduce((sum, s) => sum + s.bytes, 0);
      while (segments.length > 1 && kept - (segments[0] as Segment).bytes >= tailBudget) {
        const oldest = segments.shift() as Segment;
        kept -= oldest.bytes;
        // The two parts of a wrapped ring share one file.
        if (!segments.some((s) => s.path === oldest.path)) rmSync(oldest.path, { force: true });
      }
    }
    writeSync(segmentFd, formatted, null, 'latin1');
    current.bytes += formatted.length;
  };

  /**
   * Writes run inside stream 'data' handlers, where a throw would crash the process: a write
   * error (disk full) stops the log instead and is reported by close().
   */
  let failure: unknown = null;
  const guarded = (write: () => void) => {
    if (closed || lent || failure !== null) return;
    try {
      write();
    } catch (error) {
      failure = error;
    }
  };

  const onChunk = (stream: 'o' | 'e', chunk: Buffer) => {
    if (chunk.length === 0) return;
    const ms = now();
    // No concatenation of whole chunks: a fresh 64 KiB Buffer per chunk is external memory,
    // which makes V8 run full GCs. Only the pending partial line is joined with the first line.
    let head = '';
    let body = chunk;
    const before = pending[stream];
    if (before) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) {
        pending[stream] = Buffer.concat([before, chunk]);
        if ((pending[stream]?.length ?? 0) > MAX_LINE_BYTES) flushLong(stream, ms);
        return;
      }
      let first: Buffer = Buffer.concat([before, chunk.subarray(0, nl + 1)]);
      if (first.length > MAX_LINE_BYTES + 1) first = splitLongLines(first);
      head = first.toString('latin1');
      pending[stream] = null;
      body = chunk.subarray(nl + 1);
    }
    const last = body.lastIndexOf(NL);
    if (last !== body.length - 1) {
      pending[stream] = Buffer.from(body.subarray(last + 1));
      body = body.subarray(0, last + 1);
    }
    // Lines inside one chunk are no longer than the chunk: only a huge chunk needs the check.
    if (body.length > MAX_LINE_BYTES) body = splitLongLines(body);
    const text = body.length === 0 ? head : head + body.toString('latin1');
    if (text.length > 0) emit(stream, text, ms);
    if ((pending[stream]?.length ?? 0) > MAX_LINE_BYTES) flushLong(stream, ms);
  };

  /** A partial line grew past the maximum: store its first MAX_LINE_BYTES as a line of their own. */
  const flushLong = (stream: 'o' | 'e', ms: number) => {
    let buf = pending[stream];
    while (buf && buf.length > MAX_LINE_BYTES) {
      const cut = utf8Boundary(buf, MAX_LINE_BYTES);
      emit(stream, `${buf.toString('latin1', 0, cut)}\n`, ms);
      buf = buf.subarray(cut);
    }
    pending[stream] = buf && buf.length > 0 ? Buffer.from(buf) : null;
  };

  const flushPartial = (ms: number) => {
    for (const stream of ['o', 'e'] as const) {
      const buf = pending[stream];
      pending[stream] = null;
      if (buf && buf.length > 0) emit(stream, `${buf.toString('latin1')}\n`, ms);
    }
  };

  return {
    stdout: (chunk) => guarded(() => onChunk('o', chunk)),
    stderr: (chunk) => guarded(() => onChunk('e', chunk)),
    system(text) {
      guarded(() => {
        const ms = now();
        flushPartial(ms);
        emit('s', Buffer.from(`${text.replace(/\r?\n$/, '')}\n`, 'utf8').toString('latin1'), ms);
      });
    },
    lend() {
      if (closed || lent || truncated || assembled || failure !== null || onLine) return null;
      guarded(() => flushPartial(now()));
      if (failure !== null) return null;
      lent = true;
      everLent = true;
      return {
        file: o.file,
        ringFile,
        headBudget: capped ? headBudget : -1,
        ringBytes,
        headBytes,
        headLines,
        tailBudget: capped ? tailBudget : -1,
        markerFormat: MARKER_FORMAT,
      };
    },
    resume(stored) {
      if (!lent) return;
      lent = false;
      if (stored === null) {
        headBytes = fstatSync(fd).size;
        headLines = countNewlinesIn([{ path: o.file, bytes: headBytes }], 0);
        totalBytes = headBytes;
        totalLines = headLines;
        return;
      }
      ({ headBytes, headLines, totalBytes, totalLines } = stored);
      if (stored.error !== null) failure ??= new Error(stored.error);
      if (!stored.truncated) return;
      if (stored.assembled && stored.error === null) {
        assembled = { cutBytes: stored.assembled.cutBytes };
        headBytes = stored.assembled.bytes;
        headLines = stored.assembled.lines;
        return;
      }
      truncated = true;
      const at = stored.ringWritten % ringBytes;
      if (stored.ringWritten > ringBytes && at > 0) {
        segments.push({ path: ringFile, start: at, bytes: ringBytes - at, sealed: true });
        segments.push({ path: ringFile, start: 0, bytes: at, sealed: true });
      } else if (stored.ringWritten > 0) {
        segments.push({ path: ringFile, start: 0, bytes: Math.min(stored.ringWritten, ringBytes), sealed: true });
      }
    },
    async close() {
      if (closed) throw new Error('log writer already closed');
      // Still lent (a bug of the caller's): what the borrower wrote is there, only uncounted.
      if (lent) this.resume(null);
      const ms = now();
      guarded(() => flushPartial(ms));
      closed = true;
      let summary: LogSummary = assembled
        ? { bytes: headBytes, lines: headLines, truncated: true, cutBytes: assembled.cutBytes }
        : { bytes: headBytes, lines: headLines, truncated: false, cutBytes: 0 };
      try {
        if (truncated && failure === null) summary = appendTail(ms);
      } finally {
        if (segmentFd !== -1) closeSync(segmentFd);
        for (const s of segments) rmSync(s.path, { force: true });
        if (everLent) rmSync(ringFile, { force: true });
        closeSync(fd);
      }
      if (failure !== null) throw failure;
      return summary;
    },
  };

  /** Writes the marker and the kept tail after the head; returns the final summary. */
  function appendTail(ms: number): LogSummary {
    if (segmentFd !== -1) closeSync(segmentFd);
    segmentFd = -1;
    const keptTotal = segments.reduce((sum, s) => sum + s.bytes, 0);
    // Start at a line boundary within the last tailBudget bytes.
    let start = Math.max(0, keptTotal - tailBudget);
    if (start > 0) {
      const nl = findNewline(segments, start - 1);
      start = nl === -1 ? keptTotal : nl + 1;
    }
    const tailBytes = keptTotal - start;
    const cutBytes = totalBytes - headBytes - tailBytes;
    // Lines of the kept tail are counted while copying; the marker needs them first, so count ahead.
    const tailLines = countNewlinesIn(segments, start);
    const cutLines = totalLines - headLines - tailLines;
    const markerText = truncationMarkerText(cutBytes, cutLines);
    const marker = `${prefixFor('s', ms)}${markerText}\n`;
    const markerBytes = Buffer.byteLength(marker, 'utf8');
    writeSync(fd, marker, null, 'utf8');
    if (onLine) {
      onLine({ jobKey, stream: 'system', at: ms, text: markerText });
    }
    copySegments(segments, start, fd);
    return { bytes: headBytes + markerBytes + tailBytes, lines: headLines + 1 + tailLines, truncated: true, cutBytes };
  }
}

/** Splits every line longer than MAX_LINE_BYTES into lines of at most that length. Rare path. */
function splitLongLines(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  const newline = Buffer.from('\n');
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(NL, start);
    const end = nl === -1 ? buf.length : nl;
    let pos = start;
    while (end - pos > MAX_LINE_BYTES) {
      const cut = pos + utf8Boundary(buf.subarray(pos, end), MAX_LINE_BYTES);
      parts.push(buf.subarray(pos, cut), newline);
      pos = cut;
    }
    parts.push(buf.subarray(pos, nl === -1 ? end : nl + 1));
    start = end + 1;
  }
  return Buffer.concat(parts);
}

/** The largest cut ≤ max that does not split a UTF-8 sequence (falls back to max for non-UTF-8 bytes). */
function utf8Boundary(buf: Buffer, max: number): number {
  for (let cut = max, steps = 0; cut > 0 && steps < 4; cut--, steps++) {
    if (((buf[cut] ?? 0) & 0xc0) !== 0x80) return cut;
  }
  return max;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

const COPY_CHUNK = 64 * 1024;

/** Visits the segments' bytes from `offset` (in the concatenation of all segments) in chunks. */
function readSegments(segments: Segment[], offset: number, visit: (chunk: Buffer, at: number) => boolean): void {
  const buf = Buffer.allocUnsafe(COPY_CHUNK);
  let base = 0;
  for (const segment of segments) {
    const end = base + segment.bytes;
    if (end > offset) {
      const fd = openSync(segment.path, 'r');
      try {
        let pos = Math.max(0, offset - base);
        while (pos < segment.bytes) {
          const n = readSync(fd, buf, 0, Math.min(COPY_CHUNK, segment.bytes - pos), (segment.start ?? 0) + pos);
          if (n === 0) break;
          if (!visit(buf.subarray(0, n), base + pos)) return;
          pos += n;
        }
      } finally {
        closeSync(fd);
      }
    }
    base = end;
  }
}

function findNewline(segments: Segment[], from: number): number {
  let found = -1;
  readSegments(segments, from, (chunk, at) => {
    const i = chunk.indexOf(NL);
    if (i === -1) return true;
    found = at + i;
    return false;
  });
  return found;
}

function countNewlinesIn(segments: Segment[], from: number): number {
  let n = 0;
  readSegments(segments, from, (chunk) => {
    for (let i = chunk.indexOf(NL); i !== -1; i = chunk.indexOf(NL, i + 1)) n++;
    return true;
  });
  return n;
}

function copySegments(segments: Segment[], from: number, fd: number): void {
  readSegments(segments, from, (chunk) => {
    writeSync(fd, chunk);
    return true;
  });
}

/** Leftover segments of an earlier attempt at this log (a crash between rotation and close). */
function removeSegments(file: string): void {
  const prefix = `${basename(file)}.tail.`;
  let names: string[] = [];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix)) unlinkSync(join(dirname(file), name));
  }
}
