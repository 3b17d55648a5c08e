import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { formatDuration, parseDuration } from '../../src/pipeline/durations.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['2h5m10s250ms', 7_510_250],
    ['1.5s', 1500],
    ['90', 90_000],
    [' 45s ', 45_000],
    [0, 0],
    [30, 30_000],
    [0.25, 250],
  ] as const)('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '5 minutes', '30m1h', '5s5s', '1d', '-5s', 'ms'])('refuses %j with a message naming the accepted forms', (text) => {
    expect(() => parseDuration(text)).toThrow(InputError);
    expect(() => parseDuration(text)).toThrow(
      `invalid duration '${text}': use a number of seconds or a value like 500ms, 30s, 5m, 1h or 1h30m`,
    );
  });

  it('refuses negative and non-finite numbers', () => {
    expect(() => parseDuration(-1)).toThrow(InputError);
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(InputError);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [1500, '1.5s'],
    [12_000, '12s'],
    [59_960, '1m'],
    [125_000, '2m5s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_661_000, '1h1m1s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('produces text parseDuration reads back', () => {
    for (const ms of [250, 1500, 125_000, 5_400_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
