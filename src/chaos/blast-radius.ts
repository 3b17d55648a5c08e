/**
 * Whether a measured share of faulted requests fits the configured percent: the exact two-sided
 * binomial test, the interval the blast-radius target is stated in. Pure; used by the tests and
 * `bench/chaos-blast-radius.ts`.
 */
import { binomialUpperTail } from '../delivery/index.ts';

/**
 * The two-sided p-value of seeing `faulted` of `total` requests taken when each is taken with
 * probability `share`: twice the smaller tail, capped at 1.
 */
export function shareTestPValue(faulted: number, total: number, share: number): number {
  if (total <= 0) return 1;
  const upper = binomialUpperTail(faulted, total, share);
  const lower = 1 - binomialUpperTail(faulted + 1, total, share);
  return Math.min(1, 2 * Math.min(upper, lower));
}

/** The normal-approximation interval of the share at ~99.7 % (±3σ), for reports: [low, high] as fractions. */
export function shareInterval(total: number, share: number, sigmas = 3): [number, number] {
  const sd = Math.sqrt((share * (1 - share)) / Math.max(1, total));
  return [Math.max(0, share - sigmas * sd), Math.min(1, share + sigmas * sd)];
}
