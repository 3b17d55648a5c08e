/**
 * Who holds a lease after a claim: the one rule both stores apply inside a transaction, so SQLite
 * and PostgreSQL agree by construction (test/store/lease-store.test.ts runs the same contract on
 * both). A lease is a row: its holder, a fencing token and an expiry. The holder renews by
 * claiming again before the expiry; anyone may take it once it has expired. Every change of
 * holder raises the token, so a write stamped with an older token is recognisably stale
 * (Kleppmann's fencing tokens), even from a holder that paused past its expiry and woke up.
 */

/** A lease as stored. Times are milliseconds since the epoch, from the claimants' clocks. */
export interface LeaseRecord {
  name: string;
  holder: string;
  /** Raised by one at every change of holder; never lowered. */
  token: number;
  expiresAtMs: number;
  /** Where the holder can be reached (its API URL), for people and for the other servers. */
  holderUrl: string;
}

/** A claim: take the lease, or keep it, until `nowMs + ttlMs`. */
export interface LeaseClaim {
  name: string;
  holder: string;
  holderUrl: string;
  nowMs: number;
  ttlMs: number;
}

export type ClaimOutcome = { granted: true; lease: LeaseRecord } | { granted: false; lease: LeaseRecord };

/**
 * The lease after `claim`, given the stored row (null when there is none yet). Granted when the
 * lease is free, expired or already the claimant's; the token goes up only when the holder
 * changes, so a holder renewing keeps its token and its earlier writes stay current.
 */
export function decideClaim(current: LeaseRecord | null, claim: LeaseClaim): ClaimOutcome {
  const expiresAtMs = claim.nowMs + claim.ttlMs;
  if (current === null)
    return { granted: true, lease: { name: claim.name, holder: claim.holder, holderUrl: claim.holderUrl, token: 1, expiresAtMs } };
  if (current.holder === claim.holder) return { granted: true, lease: { ...current, holderUrl: claim.holderUrl, expiresAtMs } };
  if (current.expiresAtMs > claim.nowMs) return { granted: false, lease: current };
  return { granted: true, lease: { ...current, holder: claim.holder, holderUrl: claim.holderUrl, token: current.token + 1, expiresAtMs } };
}

/**
 * The lease after its holder lets it go (a clean shutdown), so another takes it at its next claim
 * instead of waiting for the expiry. Only the holder with the current token may; the token is
 * kept, so the next holder's is still higher than every earlier one's.
 */
export function decideRelease(current: LeaseRecord | null, holder: string, token: number): LeaseRecord | null {
  if (current === null || current.holder !== holder || current.token !== token) return current;
  return { ...current, holder: '', holderUrl: '', expiresAtMs: 0 };
}
