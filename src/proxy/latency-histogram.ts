/**
 * HDR-style log-linear bucketing of latencies in microseconds: exact below 128 µs, then 64
 * sub-buckets per power of two (≈1.6 % relative error, HdrHistogram with 2 significant digits),
 * up to ~134 s. The proxy records one value per request into preallocated `Uint32Array`s with
 * these indexes, so recording allocates nothing; the analysis reads the buckets back as
 * (value, count) pairs, which is what rank tests such as Mann-Whitney U need.
 */

/** Number of buckets of one histogram. */
export const BUCKETS = 1408;
/** Values above this (µs) land in the last bucket. */
export const MAX_US = 2 ** 27 - 1;

/** Bucket index of a latency in µs (fractions truncated, negatives clamped to 0). */
export function bucketIndex(us: number): number {
  if (!(us >= 0)) return 0;
  if (us < 128) return us | 0;
  const v = us > MAX_US ? MAX_US : us | 0;
  const shift = 31 - Math.clz32(v) - 6;
  return 128 + (shift - 1) * 64 + ((v >>> shift) - 64);
}

/** Smallest µs value that maps to bucket `idx`. */
export function bucketLowUs(idx: number): number {
  if (idx < 128) return idx;
  const shift = ((idx - 128) >> 6) + 1;
  return (((idx - 128) & 63) + 64) * 2 ** shift;
}

/** Largest µs value that maps to bucket `idx` (HdrHistogram's "highest equivalent value"). */
export function bucketHighUs(idx: number): number {
  if (idx < 128) return idx;
  const shift = ((idx - 128) >> 6) + 1;
  return bucketLowUs(idx) + 2 ** shift - 1;
}

/** The value at quantile `q` (0..1) of bucket counts, in µs, as its bucket's highest value; 0 when empty. */
export function quantileUs(counts: ArrayLike<number>, total: number, q: number): number {
  if (total <= 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] as number;
    if (seen >= rank) return bucketHighUs(i);
  }
  return bucketHighUs(counts.length - 1);
}
