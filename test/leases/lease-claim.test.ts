import { describe, expect, it } from 'vitest';
import { decideClaim, decideRelease, type LeaseClaim, type LeaseRecord } from '../../src/leases/index.ts';

const claim = (holder: string, nowMs: number): LeaseClaim => ({
  name: 'loops',
  holder,
  holderUrl: `http://${holder}`,
  nowMs,
  ttlMs: 5_000,
});

describe('decideClaim', () => {
  it('grants a lease nobody held yet with token 1', () => {
    expect(decideClaim(null, claim('a', 1_000))).toEqual({
      granted: true,
      lease: { name: 'loops', holder: 'a', holderUrl: 'http://a', token: 1, expiresAtMs: 6_000 },
    });
  });

  it('renews for its holder without raising the token, even past the expiry', () => {
    const held: LeaseRecord = { name: 'loops', holder: 'a', holderUrl: 'http://a', token: 3, expiresAtMs: 6_000 };
    expect(decideClaim(held, claim('a', 5_000))).toEqual({ granted: true, lease: { ...held, expiresAtMs: 10_000 } });
    expect(decideClaim(held, claim('a', 7_000))).toEqual({ granted: true, lease: { ...held, expiresAtMs: 12_000 } });
  });

  it('refuses another claimant until the expiry, then hands over with a higher token', () => {
    const held: LeaseRecord = { name: 'loops', holder: 'a', holderUrl: 'http://a', token: 3, expiresAtMs: 6_000 };
    expect(decideClaim(held, claim('b', 5_999))).toEqual({ granted: false, lease: held });
    expect(decideClaim(held, claim('b', 6_000))).toEqual({
      granted: true,
      lease: { name: 'loops', holder: 'b', holderUrl: 'http://b', token: 4, expiresAtMs: 11_000 },
    });
  });
});

describe('decideRelease', () => {
  const held: LeaseRecord = { name: 'loops', holder: 'a', holderUrl: 'http://a', token: 3, expiresAtMs: 6_000 };

  it('frees the lease for its holder at once and keeps the token, so the next holder gets a higher one', () => {
    const released = decideRelease(held, 'a', 3);
    expect(released).toEqual({ ...held, holder: '', holderUrl: '', expiresAtMs: 0 });
    expect(decideClaim(released, claim('b', 1_000))).toMatchObject({ granted: true, lease: { holder: 'b', token: 4 } });
  });

  it('ignores a release by anyone else or with a stale token', () => {
    expect(decideRelease(held, 'b', 3)).toBe(held);
    expect(decideRelease(held, 'a', 2)).toBe(held);
    expect(decideRelease(null, 'a', 1)).toBeNull();
  });
});
