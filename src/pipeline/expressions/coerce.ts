/**
 * GitHub Actions' value rules: truthiness, loose equality, ordering and string forms. Every
 * operator and function goes through these so the language behaves the same everywhere.
 */
import type { Value } from '../../core/types.ts';

/** The six kinds of value the language distinguishes. */
export type ValueKind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

/** Which of the six kinds a value is (loose equality compares same kinds directly). */
export function kindOf(value: Value): ValueKind {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    default:
      return 'object';
  }
}

/** Arrays and objects: compared by identity, never coerced to a number. */
export function isContainer(value: Value): value is Value[] | { [key: string]: Value } {
  return value !== null && typeof value === 'object';
}

/** Falsy: false, 0, -0, NaN, '' and null; everything else (including [] and {}) is truthy. */
export function truthy(value: Value): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value !== '';
  return true;
}

/** null → 0, booleans → 0/1, strings parsed (blank → 0, junk → NaN), arrays and objects → NaN. */
export function toNumber(value: Value): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return /^\s*[+-]?0[bB]/.test(value) ? Number.NaN : Number(value);
  return Number.NaN;
}

const ASCII = /^[\x00-\x7f]*$/;
/** The two letters whose one-to-one upper case would equate Turkish and Latin i, which ordinal comparison keeps apart. */
const UNFOLDED = new Set(['\u0131', '\u0130']);

/**
 * The case folding of every case-insensitive comparison: GitHub compares ordinally ignoring case
 * (.NET's OrdinalIgnoreCase), i.e. each UTF-16 unit upper-cased on its own. JavaScript's
 * toUpperCase is full Unicode casing ('ß' → 'SS', 'ı' → 'I'), which would make 'ß' == 'SS' true.
 */
export function foldCase(text: string): string {
  if (ASCII.test(text)) return text.toUpperCase();
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charAt(i);
    const upper = unit.toUpperCase();
    out += upper.length === 1 && !UNFOLDED.has(unit) ? upper : unit;
  }
  return out;
}

/** `==`: same kinds compare directly (strings ignoring case, containers by identity); other kinds as numbers. */
export function looseEquals(a: Value, b: Value): boolean {
  const kindA = kindOf(a);
  const kindB = kindOf(b);
  if (kindA === kindB) {
    if (typeof a === 'string' && typeof b === 'string') return foldCase(a) === foldCase(b);
    return a === b;
  }
  if (isContainer(a) || isContainer(b)) return false;
  return toNumber(a) === toNumber(b);
}

/**
 * Orders two values for `< <= > >=`: negative, zero or positive, or NaN when they cannot be
 * ordered (then every comparison is false). Two strings compare ignoring case; anything else as numbers.
 */
export function compareValues(a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = foldCase(a);
    const y = foldCase(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = toNumber(a);
  const y = toNumber(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** GitHub's string coercion, used inside functions (format, join, contains…): containers become 'Array'/'Object'. */
export function toStringValue(value: Value): string {
  if (Array.isArray(value)) return 'Array';
  if (isContainer(value)) return 'Object';
  return toDisplayString(value);
}

/**
 * The text a `${{ }}` becomes in a template: null → '', booleans 'true'/'false', numbers as GitHub
 * prints them (formatNumber), strings as-is, arrays and objects as compact JSON.
 */
export function toDisplayString(value: Value): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return formatNumber(value);
  return JSON.stringify(value) ?? '';
}

/** Significant digits of a number's text, as GitHub's runner prints numbers ("G15"). */
const SIGNIFICANT_DIGITS = 15;

/**
 * A number as GitHub prints it (.NET's "G15"): at most 15 significant digits, so binary noise
 * never shows (0.84551240822557006 → '0.84551240822557'); plain notation for exponents from -4
 * to 14, else scientific with a two-digit exponent ('1E+21', '1.5E-07'); -0 as '0'.
 */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return '0';
  const [mantissa = '', exponentText = '0'] = value.toExponential(SIGNIFICANT_DIGITS - 1).split('e');
  const exponent = Number(exponentText);
  if (exponent > -5 && exponent < SIGNIFICANT_DIGITS) return String(Number(value.toPrecision(SIGNIFICANT_DIGITS)));
  const digits = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
  const sign = exponent < 0 ? '-' : '+';
  return `${digits}E${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}
