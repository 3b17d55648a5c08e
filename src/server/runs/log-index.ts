/**
 * Random access into job logs by line number, so the dashboard can show any part of a 100 MB
 * log without the server (or the browser) reading all of it per request.
 *
 * A `LogIndex` keeps the byte offset of every `STRIDE`th line start in a typed array: a
 * 1M-line log costs ~16k numbers (128 KiB), and any line is at most `STRIDE - 1` lines of
 * scanning away from a checkpoint. It is built by scanning the file in chunks for `\n` and
 * extends itself over the bytes appended since the last scan (a running job's log grows).
 * Line numbers here are 0-based; a line is counted once its `\n` is on disk (the writer only
 * ever writes whole lines, so a missing `\n` means "not written yet" until the job is over).
 */
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { logTextStart } from '../../core/log-line.ts';

/** Every STRIDE-th line start is remembered. */
export const STRIDE = 64;
const SCAN_CHUNK = 1 << 20;
const READ_CHUNK = 64 * 1024;
const NL = 10;

/** One file's sparse line index. Not safe for concurrent `update`s: `LogIndexCache` serialises them. */
export class LogIndex {
  readonly path: string;
  readonly ino: number;
  /** checkpoints[k] is the byte offset of line k * STRIDE. */
  #checkpoints = new Float64Array(64);
  #checkpointCount = 1;
  #lines = 0;
  /** Bytes looked at so far (the file may go on with a partial line). */
  #scanned = 0;
  /** End of the last complete line (just past its `\n`). */
  #linesEnd = 0;
  /** Size of the file at the last update. */
  #size = 0;

  constructor(path: string, ino: number) {
    this.path = path;
    this.ino = ino;
  }

  /** Complete (`\n`-terminated) lines indexed so far. */
  get lines(): number {
    return this.#lines;
  }
  /** Byte offset just past the last complete line. */
  get linesEnd(): number {
    return this.#linesEnd;
  }
  /** File size at the last update: bytes past `linesEnd` are a partial last line. */
  get size(): number {
    return this.#size;
  }
  /** Bytes of memory the checkpoints take (for tests and capacity estimates). */
  get memoryBytes(): number {
    return this.#checkpoints.byteLength;
  }

  /** Scans bytes appended since the last update (up to `size`, the file's current size). */
  async update(size: number, handle?: FileHandle): Promise<void> {
    if (size <= this.#scanned) return;
    const own = handle ?? (await open(this.path, 'r'));
    try {
      const buffer = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, size - this.#scanned));
      while (this.#scanned < size) {
        const { bytesRead } = await own.read(buffer, 0, Math.min(buffer.length, size - this.#scanned), this.#scanned);
        if (bytesRead === 0) break;
        this.#scanChunk(buffer, bytesRead, this.#scanned);
        this.#scanned += bytesRead;
      }
      this.#size = this.#scanned;
    } finally {
      if (!handle) await own.close();
    }
  }

  #scanChunk(buffer: Buffer, length: number, base: number): void {
    let lines = this.#lines;
    let linesEnd = this.#linesEnd;
    const view = length === buffer.length ? buffer : buffer.subarray(0, length);
    for (let nl = view.indexOf(NL); nl !== -1; nl = view.indexOf(NL, nl + 1)) {
      lines++;
      linesEnd = base + nl + 1;
      if (lines % STRIDE === 0) this.#addCheckpoint(linesEnd);
    }
    this.#lines = lines;
    this.#linesEnd = linesEnd;
  }

  #addCheckpoint(offset: number): void {
    if (this.#checkpointCount === this.#checkpoints.length) {
      const grown = new Float64Array(this.#checkpoints.length * 2);
      grown.set(this.#checkpoints);
      this.#checkpoints = grown;
    }
    this.#checkpoints[this.#checkpointCount++] = offset;
  }

  /** Checkpoints held: checkpoint k is line k * STRIDE. */
  get checkpointCount(): number {
    return this.#checkpointCount;
  }

  /** Byte offset of line k * STRIDE (k < checkpointCount). */
  checkpoint(k: number): number {
    return this.#checkpoints[k] ?? 0;
  }

  /** The nearest known line start at or before `line`: [line number, byte offset]. */
  checkpointFor(line: number): [number, number] {
    const k = Math.min(Math.floor(Math.max(0, line) / STRIDE), this.#checkpointCount - 1);
    return [k * STRIDE, this.#checkpoints[k] ?? 0];
  }

  /**
   * Byte offset where line `line` starts: exact for indexed lines, `linesEnd` for `line >=
   * lines` (where the next line will start).
   */
  async offsetOf(line: number): Promise<number> {
    if (line >= this.#lines) return this.#linesEnd;
    const [first, offset] = this.checkpointFor(line);
    if (first === line) return offset;
    let found = offset;
    await scanLines(this.path, offset, this.#linesEnd, (_start, end, index) => {
      found = end + 1;
      return first + index + 1 < line;
    });
    return found;
  }
}

/**
 * Calls `visit(start, end, i)` for each `\n`-terminated line between byte offsets `from` and
 * `to` (i counts from 0; `end` is the offset of the `\n`), with the chunk holding the line;
 * stops when `visit` returns false. A final line without `\n` before `to` is visited only when
 * `partialLast` is set.
 */
export async function scanLines(
  path: string,
  from: number,
  to: number,
  visit: (start: number, end: number, index: number, bytes: Buffer, bytesStart: number) => boolean,
  partialLast = false,
  chunkBytes = READ_CHUNK,
): Promise<void> {
  if (to <= from) return;
  const handle = await open(path, 'r');
  try {
    let carry: Buffer | null = null;
    let carryStart = from;
    let position = from;
    let index = 0;
    let buffer = Buffer.allocUnsafe(Math.min(chunkBytes, to - from));
    while (position < to) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, to - position), position);
      if (bytesRead === 0) break;
      // A line longer than the chunk (up to 64 KiB + prefix) is carried over into the next read.
      const bytes: Buffer = carry ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
      const bytesStart = carry ? carryStart : position;
      position += bytesRead;
      let lineStart = 0;
      for (let nl = bytes.indexOf(NL); nl !== -1; nl = bytes.indexOf(NL, lineStart)) {
        if (!visit(bytesStart + lineStart, bytesStart + nl, index++, bytes, bytesStart)) return;
        lineStart = nl + 1;
      }
      if (lineStart < bytes.length) {
        carry = Buffer.from(bytes.subarray(lineStart));
        carryStart = bytesStart + lineStart;
      } else {
        carry = null;
      }
      if (carry && carry.length >= buffer.length) buffer = Buffer.allocUnsafe(buffer.length * 2);
    }
    if (carry && partialLast) visit(carryStart, carryStart + carry.length, index, carry, carryStart);
  } finally {
    await handle.close();
  }
}

/**
 * A few recently used indexes, keyed by path. `get` brings the index up to date with the file:
 * it scans only the bytes appended since, and starts over when the file was replaced (another
 * inode) or shrank (rewritten by a retried job). One instance per server (no module state).
 */
export class LogIndexCache {
  readonly #max: number;
  readonly #entries = new Map<string, { index: LogIndex; pending: Promise<LogIndex> }>();

  constructor(max = 16) {
    this.#max = max;
  }

  /** The up-to-date index of `path`, or null when the file does not exist. */
  async get(path: string): Promise<LogIndex | null> {
    const info = await stat(path).catch(() => null);
    if (!info) {
      this.#entries.delete(path);
      return null;
    }
    let entry = this.#entries.get(path);
    if (entry && (entry.index.ino !== info.ino || info.size < entry.index.size)) {
      this.#entries.delete(path);
      entry = undefined;
    }
    const index = entry?.index ?? new LogIndex(path, info.ino);
    // Updates of one index run one after another; a request joins the chain.
    const previous = entry?.pending ?? Promise.resolve(index);
    const pending = previous
      .catch(() => index)
      .then(async () => {
        await index.update(info.size);
        return index;
      });
    this.#entries.delete(path);
    this.#entries.set(path, { index, pending });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    try {
      return await pending;
    } catch (error) {
      // A failed scan (file removed mid-read) must not poison later requests.
      if (this.#entries.get(path)?.pending === pending) this.#entries.delete(path);
      throw error;
    }
  }

  /** Paths currently cached, least recently used first. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }
}

export interface LinePage {
  /** Raw stored lines, decoded as UTF-8. */
  lines: string[];
  /** Whether the page stopped early because of `maxBytes`. */
  cut: boolean;
}

/**
 * Reads up to `count` lines from line `from` (0-based). Stops early after `maxBytes` (always
 * returning at least one line) so a page of 64 KiB lines stays a bounded response.
 * `includePartial` adds a last line without `\n` (a finished log whose writer died mid-line).
 */
export async function readLines(
  index: LogIndex,
  from: number,
  count: number,
  o: { maxBytes?: number; includePartial?: boolean } = {},
): Promise<LinePage> {
  const maxBytes = o.maxBytes ?? 4 * 1024 * 1024;
  const lines: string[] = [];
  const end = o.includePartial ? index.size : index.linesEnd;
  const available = index.lines + (o.includePartial && index.size > index.linesEnd ? 1 : 0);
  if (count <= 0 || from >= available) return { lines, cut: false };
  const [first, offset] = index.checkpointFor(from);
  let bytes = 0;
  let cut = false;
  await scanLines(
    index.path,
    offset,
    end,
    (start, stop, i, chunk, chunkStart) => {
      if (first + i < from) return true;
      if (lines.length > 0 && bytes + (stop - start) > maxBytes) {
        cut = true;
        return false;
      }
      bytes += stop - start;
      lines.push(chunk.toString('utf8', start - chunkStart, stop - chunkStart));
      return lines.length < count;
    },
    o.includePartial,
  );
  return { lines, cut };
}

export interface SearchOptions {
  query: string;
  caseSensitive: boolean;
  /** Most matches to return; `more` tells whether there were others. */
  limit: number;
  /** First line to look at (0-based). */
  fromLine?: number;
  /** Give up (with `more: true`) after this long; a search must not hog the server. */
  timeBudgetMs?: number;
  signal?: AbortSignal;
  now?: () => number;
}

export interface SearchResult {
  /** 0-based numbers of lines whose text (not timestamp or stream) contains the query, ascending. */
  matches: number[];
  /** More matches may follow `searchedTo` (the limit was reached or time ran out). */
  more: boolean;
  /** Lines before this one were searched; continue from here with `fromLine`. */
  searchedTo: number;
}

const SEARCH_CHUNK = 1 << 20;

/** What the search loop needs of a chunk, whether kept as bytes (exact case) or decoded text. */
interface Haystack {
  find(from: number): number;
  newline(from: number): number;
  space(from: number): number;
  esc(from: number): number;
  code(at: number): number;
  text(start: number, end: number): string;
}

/** Escape sequences (CSI such as colours, OSC, two-byte ESC) the viewer does not show as text. */
const ESCAPES = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])/g;
const CODE_ESC = 0x1b;

const CODE_SPACE = 32;

/**
 * Plain substring search over the text part of a log's lines as the viewer shows them
 * (colour escapes left out), chunk by chunk (1 MiB at a time,
 * aligned to the index's checkpoints so each chunk's first line number is known without
 * counting). Exact-case searches compare bytes (no UTF-8 decoding); case-insensitive ones
 * decode the chunk and use a case-insensitive literal RegExp.
 */
export async function searchLog(index: LogIndex, o: SearchOptions): Promise<SearchResult> {
  const now = o.now ?? Date.now;
  const deadline = now() + (o.timeBudgetMs ?? 5_000);
  const matches: number[] = [];
  const from = Math.max(0, o.fromLine ?? 0);
  const total = index.lines;
  if (o.query.length === 0 || from >= total) return { matches, more: false, searchedTo: Math.max(from, total) };
  const needle = Buffer.from(o.query, 'utf8');
  const pattern = new RegExp(o.query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu');
  const handle = await open(index.path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(SEARCH_CHUNK);
    let k = Math.floor(from / STRIDE);
    while (k < index.checkpointCount) {
      if (o.signal?.aborted || ((matches.length > 0 || k * STRIDE > from) && now() > deadline)) {
        return { matches, more: true, searchedTo: Math.max(from, k * STRIDE) };
      }
      // Take whole strides up to ~1 MiB (at least one stride).
      const start = index.checkpoint(k);
      let next = k + 1;
      while (next < index.checkpointCount && index.checkpoint(next) - start <= SEARCH_CHUNK) next++;
      if (next > k + 1 && next < index.checkpointCount) next--;
      const end = next < index.checkpointCount ? index.checkpoint(next) : index.linesEnd;
      const firstLine = k * STRIDE;
      k = next;
      if (end <= start) continue;
      if (buffer.length < end - start) buffer = Buffer.allocUnsafe(end - start);
      const { bytesRead } = await handle.read(buffer, 0, end - start, start);
      const bytes = buffer.subarray(0, bytesRead);
      let hay: Haystack;
      if (o.caseSensitive) {
        hay = {
          find: (at) => bytes.indexOf(needle, at),
          newline: (at) => bytes.indexOf(NL, at),
          space: (at) => bytes.indexOf(CODE_SPACE, at),
          esc: (at) => bytes.indexOf(CODE_ESC, at),
          code: (at) => bytes[at] ?? -1,
          text: (start, end) => bytes.toString('utf8', start, end),
        };
      } else {
        const text = bytes.toString('utf8');
        hay = {
          find: (at) => {
            pattern.lastIndex = at;
            return pattern.exec(text)?.index ?? -1;
          },
          newline: (at) => text.indexOf('\n', at),
          space: (at) => text.indexOf(' ', at),
          esc: (at) => text.indexOf('\u001b', at),
          code: (at) => text.charCodeAt(at),
          text: (start, end) => text.slice(start, end),
        };
      }
      const wanted = o.limit - matches.length;
      const visible = o.caseSensitive
        ? (line: string) => line.includes(o.query)
        : (line: string) => {
            pattern.lastIndex = 0;
            return pattern.test(line);
          };
      const found = matchLines(hay, visible, firstLine, from, wanted + 1);
      if (found.length > wanted) {
        matches.push(...found.slice(0, wanted));
        return { matches, more: true, searchedTo: found[wanted] as number };
      }
      matches.push(...found);
    }
    return { matches, more: false, searchedTo: total };
  } finally {
    await handle.close();
  }
}

/**
 * Line numbers (≥ `from`) in one chunk of whole lines starting at line `firstLine` whose text
 * holds the query. Raw hits decide for plain lines; a line with escape sequences (colours) is
 * decided on its text without them (`visible`), as the viewer shows it — a hit may straddle a
 * colour change, and a hit inside an escape sequence is no hit.
 */
function matchLines(hay: Haystack, visible: (text: string) => boolean, firstLine: number, from: number, max: number): number[] {
  const found: number[] = [];
  let line = firstLine;
  let lineStart = 0;
  let lineEnd = hay.newline(0);
  let at = 0;
  let hit = -2;
  let esc = -2;
  while (found.length < max && lineEnd !== -1) {
    if (hit !== -1 && hit < at) hit = hay.find(at);
    if (esc !== -1 && esc < at) esc = hay.esc(at);
    const next = hit === -1 ? esc : esc === -1 ? hit : Math.min(hit, esc);
    if (next === -1) break;
    while (lineEnd !== -1 && lineEnd < next) {
      line++;
      lineStart = lineEnd + 1;
      lineEnd = hay.newline(lineStart);
    }
    if (lineEnd === -1) break;
    const textStart = textStartOf(hay, lineStart, lineEnd);
    // `esc` is the first escape at or after this line's start (none can be in its prefix).
    if (esc !== -1 && esc < lineEnd) {
      if (line >= from && visible(hay.text(textStart, lineEnd).replace(ESCAPES, ''))) found.push(line);
      at = lineEnd + 1;
      continue;
    }
    if (next !== hit) {
      at = lineEnd + 1;
      continue;
    }
    if (hit < textStart) {
      at = textStart;
      continue;
    }
    if (line >= from) found.push(line);
    at = lineEnd + 1;
  }
  return found;
}

/** Where the text of a stored line starts (the line start when not in the format of `core/log-line.ts`). */
function textStartOf(hay: Haystack, lineStart: number, lineEnd: number): number {
  return logTextStart(hay.code, lineStart, lineEnd, hay.space(lineStart));
}
