/**
 * The length of a value's JSON text, found without building it, so toJSON() and template
 * interpolation can refuse a result that is too large before paying for it.
 */
import type { Value } from '../../core/types.ts';

/**
 * `JSON.stringify(value, null, indent).length`, exactly, or some number above `cap` as soon as the
 * text is known to be longer (the walk stops there, so a huge value costs no more than `cap`).
 */
export function jsonTextLength(value: Value, indent: number, cap: number): number {
  const walker = { total: 0, cap, indent };
  add(walker, value, 0);
  return walker.total;
}

interface Walker {
  total: number;
  readonly cap: number;
  readonly indent: number;
}

function add(walker: Walker, value: Value, level: number): void {
  if (walker.total > walker.cap) return;
  if (value === null) {
    walker.total += 4;
    return;
  }
  switch (typeof value) {
    case 'boolean':
      walker.total += value ? 4 : 5;
      return;
    case 'number':
      walker.total += Number.isFinite(value) ? JSON.stringify(value).length : 4;
      return;
    case 'string':
      walker.total += JSON.stringify(value).length;
      return;
  }
  const entries: [string | undefined, Value][] = Array.isArray(value)
    ? value.map((item): [undefined, Value] => [undefined, item])
    : Object.entries(value);
  if (entries.length === 0) {
    walker.total += 2;
    return;
  }
  const newline = walker.indent > 0 ? 1 : 0;
  // Brackets, the newline after the opening one, and the closing one on its own indented line.
  walker.total += 2 + newline + (newline + walker.indent * level);
  walker.total += (entries.length - 1) * (1 + newline);
  for (const [key, item] of entries) {
    walker.total += walker.indent * (level + 1);
    if (key !== undefined) walker.total += JSON.stringify(key).length + (walker.indent > 0 ? 2 : 1);
    add(walker, item, level + 1);
    if (walker.total > walker.cap) return;
  }
}
