/**
 * How instance output reaches its log while surviving server restarts.
 *
 * Decision: an instance writes its stdout and stderr straight into two "spool" files (opened
 * O_APPEND by the supervisor and handed over as its fds 1 and 2; no pipe leads to the server).
 * The attached supervisor reads new bytes every `pollMs`, and stores complete lines in the
 * instance's log — timestamped when read, masked, rotated. The read offsets are persisted with
 * the instance record, so a supervisor that adopts the instance continues where the last one
 * stopped.
 *
 * Why not a pipe into a log process that survives the server (a "shim" per instance)? A Node
 * shim costs ~40 MB of RSS per instance, and a shell one reads a pipe byte by byte; either way
 * a dead or slow shim blocks or kills (SIGPIPE) the service writing to it. A regular file never
 * blocks the service, needs no extra process, and loses nothing while no server runs.
 *
 * Costs, accepted: lines written while no server ran are stamped with the time they are read
 * (a system line marks the re-attachment); raw output — possibly with secrets — sits on disk
 * until read, in the data dir (mode 0600, hidden from sandboxes); the spool grows while no
 * server reads it. Disk is given back while the instance runs by punching a hole over the part
 * already read (`fallocate --punch-hole`: the file keeps its offsets, so the writer's O_APPEND
 * position and ours stay valid), and by truncating between two processes of the instance. Where
 * hole punching is unsupported, a spool past 4 × `compactBytes` is truncated while running,
 * which may lose output written in that instant (logged).
 */
import { execFile } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs';
import { promisify } from 'node:util';
import type { RotatingLog } from './rotating-log.ts';

const execFileAsync = promisify(execFile);

/** Longest stored line; longer output is split (as in job logs). */
export const MAX_LINE_BYTES = 64 * 1024;
const READ_CHUNK = 64 * 1024;
/** Bytes read per stream and call: a flood of output is spread over several polls instead of blocking the loop. */
const PUMP_BUDGET = 1024 * 1024;
const BLOCK = 4096;
const NL = 10;

export interface SpoolOffsets {
  o: number;
  e: number;
}

export interface SpoolPumpOptions {
  out: string;
  err: string;
  log: RotatingLog;
  /** Where reading starts (the persisted offsets of the previous supervisor). */
  offsets: SpoolOffsets;
  /** Consumed bytes that trigger giving disk back. Default 4 MiB. */
  compactBytes?: number;
}

interface StreamState {
  code: 'o' | 'e';
  file: string;
  fd: number;
  /** Where the next read starts. */
  readOffset: number;
  /** The start of an incomplete last line (bytes from here to readOffset are pending). */
  pending: Buffer | null;
  /** Disk below this offset was already given back. */
  holeEnd: number;
}

export class SpoolPump {
  readonly #log: RotatingLog;
  readonly #streams: [StreamState, StreamState];
  readonly #compactBytes: number;
  #punchUnsupported = false;
  #compacting = false;

  constructor(o: SpoolPumpOptions) {
    this.#log = o.log;
    this.#compactBytes = o.compactBytes ?? 4 * 1024 * 1024;
    const state = (code: 'o' | 'e', file: string, offset: number): StreamState => ({
      code,
      file,
      fd: openSync(file, 'a+', 0o600),
      readOffset: offset,
      pending: null,
      holeEnd: 0,
    });
    this.#streams = [state('o', o.out, o.offsets.o), state('e', o.err, o.offsets.e)];
  }

  /** Bytes of each spool already stored as lines (what to persist). */
  get offsets(): SpoolOffsets {
    const [o, e] = this.#streams;
    return { o: consumed(o), e: consumed(e) };
  }

  /** Stores what is new as lines. Returns whether anything was read. */
  pump(): boolean {
    let moved = false;
    for (const s of this.#streams) moved = this.#pumpStream(s) || moved;
    return moved;
  }

  /** Reads everything left and stores incomplete last lines too: the writer has exited. */
  drain(): void {
    while (this.pump()) {
      // A budget per call: loop until the spools are read to their end.
    }
    for (const s of this.#streams) {
      if (s.pending) this.#log.lines(s.code, `${s.pending.toString('latin1')}\n`);
      s.pending = null;
    }
  }

  /**
   * Gives disk back. With the writer gone (and everything drained) the spools are truncated;
   * with it alive, the part already read is punched out.
   */
  async compact(writerAlive: boolean): Promise<void> {
    if (this.#compacting) return;
    this.#compacting = true;
    try {
      for (const s of this.#streams) {
        if (!writerAlive) this.#truncateIfRead(s);
        else await this.#compactLive(s);
      }
    } finally {
      this.#compacting = false;
    }
  }

  close(): void {
    for (const s of this.#streams) {
      if (s.fd !== -1) closeSync(s.fd);
      s.fd = -1;
    }
  }

  #pumpStream(s: StreamState): boolean {
    if (s.fd === -1) return false;
    const size = fstatSync(s.fd).size;
    if (size < s.readOffset) {
      // Truncated behind our back (by hand, or by an older compaction): start over.
      s.readOffset = 0;
      s.pending = null;
      s.holeEnd = 0;
    }
    let budget = PUMP_BUDGET;
    let moved = false;
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    while (s.readOffset < size && budget > 0) {
      const n = readSync(s.fd, buf, 0, Math.min(READ_CHUNK, size - s.readOffset), s.readOffset);
      if (n === 0) break;
      s.readOffset += n;
      budget -= n;
      moved = true;
      this.#take(s, buf.subarray(0, n));
    }
    return moved;
  }

  #take(s: StreamState, chunk: Buffer): void {
    const data = s.pending ? Buffer.concat([s.pending, chunk]) : Buffer.from(chunk);
    const last = data.lastIndexOf(NL);
    let rest = data.subarray(last + 1);
    if (last !== -1) this.#log.lines(s.code, splitLongLines(data.toString('latin1', 0, last + 1).replaceAll('\r\n', '\n')));
    while (rest.length > MAX_LINE_BYTES) {
      this.#log.lines(s.code, `${rest.toString('latin1', 0, MAX_LINE_BYTES)}\n`);
      rest = rest.subarray(MAX_LINE_BYTES);
    }
    s.pending = rest.length > 0 ? Buffer.from(rest) : null;
  }

  #truncateIfRead(s: StreamState): void {
    if (s.pending || fstatSync(s.fd).size !== s.readOffset || s.readOffset === 0) return;
    truncateSync(s.file, 0);
    s.readOffset = 0;
    s.holeEnd = 0;
  }

  async #compactLive(s: StreamState): Promise<void> {
    const done = consumed(s);
    if (done - s.holeEnd < this.#compactBytes) return;
    if (!this.#punchUnsupported) {
      const length = Math.floor(done / BLOCK) * BLOCK;
      try {
        await execFileAsync('fallocate', ['--punch-hole', '--offset', '0', '--length', String(length), s.file]);
        s.holeEnd = length;
        return;
      } catch {
        this.#punchUnsupported = true;
        this.#log.system('[gantry] log spool: hole punching unsupported here; large spools will be truncated while running');
      }
    }
    if (fstatSync(s.fd).size < 4 * this.#compactBytes) return;
    this.#pumpStream(s);
    if (s.pending) this.#log.lines(s.code, `${s.pending.toString('latin1')}\n`);
    s.pending = null;
    truncateSync(s.file, 0);
    s.readOffset = 0;
    s.holeEnd = 0;
    this.#log.system('[gantry] log spool truncated while running: output written in that instant may be lost');
  }
}

function consumed(s: StreamState): number {
  return s.readOffset - (s.pending?.length ?? 0);
}

/** Cuts lines longer than MAX_LINE_BYTES (`latin1` is one char per byte). Rare path. */
function splitLongLines(latin1: string): string {
  if (latin1.length <= MAX_LINE_BYTES) return latin1;
  return latin1
    .split('\n')
    .map((line) => {
      const parts: string[] = [];
      for (let i = 0; i < line.length; i += MAX_LINE_BYTES) parts.push(line.slice(i, i + MAX_LINE_BYTES));
      return parts.length === 0 ? '' : parts.join('\n');
    })
    .join('\n');
}
