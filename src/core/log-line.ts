/**
 * The stored log-line format, shared by its writer (`executor/log-writer.ts`, also used for
 * service instances), its readers on the server (log index, search, follow, CLI) and the
 * dashboard (`web/src/log/log-line.ts` imports this file). One line per output line:
 *
 *     <ISO-8601 UTC timestamp with ms> <stream> <text>
 *     2024-05-01T12:00:00.123Z o hello from stdout
 *
 * `stream` is `o` (stdout), `e` (stderr) or `s` (Gantry's own system lines). A line not in this
 * format (there should be none) reads as stdout text without a time. Pure, no `node:*`: the
 * browser bundles it.
 */

export type StreamCode = 'o' | 'e' | 's';

export interface ParsedLogLine {
  /** ISO time, '' when the line is not in the stored format. */
  at: string;
  stream: StreamCode;
  text: string;
}

/** What each stream code means, for readers that show names. */
export const STREAM_NAMES = { o: 'stdout', e: 'stderr', s: 'system' } as const satisfies Record<StreamCode, string>;

/** The start of the system line the writer puts where it cut the middle of an over-long log. */
export const TRUNCATION_MARKER = '[gantry] log truncated:';

const SPACE = 0x20;
const CODE_O = 0x6f;
const CODE_E = 0x65;
const CODE_S = 0x73;

/** Everything before a line's text: `<at> <stream> `. */
export function logLinePrefix(at: string, stream: StreamCode): string {
  return `${at} ${stream} `;
}

/** The stored form of a parsed line (its inverse); a line without a time is its text alone. */
export function formatLogLine(line: ParsedLogLine): string {
  return line.at ? logLinePrefix(line.at, line.stream) + line.text : line.text;
}

/** The text of the truncation marker line. */
export function truncationMarkerText(cutBytes: number, cutLines: number): string {
  return `${TRUNCATION_MARKER} ${cutBytes} bytes (${cutLines} lines) cut from the middle`;
}

export function isTruncationMarker(line: ParsedLogLine): boolean {
  return line.stream === 's' && line.text.startsWith(TRUNCATION_MARKER);
}

/**
 * Where the text of the stored line `[lineStart, lineEnd)` starts, `lineStart` when the line is
 * not in the format. Reads character codes through `codeAt`, so it works alike on strings and
 * on raw bytes (the prefix is ASCII); `firstSpace` is the first space at or after `lineStart`
 * (-1 or past `lineEnd` when there is none), which a byte scanner finds faster on its own.
 */
export function logTextStart(codeAt: (i: number) => number, lineStart: number, lineEnd: number, firstSpace: number): number {
  if (firstSpace <= lineStart || firstSpace + 1 >= lineEnd) return lineStart;
  const stream = codeAt(firstSpace + 1);
  if (stream !== CODE_O && stream !== CODE_E && stream !== CODE_S) return lineStart;
  if (firstSpace + 2 === lineEnd) return lineEnd;
  return codeAt(firstSpace + 2) === SPACE ? firstSpace + 3 : lineStart;
}

/** One stored line (without its `\n`) → time, stream and text. */
export function parseLogLine(line: string): ParsedLogLine {
  const space = line.indexOf(' ');
  const start = logTextStart((i) => line.charCodeAt(i), 0, line.length, space);
  if (start === 0) return { at: '', stream: 'o', text: line };
  return { at: line.slice(0, space), stream: line[space + 1] as StreamCode, text: line.slice(start) };
}
