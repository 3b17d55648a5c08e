/**
 * Composer's version order, which is PHP's `version_compare` on versions without a leading `v`:
 * `-`, `_` and `+` become dots, a dot goes between digits and letters, and parts compare as
 * numbers when both are numbers and otherwise by their "special form": `dev` < `alpha`/`a` <
 * `beta`/`b` < `RC`/`rc` < a number < `pl`/`p`, anything else before `dev`. A longer version
 * is greater when its extra part is a number, and compares as that part against a number
 * otherwise (`1.0rc1` < `1.0` < `1.0pl1`). Checked against OSV's reference data.
 */

/** PHP matches a special form when the part starts with it, in this order. */
const SPECIAL_FORMS: readonly [string, number][] = [
  ['dev', 0],
  ['alpha', 1],
  ['a', 1],
  ['beta', 2],
  ['b', 2],
  ['RC', 3],
  ['rc', 3],
  ['#', 4],
  ['pl', 5],
  ['p', 5],
];
const NUMBER_FORM = '#';

function formWeight(part: string): number {
  for (const [form, weight] of SPECIAL_FORMS) if (part.startsWith(form)) return weight;
  return -6;
}

function isNumber(part: string): boolean {
  return /^[0-9]+$/.test(part);
}

export function packagistParts(version: string): string[] {
  const text = version
    .replace(/^[vV]/, '')
    .replace(/[-_+]/g, '.')
    .replace(/([^\d.])(\d)/g, '$1.$2')
    .replace(/(\d)([^\d.])/g, '$1.$2');
  return text.split('.').filter((p) => p !== '');
}

function compareParts(p: string, q: string): number {
  if (isNumber(p) && isNumber(q)) {
    const x = BigInt(p);
    const y = BigInt(q);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  return Math.sign(formWeight(isNumber(p) ? NUMBER_FORM : p) - formWeight(isNumber(q) ? NUMBER_FORM : q));
}

function compareLists(x: string[], y: string[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareParts(x[i] as string, y[i] as string);
    if (c !== 0) return c;
  }
  if (x.length > y.length) return isNumber(x[y.length] as string) ? 1 : compareLists(x.slice(y.length), [NUMBER_FORM]);
  if (x.length < y.length) return isNumber(y[x.length] as string) ? -1 : compareLists([NUMBER_FORM], y.slice(x.length));
  return 0;
}

export function comparePackagist(a: string, b: string): number {
  return compareLists(packagistParts(a), packagistParts(b));
}
