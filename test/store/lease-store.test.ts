/**
 * The LeaseStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL: claims,
 * renewals, hand-over at the expiry with a higher fencing token, release, and — on PostgreSQL,
 * where several servers claim at once — exactly one winner among concurrent claimants on
 * separate connections.
 */
import { expect, it } from 'vitest';
import type { LeaseClaim } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import { describeOnEachStore } from '../support/store-contract.ts';

const claim = (name: string, holder: string, nowMs: number): LeaseClaim => ({
  name,
  holder,
  holderUrl: `http://${holder}.test`,
  nowMs,
  ttlMs: 5_000,
});

describeOnEachStore('LeaseStore', (db) => {
  it('grants a new lease with token 1, renews it for its holder and refuses others until it expires', async () => {
    expect(await db.store.leases.get('a')).toBeNull();
    expect(await db.store.leases.claim(claim('a', 'one', 1_000))).toEqual({
      granted: true,
      lease: { name: 'a', holder: 'one', holderUrl: 'http://one.test', token: 1, expiresAtMs: 6_000 },
    });
    expect(await db.store.leases.claim(claim('a', 'one', 3_000))).toMatchObject({ granted: true, lease: { token: 1, expiresAtMs: 8_000 } });
    expect(await db.store.leases.claim(claim('a', 'two', 7_999))).toMatchObject({ granted: false, lease: { holder: 'one', token: 1 } });
    expect(await db.store.leases.claim(claim('a', 'two', 8_000))).toEqual({
      granted: true,
      lease: { name: 'a', holder: 'two', holderUrl: 'http://two.test', token: 2, expiresAtMs: 13_000 },
    });
    expect(await db.store.leases.get('a')).toEqual({
      name: 'a',
      holder: 'two',
      holderUrl: 'http://two.test',
      token: 2,
      expiresAtMs: 13_000,
    });
    // The old holder coming back is refused: it must not believe it still owns the lease.
    expect(await db.store.leases.claim(claim('a', 'one', 9_000))).toMatchObject({ granted: false, lease: { holder: 'two' } });
  });

  it('frees a lease released by its holder at once, and ignores a release with a stale token', async () => {
    await db.store.leases.claim(claim('b', 'one', 1_000));
    await db.store.leases.release('b', 'one', 7);
    expect(await db.store.leases.claim(claim('b', 'two', 1_001))).toMatchObject({ granted: false });
    await db.store.leases.release('b', 'one', 1);
    expect(await db.store.leases.claim(claim('b', 'two', 1_002))).toMatchObject({ granted: true, lease: { holder: 'two', token: 2 } });
  });

  it('keeps expiries in epoch milliseconds, beyond 32 bits', async () => {
    const farFuture = Date.UTC(2100, 0, 1);
    expect((await db.store.leases.claim(claim('c', 'one', farFuture))).lease.expiresAtMs).toBe(farFuture + 5_000);
    expect((await db.store.leases.get('c'))?.expiresAtMs).toBe(farFuture + 5_000);
  });

  // Only PostgreSQL has separate connections racing; one SQLite file has one writer.
  const racing = db.kind === 'postgres' ? it : () => undefined;
  racing('grants exactly one of many claims made at once on separate connections', async () => {
    const others = await Promise.all(Array.from({ length: 4 }, () => openStore({ url: db.url })));
    try {
      for (const lease of ['d', 'e']) {
        if (lease === 'e') await db.store.leases.claim(claim('e', 'old', 0));
        const outcomes = await Promise.all(others.map((s, i) => s.leases.claim(claim(lease, `s${i}`, 10_000))));
        const winners = outcomes.filter((o) => o.granted);
        expect(winners).toHaveLength(1);
        const holder = winners[0]!.lease.holder;
        expect(outcomes.filter((o) => !o.granted).every((o) => o.lease.holder === holder)).toBe(true);
        expect((await db.store.leases.get(lease))?.holder).toBe(holder);
      }
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });
});
