/**
 * PyPI's version order: PEP 440 through `@renovatebot/pep440` (a port of `packaging`'s
 * `Version`), and for strings that are not PEP 440 versions the order `packaging` gave them
 * before version 22 as `LegacyVersion` — always before every PEP 440 version — because old
 * releases and advisories still carry them and OSV's tools still order them that way.
 */
import { compare as comparePep440, valid } from '@renovatebot/pep440';

const LEGACY_PART = /(\d+|[a-z]+|\.|-)/;
const LEGACY_REPLACEMENTS: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };

/** `packaging`'s `_legacy_cmpkey` without its constant epoch of -1. */
export function legacyKey(version: string): string[] {
  const parts: string[] = [];
  const pieces = version
    .toLowerCase()
    .split(LEGACY_PART)
    .map((p) => LEGACY_REPLACEMENTS[p] ?? p);
  for (const piece of [...pieces, '*final']) {
    if (piece === '' || piece === '.') continue;
    const part = piece === '*final' ? piece : /^[0-9]/.test(piece) ? piece.padStart(8, '0') : `*${piece}`;
    if (part.startsWith('*')) {
      if (part < '*final') while (parts.at(-1) === '*final-') parts.pop();
      while (parts.at(-1) === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function compareKeys(x: string[], y: string[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] as string;
    const q = y[i] as string;
    if (p !== q) return p < q ? -1 : 1;
  }
  return Math.sign(x.length - y.length);
}

export function comparePyPI(a: string, b: string): number {
  const aValid = valid(a) !== null;
  const bValid = valid(b) !== null;
  if (aValid && bValid) return Math.sign(comparePep440(a, b));
  if (aValid !== bValid) return aValid ? 1 : -1;
  return compareKeys(legacyKey(a), legacyKey(b));
}
