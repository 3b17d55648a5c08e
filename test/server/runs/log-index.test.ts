import { appendFileSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogIndex, LogIndexCache, STRIDE, readLines, searchLog } from '../../../src/server/runs/log-index.ts';

const stamp = '2024-05-01T12:00:00.123Z';
/** The stored line number n (0-based) of the generated log: its text names its own number. */
const lineAt = (n: number): string => {
  const stream = n % 97 === 0 ? 'e' : n % 1000 === 999 ? 's' : 'o';
  const marker = n % 10_000 === 1234 ? ' needle' : n % 50_000 === 7 ? ' NeEdLe' : '';
  return `${stamp} ${stream} line ${n} some build output padding padding padding é${marker}`;
};

/** Writes `lines` generated lines quickly (one big string per 20k lines). */
function writeLog(file: string, from: number, lines: number): void {
  const fd = openSync(file, from === 0 ? 'w' : 'a');
  try {
    for (let start = from; start < from + lines; start += 20_000) {
      const parts: string[] = [];
      for (let n = start; n < Math.min(from + lines, start + 20_000); n++) parts.push(lineAt(n));
      writeSync(fd, `${parts.join('\n')}\n`);
    }
  } finally {
    closeSync(fd);
  }
}

describe('log index', () => {
  let dir: string;
  let big: string;
  const LINES = 400_000;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-log-index-'));
    big = join(dir, 'big.log');
    writeLog(big, 0, LINES);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes a large log sparsely and reads pages at any line, across checkpoint boundaries', async () => {
    const started = performance.now();
    const index = (await new LogIndexCache().get(big))!;
    const buildMs = performance.now() - started;
    expect(index.lines).toBe(LINES);
    expect(index.linesEnd).toBe(index.size);
    // Sparse: a checkpoint per STRIDE lines, nowhere near one number per line.
    expect(index.memoryBytes).toBeLessThanOrEqual(2 * 8 * Math.ceil(LINES / STRIDE) + 1024);
    console.info(`log index: ${(index.size / 1e6).toFixed(1)} MB, ${LINES} lines indexed in ${buildMs.toFixed(0)} ms`);

    for (const from of [0, 1, STRIDE - 1, STRIDE, STRIDE + 1, 499, 500, 64 * 1000 - 1, 123_457, LINES - 500, LINES - 1]) {
      const page = await readLines(index, from, 500);
      expect(page.lines.length, `page at ${from}`).toBe(Math.min(500, LINES - from));
      expect(page.lines[0]).toBe(lineAt(from));
      expect(page.lines.at(-1)).toBe(lineAt(from + page.lines.length - 1));
    }
    expect((await readLines(index, LINES, 10)).lines).toEqual([]);
    expect(await index.offsetOf(STRIDE * 3 + 5)).toBe(
      Buffer.byteLength(Array.from({ length: STRIDE * 3 + 5 }, (_, n) => `${lineAt(n)}\n`).join('')),
    );
  });

  it('searches the text of lines, not the timestamp, in either case mode, with a limit and a continuation', async () => {
    const index = (await new LogIndexCache().get(big))!;
    const expected = Array.from({ length: LINES }, (_, n) => n).filter((n) => n % 10_000 === 1234);
    let started = performance.now();
    const exact = await searchLog(index, { query: 'needle', caseSensitive: true, limit: 1000 });
    const exactMs = performance.now() - started;
    expect(exact).toEqual({ matches: expected, more: false, searchedTo: LINES });

    started = performance.now();
    const loose = await searchLog(index, { query: 'nEEdle', caseSensitive: false, limit: 1000 });
    const looseMs = performance.now() - started;
    const withOdd = [...expected, ...Array.from({ length: LINES }, (_, n) => n).filter((n) => n % 50_000 === 7)].sort((a, b) => a - b);
    expect(loose.matches).toEqual(withOdd);
    console.info(
      `log search over ${(index.size / 1e6).toFixed(1)} MB: exact case ${exactMs.toFixed(0)} ms, any case ${looseMs.toFixed(0)} ms`,
    );

    // Timestamps are not text: every line has "12:00" in its time, none in its text.
    expect((await searchLog(index, { query: '12:00', caseSensitive: true, limit: 10 })).matches).toEqual([]);
    // The stream letter and non-ASCII text.
    expect((await searchLog(index, { query: 'e line 97 ', caseSensitive: true, limit: 10 })).matches).toEqual([]);
    expect((await searchLog(index, { query: 'line 97 ', caseSensitive: true, limit: 10 })).matches).toEqual([97]);
    expect((await searchLog(index, { query: 'É', caseSensitive: false, limit: 3 })).matches).toEqual([0, 1, 2]);

    const first = await searchLog(index, { query: 'needle', caseSensitive: true, limit: 15 });
    expect(first.matches).toEqual(expected.slice(0, 15));
    expect(first.more).toBe(true);
    const rest = await searchLog(index, { query: 'needle', caseSensitive: true, limit: 1000, fromLine: first.searchedTo });
    expect([...first.matches, ...rest.matches]).toEqual(expected);
    expect(rest.more).toBe(false);
  });

  it('stops a search when its time budget is spent, saying where it got to', async () => {
    const index = (await new LogIndexCache().get(big))!;
    let clock = 0;
    const result = await searchLog(index, { query: 'needle', caseSensitive: true, limit: 1000, timeBudgetMs: 10, now: () => (clock += 6) });
    expect(result.more).toBe(true);
    expect(result.searchedTo).toBeGreaterThan(0);
    expect(result.searchedTo).toBeLessThan(LINES);
    expect(result.matches.every((n) => n < result.searchedTo)).toBe(true);
  });

  it('extends itself over appended bytes only, counting a partial last line only once it ends', async () => {
    const file = join(dir, 'growing.log');
    writeLog(file, 0, 1000);
    const cache = new LogIndexCache();
    const index = (await cache.get(file))!;
    expect(index.lines).toBe(1000);
    appendFileSync(file, `${lineAt(1000)}\n${stamp} o half a li`);
    const again = (await cache.get(file))!;
    expect(again).toBe(index);
    expect(again.lines).toBe(1001);
    expect(again.size).toBeGreaterThan(again.linesEnd);
    expect((await readLines(again, 999, 10)).lines).toEqual([lineAt(999), lineAt(1000)]);
    expect((await readLines(again, 999, 10, { includePartial: true })).lines).toEqual([lineAt(999), lineAt(1000), `${stamp} o half a li`]);
    appendFileSync(file, 'ne\n');
    writeLog(file, 1002, 200);
    const grown = (await cache.get(file))!;
    expect(grown.lines).toBe(1202);
    expect((await readLines(grown, 1001, 2)).lines).toEqual([`${stamp} o half a line`, lineAt(1002)]);
    expect((await readLines(grown, 1201, 5)).lines).toEqual([lineAt(1201)]);
  });

  it('starts over when the file shrinks or is replaced, and forgets the least recently used', async () => {
    const cache = new LogIndexCache(2);
    const file = join(dir, 'replaced.log');
    writeLog(file, 0, 300);
    const first = (await cache.get(file))!;
    writeFileSync(file, 'short\n');
    const rewritten = (await cache.get(file))!;
    expect(rewritten).not.toBe(first);
    expect(rewritten.lines).toBe(1);
    const other = join(dir, 'other.log');
    writeLog(other, 0, 400);
    renameSync(other, file);
    const replaced = (await cache.get(file))!;
    expect(replaced.lines).toBe(400);
    expect(replaced.ino).not.toBe(rewritten.ino);

    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    writeLog(a, 0, 5);
    writeLog(b, 0, 5);
    await cache.get(a);
    await cache.get(file);
    await cache.get(b);
    expect(cache.keys()).toEqual([file, b]);
    expect(await cache.get(join(dir, 'missing.log'))).toBeNull();
  });

  it('reads lines longer than a read chunk and caps a page by bytes', async () => {
    const file = join(dir, 'long.log');
    const long = `${stamp} o ${'x'.repeat(200_000)}`;
    writeFileSync(file, `${lineAt(0)}\n${long}\n${long}\n${lineAt(3)}\n`);
    const index = (await new LogIndexCache().get(file))!;
    expect((await readLines(index, 0, 10)).lines).toEqual([lineAt(0), long, long, lineAt(3)]);
    const capped = await readLines(index, 1, 10, { maxBytes: 250_000 });
    expect(capped).toEqual({ lines: [long], cut: true });
    expect((await searchLog(index, { query: 'line 3', caseSensitive: true, limit: 5 })).matches).toEqual([3]);
  });

  it('handles an empty file and lines without the stored prefix', async () => {
    const file = join(dir, 'empty.log');
    writeFileSync(file, '');
    const index = new LogIndex(file, 0);
    await index.update(0);
    expect(index.lines).toBe(0);
    expect((await readLines(index, 0, 10)).lines).toEqual([]);
    writeFileSync(file, 'plain words here\n2024 x not a stream\n');
    const cache = new LogIndexCache();
    const plain = (await cache.get(file))!;
    expect((await searchLog(plain, { query: 'plain', caseSensitive: true, limit: 5 })).matches).toEqual([0]);
    expect((await searchLog(plain, { query: '2024', caseSensitive: true, limit: 5 })).matches).toEqual([1]);
  });
});

describe('log search through colours', () => {
  it('matches text as shown, across colour changes, and never inside escape sequences', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-log-search-'));
    try {
      const file = join(dir, 'colour.log');
      const E = '\u001b';
      writeFileSync(
        file,
        `${[
          `${stamp} o ${E}[1;31merror${E}[0m at step 5`,
          `${stamp} o plain error at step 5`,
          `${stamp} o ${E}[31mnothing here${E}[0m`,
          `${stamp} e ${E}]0;title${E}\\ERROR AT STEP 5`,
          `${stamp} o no colour, no match`,
        ].join('\n')}\n`,
      );
      const index = (await new LogIndexCache().get(file))!;
      expect((await searchLog(index, { query: 'error at step 5', caseSensitive: true, limit: 10 })).matches).toEqual([0, 1]);
      expect((await searchLog(index, { query: 'error at step 5', caseSensitive: false, limit: 10 })).matches).toEqual([0, 1, 3]);
      expect((await searchLog(index, { query: '31m', caseSensitive: true, limit: 10 })).matches).toEqual([]);
      expect((await searchLog(index, { query: 'title', caseSensitive: false, limit: 10 })).matches).toEqual([]);
      expect((await searchLog(index, { query: 'no', caseSensitive: true, limit: 10 })).matches).toEqual([2, 4]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
