/**
 * ANSI escape sequences in job output → styled text segments, so the log viewer can show the
 * colours a build tool printed without ever handing output to innerHTML. Only SGR (`ESC [ … m`)
 * is honoured; every other escape (cursor moves, erase line, OSC titles and hyperlinks) is
 * dropped. Styles do not carry from one line to the next: the viewer shows lines at random
 * positions of a huge log and cannot replay everything before them (GitHub's viewer does the same).
 */

/** A colour as the program asked for it: one of the 256 palette entries, or 24-bit. */
export type AnsiColor = { kind: 'palette'; index: number } | { kind: 'rgb'; r: number; g: number; b: number };

export interface AnsiStyle {
  readonly fg: AnsiColor | null;
  readonly bg: AnsiColor | null;
  readonly bold: boolean;
  readonly dim: boolean;
  readonly italic: boolean;
  readonly underline: boolean;
  readonly inverse: boolean;
  readonly strike: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

export const PLAIN: AnsiStyle = Object.freeze({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
});

const ESC = '\u001b';
const BEL = '\u0007';

/**
 * Splits `line` into segments of equal style (adjacent equal styles merged, empty text never
 * emitted). A carriage return inside the line behaves like a terminal's progress bar: only the
 * text after the last `\r` that is followed by text is shown (styles set before it still apply).
 */
export function parseAnsi(line: string): AnsiSegment[] {
  const segments: AnsiSegment[] = [];
  if (!hasControls(line)) {
    return line ? [{ text: line, style: PLAIN }] : segments;
  }
  const visibleFrom = lastCarriageReturn(line);
  let style = PLAIN;
  let text = '';
  const flush = () => {
    if (!text) return;
    const previous = segments.at(-1);
    if (previous && sameStyle(previous.style, style)) previous.text += text;
    else segments.push({ text, style });
    text = '';
  };
  let i = 0;
  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === ESC) {
      const next = line[i + 1];
      if (next === '[') {
        // CSI: parameter bytes 0x30–0x3F, intermediates 0x20–0x2F, one final byte 0x40–0x7E.
        let j = i + 2;
        while (j < line.length && isParam(line.charCodeAt(j))) j++;
        while (j < line.length && isIntermediate(line.charCodeAt(j))) j++;
        if (j >= line.length) {
          i = line.length;
          break;
        }
        if (line[j] === 'm' && j === skipIntermediates(line, i + 2)) {
          flush();
          style = applySgr(style, line.slice(i + 2, j));
        }
        i = j + 1;
        continue;
      }
      if (next === ']' || next === 'P' || next === '_' || next === '^') {
        // OSC / DCS / APC / PM: up to BEL or ST (ESC \).
        let j = i + 2;
        while (j < line.length && line[j] !== BEL && !(line[j] === ESC && line[j + 1] === '\\')) j++;
        i = j >= line.length ? j : line[j] === BEL ? j + 1 : j + 2;
        continue;
      }
      i += next === undefined ? 1 : 2;
      continue;
    }
    const code = line.charCodeAt(i);
    if (i >= visibleFrom && (code >= 0x20 || code === 0x09) && code !== 0x7f) text += ch;
    i++;
  }
  flush();
  return segments;
}

/** The SGR parameters of one `ESC [ … m` applied to `style`. Accepts `;` and `:` separators. */
export function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number.parseInt(p, 10)));
  const next: { -readonly [K in keyof AnsiStyle]: AnsiStyle[K] } = { ...style };
  for (let k = 0; k < codes.length; k++) {
    const c = codes[k] as number;
    if (c === 0) Object.assign(next, PLAIN);
    else if (c === 1) next.bold = true;
    else if (c === 2) next.dim = true;
    else if (c === 3) next.italic = true;
    else if (c === 4 || c === 21) next.underline = true;
    else if (c === 7) next.inverse = true;
    else if (c === 9) next.strike = true;
    else if (c === 22) {
      next.bold = false;
      next.dim = false;
    } else if (c === 23) next.italic = false;
    else if (c === 24) next.underline = false;
    else if (c === 27) next.inverse = false;
    else if (c === 29) next.strike = false;
    else if (c >= 30 && c <= 37) next.fg = palette(c - 30);
    else if (c >= 40 && c <= 47) next.bg = palette(c - 40);
    else if (c >= 90 && c <= 97) next.fg = palette(c - 90 + 8);
    else if (c >= 100 && c <= 107) next.bg = palette(c - 100 + 8);
    else if (c === 39) next.fg = null;
    else if (c === 49) next.bg = null;
    else if (c === 38 || c === 48) {
      const mode = codes[k + 1];
      let color: AnsiColor | null = null;
      if (mode === 5) {
        const index = codes[k + 2];
        if (index !== undefined && index >= 0 && index <= 255) color = palette(index);
        k += 2;
      } else if (mode === 2) {
        // `38;2;r;g;b`, or the colon form with an (empty) colour-space id: `38:2::r:g:b`.
        const withSpace = params.includes(':') && codes.length - k >= 6;
        const at = k + (withSpace ? 3 : 2);
        const [r, g, b] = [codes[at], codes[at + 1], codes[at + 2]];
        if ([r, g, b].every((v) => v !== undefined && v >= 0 && v <= 255))
          color = { kind: 'rgb', r: r as number, g: g as number, b: b as number };
        k = at + 2;
      } else {
        k = codes.length;
      }
      if (color) {
        if (c === 38) next.fg = color;
        else next.bg = color;
      }
    }
  }
  return next;
}

/** The 24-bit value of a palette entry ≥ 16 (the 6×6×6 cube and the grey ramp of xterm). */
export function paletteRgb(index: number): [number, number, number] {
  if (index >= 232) {
    const v = 8 + (index - 232) * 10;
    return [v, v, v];
  }
  const levels = [0, 95, 135, 175, 215, 255];
  const n = index - 16;
  return [levels[Math.floor(n / 36) % 6] as number, levels[Math.floor(n / 6) % 6] as number, levels[n % 6] as number];
}

export interface SegmentLook {
  /** Class names (`ansi-fg-N` for the 16 themed colours, `ansi-bold` …). */
  className: string;
  /** CSS custom properties for 256-palette and 24-bit colours (`--ansi-fg`, `--ansi-bg`). */
  vars: Record<string, string>;
}

/**
 * How a style is drawn. The 16 basic colours are classes whose values the stylesheet tunes
 * for the light and the dark theme; other colours are custom properties, with a class saying
 * whether the colour is very light or very dark so the stylesheet can pull it towards
 * readable contrast on the current background.
 */
export function lookOf(style: AnsiStyle): SegmentLook {
  const classes: string[] = [];
  const vars: Record<string, string> = {};
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) {
    classes.push('ansi-inverse');
    [fg, bg] = [bg, fg];
  }
  addColor('fg', fg, classes, vars);
  addColor('bg', bg, classes, vars);
  if (style.bold) classes.push('ansi-bold');
  if (style.dim) classes.push('ansi-dim');
  if (style.italic) classes.push('ansi-italic');
  if (style.underline) classes.push('ansi-underline');
  if (style.strike) classes.push('ansi-strike');
  return { className: classes.join(' '), vars };
}

function addColor(role: 'fg' | 'bg', color: AnsiColor | null, classes: string[], vars: Record<string, string>): void {
  if (!color) return;
  if (color.kind === 'palette' && color.index < 16) {
    classes.push(`ansi-${role}-${color.index}`);
    return;
  }
  const [r, g, b] = color.kind === 'rgb' ? [color.r, color.g, color.b] : paletteRgb(color.index);
  vars[`--ansi-${role}`] = `rgb(${r} ${g} ${b})`;
  classes.push(`ansi-${role}x`);
  if (role === 'fg') {
    const l = luminance(r, g, b);
    if (l > 0.55) classes.push('ansi-light');
    else if (l < 0.08) classes.push('ansi-dark');
  }
}

/** WCAG relative luminance, 0 (black) to 1 (white). */
export function luminance(r: number, g: number, b: number): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function palette(index: number): AnsiColor {
  return { kind: 'palette', index };
}

function sameColor(a: AnsiColor | null, b: AnsiColor | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.kind !== b.kind) return false;
  if (a.kind === 'palette') return a.index === (b as typeof a).index;
  const o = b as typeof a;
  return a.r === o.r && a.g === o.g && a.b === o.b;
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return (
    a === b ||
    (sameColor(a.fg, b.fg) &&
      sameColor(a.bg, b.bg) &&
      a.bold === b.bold &&
      a.dim === b.dim &&
      a.italic === b.italic &&
      a.underline === b.underline &&
      a.inverse === b.inverse &&
      a.strike === b.strike)
  );
}

function isParam(code: number): boolean {
  return code >= 0x30 && code <= 0x3f;
}

function isIntermediate(code: number): boolean {
  return code >= 0x20 && code <= 0x2f;
}

/** Where the final byte would be if the sequence had no intermediates (SGR has none). */
function skipIntermediates(line: string, from: number): number {
  let j = from;
  while (j < line.length && isParam(line.charCodeAt(j))) j++;
  return j;
}

function hasControls(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** Index after the last `\r` that has visible text after it (0 when none). */
function lastCarriageReturn(line: string): number {
  let end = line.length;
  while (end > 0 && line[end - 1] === '\r') end--;
  const cr = line.lastIndexOf('\r', end - 1);
  return cr === -1 ? 0 : cr + 1;
}
