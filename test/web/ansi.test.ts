import { describe, expect, it } from 'vitest';
import { PLAIN, applySgr, lookOf, paletteRgb, parseAnsi, type AnsiSegment } from '../../web/src/log/ansi.ts';

const E = '\u001b';
const simple = (segments: AnsiSegment[]) => segments.map((s) => [s.text, lookOf(s.style).className, lookOf(s.style).vars]);

describe('ANSI SGR parsing', () => {
  it('returns plain text as one unstyled segment, and nothing for an empty line', () => {
    expect(parseAnsi('hello world')).toEqual([{ text: 'hello world', style: PLAIN }]);
    expect(parseAnsi('')).toEqual([]);
    expect(parseAnsi('tab\there')).toEqual([{ text: 'tab\there', style: PLAIN }]);
  });

  it('applies the 16 colours, bright variants, backgrounds and resets', () => {
    expect(simple(parseAnsi(`a${E}[31mred${E}[0mb${E}[1;92;44mX${E}[39mY${E}[49;22mZ${E}[mW`))).toEqual([
      ['a', '', {}],
      ['red', 'ansi-fg-1', {}],
      ['b', '', {}],
      ['X', 'ansi-fg-10 ansi-bg-4 ansi-bold', {}],
      ['Y', 'ansi-bg-4 ansi-bold', {}],
      ['ZW', '', {}],
    ]);
    expect(simple(parseAnsi(`${E}[97;100mx`))).toEqual([['x', 'ansi-fg-15 ansi-bg-8', {}]]);
  });

  it('reads 256-colour and 24-bit colours, with ; and : separators', () => {
    expect(simple(parseAnsi(`${E}[38;5;196mA${E}[38;5;3mB${E}[48;5;244mC`))).toEqual([
      ['A', 'ansi-fgx', { '--ansi-fg': 'rgb(255 0 0)' }],
      ['B', 'ansi-fg-3', {}],
      ['C', 'ansi-fg-3 ansi-bgx', { '--ansi-bg': 'rgb(128 128 128)' }],
    ]);
    expect(simple(parseAnsi(`${E}[38;2;10;20;30mA${E}[38:2::250:250:240mB${E}[38:5:21mC`))).toEqual([
      ['A', 'ansi-fgx ansi-dark', { '--ansi-fg': 'rgb(10 20 30)' }],
      ['B', 'ansi-fgx ansi-light', { '--ansi-fg': 'rgb(250 250 240)' }],
      ['C', 'ansi-fgx ansi-dark', { '--ansi-fg': 'rgb(0 0 255)' }],
    ]);
    expect(paletteRgb(16)).toEqual([0, 0, 0]);
    expect(paletteRgb(231)).toEqual([255, 255, 255]);
    expect(paletteRgb(232)).toEqual([8, 8, 8]);
    expect(paletteRgb(255)).toEqual([238, 238, 238]);
    // Out-of-range values are ignored, not thrown on; later codes in the same sequence still apply.
    expect(applySgr(PLAIN, '38;5;999;1')).toMatchObject({ fg: null, bold: true });
    expect(applySgr(PLAIN, '38;2;1;2')).toMatchObject({ fg: null });
  });

  it('handles bold, dim, italic, underline, inverse and strike on and off', () => {
    const all = applySgr(PLAIN, '1;2;3;4;7;9');
    expect(all).toMatchObject({ bold: true, dim: true, italic: true, underline: true, inverse: true, strike: true });
    expect(applySgr(all, '22;23;24;27;29')).toEqual(PLAIN);
    expect(lookOf(applySgr(PLAIN, '31;42;7')).className).toBe('ansi-inverse ansi-fg-2 ansi-bg-1');
    expect(simple(parseAnsi(`${E}[2;3;4;9mq`))).toEqual([['q', 'ansi-dim ansi-italic ansi-underline ansi-strike', {}]]);
  });

  it('drops other escape sequences and control characters, and merges equal styles', () => {
    expect(parseAnsi(`${E}[2K${E}[1Gdone${E}[?25h ok`)).toEqual([{ text: 'done ok', style: PLAIN }]);
    expect(parseAnsi(`${E}]0;title${E}\\a${E}]8;;https://x.test${E}\\link${E}]8;;${E}\\b\u0007c`)).toEqual([
      { text: 'alinkbc', style: PLAIN },
    ]);
    expect(parseAnsi(`x${E}[31m${E}[31my${E}[31mz`)).toEqual([
      { text: 'x', style: PLAIN },
      { text: 'yz', style: applySgr(PLAIN, '31') },
    ]);
    // A truncated sequence at the end of a line is dropped, not shown.
    expect(parseAnsi(`end${E}[3`)).toEqual([{ text: 'end', style: PLAIN }]);
    expect(parseAnsi(`end${E}`)).toEqual([{ text: 'end', style: PLAIN }]);
  });

  it('shows what a progress bar left after its last carriage return, keeping its colour', () => {
    expect(parseAnsi('10%\r50%\r100%')).toEqual([{ text: '100%', style: PLAIN }]);
    expect(parseAnsi(`${E}[32m10%\r100%\r`)).toEqual([{ text: '100%', style: applySgr(PLAIN, '32') }]);
  });

  // Its speed (≤ 50 ms) is measured by bench/test-timings.ts, not asserted here.
  it('parses a long coloured line', () => {
    const line = Array.from({ length: 2000 }, (_, i) => `${E}[3${i % 8}mword${i}${E}[0m `).join('');
    const segments = parseAnsi(line);
    expect(segments).toHaveLength(4000);
  });
});
