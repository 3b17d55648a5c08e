import { describe, expect, it } from 'vitest';
import { PLAIN, applySgr } from '../../web/src/log/ansi.ts';
import { findLinks, findMatches, formatStoredLine, isTruncationMarker, lineGroups, parseStoredLine } from '../../web/src/log/log-line.ts';

const E = '\u001b';

describe('stored log lines', () => {
  it('parses the stored format like the server, and formats it back', () => {
    const raw = '2024-05-01T12:00:00.123Z e a warning';
    expect(parseStoredLine(raw)).toEqual({ at: '2024-05-01T12:00:00.123Z', stream: 'e', text: 'a warning' });
    expect(formatStoredLine(parseStoredLine(raw))).toBe(raw);
    expect(parseStoredLine('2024-05-01T12:00:00.123Z o')).toEqual({ at: '2024-05-01T12:00:00.123Z', stream: 'o', text: '' });
    expect(parseStoredLine('no format here')).toEqual({ at: '', stream: 'o', text: 'no format here' });
    expect(
      isTruncationMarker(parseStoredLine('2024-05-01T12:00:00.123Z s [gantry] log truncated: 5 bytes (1 lines) cut from the middle')),
    ).toBe(true);
    expect(isTruncationMarker(parseStoredLine('2024-05-01T12:00:00.123Z o [gantry] log truncated: fake'))).toBe(false);
  });

  it('finds URLs without trailing punctuation or unbalanced brackets', () => {
    expect(findLinks('see https://example.com/a?b=1. and (http://x.test/y) or https://w.test/wiki/A_(b)!')).toEqual([
      { start: 4, end: 29, href: 'https://example.com/a?b=1' },
      { start: 36, end: 51, href: 'http://x.test/y' },
      { start: 56, end: 81, href: 'https://w.test/wiki/A_(b)' },
    ]);
    expect(findLinks('ftp://nope and javascript:alert(1) and https:// alone')).toEqual([]);
  });

  it('finds matches by case or not', () => {
    expect(findMatches('Error error ERROR', 'error', true)).toEqual([{ start: 6, end: 11 }]);
    expect(findMatches('Error error ERROR', 'error', false).map((r) => r.start)).toEqual([0, 6, 12]);
    expect(findMatches('aaaa', 'aa', false)).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 4 },
    ]);
    expect(findMatches('x', '', false)).toEqual([]);
  });

  it('cuts a line into styled, linked and marked pieces across colour changes', () => {
    const red = applySgr(PLAIN, '31');
    const groups = lineGroups(`go ${E}[31mhttps://ci.test/run${E}[0m/7 now`, 'run/7', false);
    expect(groups).toEqual([
      { href: null, pieces: [{ text: 'go ', style: PLAIN, mark: false }] },
      {
        href: 'https://ci.test/run/7',
        pieces: [
          { text: 'https://ci.test/', style: red, mark: false },
          { text: 'run', style: red, mark: true },
          { text: '/7', style: PLAIN, mark: true },
        ],
      },
      { href: null, pieces: [{ text: ' now', style: PLAIN, mark: false }] },
    ]);
    expect(lineGroups('plain')).toEqual([{ href: null, pieces: [{ text: 'plain', style: PLAIN, mark: false }] }]);
    expect(lineGroups('')).toEqual([]);
    const twoLinks = lineGroups('https://a.test https://b.test');
    expect(twoLinks.map((g) => g.href)).toEqual(['https://a.test', null, 'https://b.test']);
  });
});
