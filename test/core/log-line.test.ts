import { describe, expect, it } from 'vitest';
import {
  formatLogLine,
  isTruncationMarker,
  logLinePrefix,
  logTextStart,
  parseLogLine,
  truncationMarkerText,
} from '../../src/core/log-line.ts';

const AT = '2024-05-01T12:00:00.123Z';

describe('parseLogLine', () => {
  it('reads time, stream and text of each stream', () => {
    expect(parseLogLine(`${AT} o hello`)).toEqual({ at: AT, stream: 'o', text: 'hello' });
    expect(parseLogLine(`${AT} e a warning`)).toEqual({ at: AT, stream: 'e', text: 'a warning' });
    expect(parseLogLine(`${AT} s ▶ npm test`)).toEqual({ at: AT, stream: 's', text: '▶ npm test' });
  });

  it('keeps the text as stored: leading spaces, an empty text, a line ending right after the stream', () => {
    expect(parseLogLine(`${AT} e  two spaces`)).toEqual({ at: AT, stream: 'e', text: ' two spaces' });
    expect(parseLogLine(`${AT} o `)).toEqual({ at: AT, stream: 'o', text: '' });
    expect(parseLogLine(`${AT} o`)).toEqual({ at: AT, stream: 'o', text: '' });
  });

  it('reads a line not in the format as stdout text without a time', () => {
    for (const raw of ['', 'not a log line', ' o leading space', `${AT} x text`, `${AT} oops`, 'nospace'])
      expect(parseLogLine(raw)).toEqual({ at: '', stream: 'o', text: raw });
  });
});

describe('formatLogLine', () => {
  it('is the inverse of parseLogLine', () => {
    for (const raw of [`${AT} o hello`, `${AT} e  two`, `${AT} s `, 'not a log line']) expect(formatLogLine(parseLogLine(raw))).toBe(raw);
    expect(logLinePrefix(AT, 'e')).toBe(`${AT} e `);
  });
});

describe('logTextStart', () => {
  it('finds in raw bytes where parseLogLine finds the text', () => {
    const lines = [`${AT} o hello`, `${AT} e  two`, `${AT} s`, 'plain text', '', `${AT} q x`, 'é o ünïcode'];
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    let start = 0;
    for (const line of lines) {
      const end = bytes.indexOf(0x0a, start);
      const at = logTextStart((i) => bytes[i] ?? -1, start, end, bytes.indexOf(0x20, start));
      expect(bytes.toString('utf8', at, end)).toBe(parseLogLine(line).text);
      start = end + 1;
    }
  });

  it('does not take a space of the next line as this line’s', () => {
    const text = `plain\n${AT} o next`;
    expect(logTextStart((i) => text.charCodeAt(i), 0, 5, text.indexOf(' '))).toBe(0);
  });
});

describe('the truncation marker', () => {
  it('is a system line the readers recognise', () => {
    const line = parseLogLine(`${AT} s ${truncationMarkerText(5, 1)}`);
    expect(line.text).toBe('[gantry] log truncated: 5 bytes (1 lines) cut from the middle');
    expect(isTruncationMarker(line)).toBe(true);
    expect(isTruncationMarker(parseLogLine(`${AT} o ${truncationMarkerText(5, 1)}`))).toBe(false);
  });
});
