/**
 * One stored log line (`<ISO time> <o|e|s> <text>`, see src/core/log-line.ts) → what the
 * viewer draws: its stream, its time, and its text cut into pieces that carry an ANSI style, a
 * link target and whether they are part of a search match. Pure, so it is unit-tested in Node.
 */
import {
  formatLogLine,
  isTruncationMarker,
  type ParsedLogLine,
  parseLogLine,
  type StreamCode,
  TRUNCATION_MARKER,
} from '../../../src/core/log-line.ts';
import { parseAnsi, type AnsiStyle } from './ansi.ts';

// The format itself is the server's (src/core/log-line.ts): one definition for writer and readers.
export { isTruncationMarker, TRUNCATION_MARKER, type StreamCode };
export type StoredLine = ParsedLogLine;
/** A stored line → time, stream, text (a line not in the format is stdout text). */
export const parseStoredLine = parseLogLine;
/** The stored form of a line the live stream delivered already parsed. */
export const formatStoredLine = formatLogLine;

export interface Range {
  start: number;
  end: number;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`\u0000-\u001f]+/g;

/** http(s) URLs in plain text, without trailing punctuation or an unbalanced closing bracket. */
export function findLinks(text: string): (Range & { href: string })[] {
  if (!text.includes('http')) return [];
  const links: (Range & { href: string })[] = [];
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    for (;;) {
      const last = url.at(-1) ?? '';
      if ('.,;:!?*'.includes(last)) {
        url = url.slice(0, -1);
        continue;
      }
      const pair = ({ ')': '(', ']': '[', '}': '{' } as Record<string, string>)[last];
      if (pair && count(url, last) > count(url, pair)) {
        url = url.slice(0, -1);
        continue;
      }
      break;
    }
    if (/^https?:\/\/.+/.test(url)) links.push({ start: match.index, end: match.index + url.length, href: url });
  }
  return links;
}

/** Non-overlapping occurrences of `query` in `text`, as the server's search matches them. */
export function findMatches(text: string, query: string, caseSensitive: boolean): Range[] {
  if (!query) return [];
  const hay = caseSensitive ? text : text.toLowerCase();
  const needle = caseSensitive ? query : query.toLowerCase();
  // toLowerCase may change lengths (rare letters): positions would drift, so search the original then.
  const exact = hay.length === text.length && needle.length === query.length;
  const ranges: Range[] = [];
  if (!exact) {
    const pattern = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), caseSensitive ? 'gu' : 'giu');
    for (const m of text.matchAll(pattern)) if (m[0]) ranges.push({ start: m.index, end: m.index + m[0].length });
    return ranges;
  }
  for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + needle.length)) {
    ranges.push({ start: at, end: at + needle.length });
  }
  return ranges;
}

export interface Piece {
  text: string;
  style: AnsiStyle;
  /** Part of a search match. */
  mark: boolean;
}

/** A run of pieces, linked (all to the same URL) or not. */
export interface PieceGroup {
  href: string | null;
  pieces: Piece[];
}

/**
 * The text of a line (ANSI escapes included) as groups of styled pieces: URLs become linked
 * groups and occurrences of `query` are marked, both found in the visible text, across colour
 * changes.
 */
export function lineGroups(text: string, query = '', caseSensitive = false): PieceGroup[] {
  const segments = parseAnsi(text);
  const plain = segments.map((s) => s.text).join('');
  const links = findLinks(plain);
  const marks = findMatches(plain, query, caseSensitive);
  if (links.length === 0 && marks.length === 0) {
    return segments.length ? [{ href: null, pieces: segments.map((s) => ({ text: s.text, style: s.style, mark: false })) }] : [];
  }
  // Every position where something changes: segment edges, link edges, match edges.
  const cuts = new Set<number>([0, plain.length]);
  let pos = 0;
  for (const s of segments) {
    cuts.add(pos);
    pos += s.text.length;
  }
  for (const r of [...links, ...marks]) {
    cuts.add(r.start);
    cuts.add(r.end);
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const groups: PieceGroup[] = [];
  let segIndex = 0;
  let segStart = 0;
  for (let k = 0; k + 1 < sorted.length; k++) {
    const start = sorted[k] as number;
    const end = sorted[k + 1] as number;
    if (end <= start) continue;
    while (segIndex < segments.length && segStart + (segments[segIndex] as { text: string }).text.length <= start) {
      segStart += (segments[segIndex] as { text: string }).text.length;
      segIndex++;
    }
    const segment = segments[segIndex];
    if (!segment) break;
    const link = links.find((l) => l.start <= start && end <= l.end);
    const piece: Piece = { text: plain.slice(start, end), style: segment.style, mark: marks.some((m) => m.start <= start && end <= m.end) };
    const href = link?.href ?? null;
    const last = groups.at(-1);
    // Adjacent links to the same URL stay separate groups only when they are separate links.
    if (last && last.href === href && (href === null || links.find((l) => l.start <= start - 1 && start - 1 < l.end) === link))
      last.pieces.push(piece);
    else groups.push({ href, pieces: [piece] });
  }
  return groups;
}

function count(text: string, ch: string): number {
  let n = 0;
  for (const c of text) if (c === ch) n++;
  return n;
}
