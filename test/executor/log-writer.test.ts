import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogWriter, MAX_LINE_BYTES, parseLogLine, type LogWriterOptions } from '../../src/executor/log-writer.ts';
import { createMasker } from '../../src/executor/masker.ts';
import type { LogLine } from '../../src/executor/ports.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-log-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 123);
function open(o: Partial<LogWriterOptions> = {}) {
  const file = join(dir, 'job', 'log');
  const lines: LogLine[] = [];
  const writer = createLogWriter({
    file,
    capBytes: 0,
    jobKey: 'build',
    masker: createMasker([]),
    onLine: (l) => lines.push(l),
    now: () => T0,
    ...o,
  });
  const stored = () => readFileSync(file, 'utf8').split('\n').slice(0, -1).map(parseLogLine);
  return { file, writer, lines, stored };
}
const b = (s: string) => Buffer.from(s, 'utf8');

describe('createLogWriter', () => {
  it('stores one timestamped line per output line, in the documented format', async () => {
    const { file, writer } = open();
    writer.stdout(b('hello\n'));
    writer.stderr(b('oops\n'));
    writer.system('▶ step');
    const summary = await writer.close();
    const text = readFileSync(file, 'utf8');
    expect(text).toBe('2024-05-01T12:00:00.123Z o hello\n2024-05-01T12:00:00.123Z e oops\n2024-05-01T12:00:00.123Z s ▶ step\n');
    expect(summary).toEqual({ bytes: Buffer.byteLength(text), lines: 3, truncated: false, cutBytes: 0 });
  });

  it('joins partial lines across chunks, strips \\r\\n, keeps streams apart and flushes the last line at close', async () => {
    const { writer, lines, stored } = open();
    writer.stdout(b('par'));
    writer.stderr(b('err-a'));
    writer.stdout(b('tial\r\nnext\nla'));
    writer.stderr(b('\n'));
    writer.stdout(b('st'));
    await writer.close();
    const expected = [
      { at: '2024-05-01T12:00:00.123Z', stream: 'o', text: 'partial' },
      { at: '2024-05-01T12:00:00.123Z', stream: 'o', text: 'next' },
      { at: '2024-05-01T12:00:00.123Z', stream: 'e', text: 'err-a' },
      { at: '2024-05-01T12:00:00.123Z', stream: 'o', text: 'last' },
    ];
    expect(stored()).toEqual(expected);
    expect(lines.map((l) => [l.stream, l.text, l.at, l.jobKey])).toEqual([
      ['stdout', 'partial', T0, 'build'],
      ['stdout', 'next', T0, 'build'],
      ['stderr', 'err-a', T0, 'build'],
      ['stdout', 'last', T0, 'build'],
    ]);
  });

  it('keeps a multi-byte character split across chunks intact', async () => {
    const { writer, stored } = open();
    const euro = b('€\n');
    writer.stdout(euro.subarray(0, 1));
    writer.stdout(euro.subarray(1));
    await writer.close();
    expect(stored().map((l) => l.text)).toEqual(['€']);
  });

  it('flushes a pending partial line before a system line', async () => {
    const { writer, stored } = open();
    writer.stdout(b('no newline'));
    writer.system('✔ done');
    await writer.close();
    expect(stored().map((l) => `${l.stream} ${l.text}`)).toEqual(['o no newline', 's ✔ done']);
  });

  it('force-splits a line longer than 64 KiB, whether it arrives in one chunk or many', async () => {
    const { writer, stored } = open();
    const long = 'x'.repeat(MAX_LINE_BYTES * 2 + 10);
    writer.stdout(b(`${long}\nshort\n`));
    for (let i = 0; i < long.length; i += 1000) writer.stderr(b(long.slice(i, i + 1000)));
    writer.stderr(b('\n'));
    await writer.close();
    const out = stored();
    const sizes = (s: string) => out.filter((l) => l.stream === s).map((l) => l.text.length);
    expect(sizes('o')).toEqual([MAX_LINE_BYTES, MAX_LINE_BYTES, 10, 5]);
    expect(sizes('e')).toEqual([MAX_LINE_BYTES, MAX_LINE_BYTES, 10]);
  });

  it('masks secrets per line in the file and in onLine, never the timestamp', async () => {
    const { writer, lines, stored } = open({ masker: createMasker(['2024', 'hunter2']), now: () => T0 });
    writer.stdout(b('pw=hunter2 year 2024\n'));
    writer.system('token hunter2');
    await writer.close();
    expect(stored()).toEqual([
      { at: '2024-05-01T12:00:00.123Z', stream: 'o', text: 'pw=*** year ***' },
      { at: '2024-05-01T12:00:00.123Z', stream: 's', text: 'token ***' },
    ]);
    expect(lines.map((l) => l.text)).toEqual(['pw=*** year ***', 'token ***']);
  });

  it('caps the log: keeps the head and the tail with a marker, and removes the tail segments', async () => {
    const { file, writer, stored } = open({ capBytes: 4000, onLine: undefined });
    const total = 2000;
    // Written in uneven chunks to exercise partial lines while truncating.
    let pending = '';
    for (let i = 0; i < total; i++) {
      pending += `line ${String(i).padStart(4, '0')}\n`;
      if (pending.length > 333) {
        writer.stdout(b(pending.slice(0, 333)));
        pending = pending.slice(333);
      }
    }
    writer.stdout(b(pending));
    const summary = await writer.close();
    const out = stored();
    const markerIndex = out.findIndex((l) => l.stream === 's');
    const head = out.slice(0, markerIndex).map((l) => l.text);
    const tail = out.slice(markerIndex + 1).map((l) => l.text);
    expect(head[0]).toBe('line 0000');
    expect(head.every((t, i) => t === `line ${String(i).padStart(4, '0')}`)).toBe(true);
    expect(tail.at(-1)).toBe('line 1999');
    const firstTail = Number(tail[0]?.slice(5));
    expect(tail.every((t, i) => t === `line ${String(firstTail + i).padStart(4, '0')}`)).toBe(true);
    const lineBytes = '2024-05-01T12:00:00.123Z o line 0000\n'.length;
    const cutLines = total - head.length - tail.length;
    const marker = out[markerIndex]?.text;
    expect(marker).toBe(`[gantry] log truncated: ${cutLines * lineBytes} bytes (${cutLines} lines) cut from the middle`);
    expect(head.length * lineBytes).toBeLessThanOrEqual(2000);
    expect(head.length * lineBytes).toBeGreaterThan(2000 - lineBytes);
    expect(tail.length * lineBytes).toBeLessThanOrEqual(2000);
    expect(tail.length * lineBytes).toBeGreaterThan(2000 - 2 * lineBytes);
    const size = readFileSync(file).length;
    expect(summary).toEqual({ bytes: size, lines: out.length, truncated: true, cutBytes: cutLines * lineBytes });
    expect(readdirSync(join(dir, 'job'))).toEqual(['log']);
  });

  it('survives a failing disk: writes never throw, close() reports the error', async () => {
    const writer = createLogWriter({ file: '/dev/full', capBytes: 0, jobKey: 'k', masker: createMasker([]) });
    expect(() => {
      writer.stdout(b('x\n'));
      writer.system('y');
    }).not.toThrow();
    await expect(writer.close()).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('ignores writes after close', async () => {
    const { writer, stored } = open();
    writer.stdout(b('a\n'));
    await writer.close();
    writer.stdout(b('late\n'));
    expect(stored().map((l) => l.text)).toEqual(['a']);
  });
});

describe('parseLogLine', () => {
  it('parses the three streams and an empty text, and keeps foreign lines as text', () => {
    expect(parseLogLine('2024-05-01T12:00:00.123Z e  two spaces')).toEqual({
      at: '2024-05-01T12:00:00.123Z',
      stream: 'e',
      text: ' two spaces',
    });
    expect(parseLogLine('2024-05-01T12:00:00.123Z o ')).toEqual({ at: '2024-05-01T12:00:00.123Z', stream: 'o', text: '' });
    expect(parseLogLine('not a log line')).toEqual({ at: '', stream: 'o', text: 'not a log line' });
  });
});
