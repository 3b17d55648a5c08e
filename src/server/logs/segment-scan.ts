/**
 * One pass over one segment file: big reads, the matcher's scan run over the whole chunk (the
 * needle in the raw bytes, or a regex over the decoded chunk) so only lines with a hit are cut
 * out and parsed. Lines are in time order in a segment, so the time window needs checking only
 * on hits. Memory: one chunk (shared by the scans of one search) plus the last `keep` matches.
 *
 * Reads are synchronous within a segment and the scan yields to the event loop between
 * segments: a segment (10 MiB, from the page cache) is a few milliseconds of work, and going
 * through the thread pool for each read cost 3–5× in wall time on a loaded machine.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseLogLine, type StreamCode } from '../../core/log-line.ts';
import type { LineMatcher } from './log-query.ts';

const CHUNK_BYTES = 4 * 1024 * 1024;
const NL = 0x0a;

export interface SegmentMatch {
  at: string;
  stream: StreamCode;
  text: string;
}

export interface SegmentScan {
  /** The last `keep` matches, in file order. */
  matches: SegmentMatch[];
  /** All matches (`matches` may hold fewer). */
  count: number;
  bytes: number;
}

/** A reusable read buffer: one per search, not one per segment. */
export function scanBuffer(): Buffer {
  return Buffer.allocUnsafe(CHUNK_BYTES);
}

export async function scanSegment(
  file: string,
  matcher: LineMatcher,
  keep: number,
  signal?: AbortSignal,
  buffer: Buffer = scanBuffer(),
): Promise<SegmentScan> {
  const result: SegmentScan = { matches: [], count: 0, bytes: 0 };
  await yieldToLoop();
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return result;
  }
  try {
    let carry = 0;
    let position = 0;
    for (;;) {
      if (signal?.aborted) break;
      const bytesRead = readSync(fd, buffer, carry, CHUNK_BYTES - carry, position);
      position += bytesRead;
      const filled = carry + bytesRead;
      if (filled === 0) break;
      const last = bytesRead === 0 ? filled - 1 : buffer.lastIndexOf(NL, filled - 1);
      // A line longer than the chunk (none are: lines are cut at 64 KiB) is scanned in pieces.
      const end = last === -1 ? filled - 1 : last;
      if (matcher.scan.kind === 'bytes') scanBytes(buffer.subarray(0, end + 1), matcher.scan.needle, matcher, keep, result);
      else scanText(buffer.toString('utf8', 0, end + 1), matcher, keep, result);
      result.bytes += end + 1;
      carry = filled - (end + 1);
      if (carry > 0) buffer.copy(buffer, 0, end + 1, filled);
      if (bytesRead === 0) break;
    }
  } finally {
    closeSync(fd);
  }
  return result;
}

/** Finds the needle in undecoded whole lines; only lines holding it are decoded and checked. */
function scanBytes(chunk: Buffer, needle: Buffer, matcher: LineMatcher, keep: number, out: SegmentScan): void {
  let from = 0;
  for (;;) {
    const hit = chunk.indexOf(needle, from);
    if (hit === -1) return;
    const lineStart = hit === 0 ? 0 : chunk.lastIndexOf(NL, hit - 1) + 1;
    const nl = chunk.indexOf(NL, hit);
    const lineEnd = nl === -1 ? chunk.length : nl;
    consider(chunk.toString('utf8', lineStart, lineEnd), matcher, keep, out);
    from = lineEnd + 1;
  }
}

/** Scans whole lines (`text` ends at a line end or the file's end). */
function scanText(text: string, matcher: LineMatcher, keep: number, out: SegmentScan): void {
  const { scan } = matcher;
  if (scan.kind !== 'regex') {
    let start = 0;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      const stop = nl === -1 ? text.length : nl;
      if (stop > start) consider(text.slice(start, stop), matcher, keep, out);
      start = stop + 1;
    }
    return;
  }
  let from = 0;
  while (from < text.length) {
    scan.regex.lastIndex = from;
    const hit = scan.regex.exec(text)?.index ?? -1;
    // A hit may be a false one (in a line's time prefix, or across lines): the line is checked
    // whole, and the scan resumes after it, so an empty match cannot loop either.
    if (hit === -1 || hit >= text.length) return;
    const lineStart = text.lastIndexOf('\n', hit - 1) + 1;
    const nl = text.indexOf('\n', hit);
    const lineEnd = nl === -1 ? text.length : nl;
    consider(text.slice(lineStart, lineEnd), matcher, keep, out);
    from = lineEnd + 1;
  }
}

function consider(line: string, matcher: LineMatcher, keep: number, out: SegmentScan): void {
  const parsed = parseLogLine(line);
  if (!matcher.accepts(parsed.stream, parsed.text)) return;
  if (matcher.sinceIso !== null && parsed.at < matcher.sinceIso) return;
  if (matcher.untilIso !== null && parsed.at >= matcher.untilIso) return;
  out.count++;
  out.matches.push({ at: parsed.at, stream: parsed.stream, text: parsed.text });
  // Trim in batches: a shift per match would be quadratic.
  if (out.matches.length >= keep * 2 + 64) out.matches.splice(0, out.matches.length - keep);
}

/** Drops all but the last `keep` (the caller's final trim). */
export function lastMatches(scan: SegmentScan, keep: number): SegmentMatch[] {
  return scan.matches.length > keep ? scan.matches.slice(-keep) : scan.matches;
}
