/**
 * RubyGems' version order (`Gem::Version#<=>`): a `-` means `.pre.`; segments are runs of digits
 * (numbers) or letters (strings); trailing zeros are dropped from the numeric part and from the
 * rest separately; a string segment sorts before any number (`1.0.a` is a pre-release of `1.0`).
 * Small enough to write than to bridge to Ruby; checked against OSV's reference data.
 */
type Segment = bigint | string;

function dropTrailingZeros(segments: Segment[]): Segment[] {
  let end = segments.length;
  while (end > 0 && segments[end - 1] === 0n) end--;
  return segments.slice(0, end);
}

export function canonicalGemSegments(version: string): Segment[] {
  const text = version.trim().replaceAll('-', '.pre.');
  const segments: Segment[] = (text.match(/[0-9]+|[a-z]+/gi) ?? []).map((s) => (/^[0-9]/.test(s) ? BigInt(s) : s));
  const firstString = segments.findIndex((s) => typeof s === 'string');
  const split = firstString < 0 ? segments.length : firstString;
  return [...dropTrailingZeros(segments.slice(0, split)), ...dropTrailingZeros(segments.slice(split))];
}

export function compareRubyGems(a: string, b: string): number {
  const x = canonicalGemSegments(a);
  const y = canonicalGemSegments(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0n;
    const q = y[i] ?? 0n;
    if (p === q) continue;
    if (typeof p === 'string' && typeof q !== 'string') return -1;
    if (typeof p !== 'string' && typeof q === 'string') return 1;
    return p < q ? -1 : 1;
  }
  return 0;
}
