/**
 * LeaseKeeper on a real store (SQLite; the contract suite covers PostgreSQL) with a ManualClock:
 * a second server takes the lease over only once the first stopped renewing and the lease
 * expired; a clean stop hands it over at the next claim; an owner whose claims hang past its
 * deadline, or are refused, learns once that it lost the lease.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { LeaseKeeper } from '../../../src/server/leases/index.ts';
import { type LeaseStore, openStore, type Store } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';

describe('LeaseKeeper', () => {
  let database: TestDatabase;
  let store: Store;
  let clock: ManualClock;

  beforeEach(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    clock = new ManualClock();
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
  });

  const keeper = (holder: string, log: string[], leases: LeaseStore = store.leases, loseAtDeadline = true) =>
    new LeaseKeeper({
      loseAtDeadline,
      leases,
      clock,
      name: 'loops',
      holder,
      holderUrl: `http://${holder}`,
      ttlMs: 5_000,
      onAcquired: async (token) => {
        log.push(`${holder} acquired ${token}`);
      },
      onLost: () => log.push(`${holder} lost`),
      warn: () => undefined,
    });

  /** Moves time by one claim interval (a fifth of the lease) and lets the claims it started answer. */
  const step = async (...keepers: LeaseKeeper[]) => {
    clock.advance(1_000);
    await Promise.all(keepers.map((k) => k.settled()));
  };

  it('gives the lease to the first claimant; a second takes it over only once the first stopped renewing and it expired', async () => {
    const log: string[] = [];
    // `one` dies (kill -9) when `dead` is set: its claims never reach the store again.
    let dead = false;
    const dying: LeaseStore = { ...store.leases, claim: (c) => (dead ? new Promise(() => undefined) : store.leases.claim(c)) };
    const one = keeper('one', log, dying);
    const two = keeper('two', log);
    await one.start();
    await two.start();
    for (let i = 0; i < 10; i++) await step(one, two);
    expect([one.phase, two.phase]).toEqual(['owning', 'following']);
    expect(log).toEqual(['one acquired 1']);

    dead = true;
    const diedAt = clock.now();
    while (two.phase === 'following') await step(two);
    // Renewed last at diedAt, so expired at diedAt + 5 s, when `two` claims; `one` itself gave up a fifth earlier.
    expect(clock.now() - diedAt).toBe(5_000);
    expect(log).toEqual(['one acquired 1', 'one lost', 'two acquired 2']);
    await two.stop();
  });

  it('hands the lease over at the next claim after a clean stop', async () => {
    const log: string[] = [];
    const one = keeper('one', log);
    const two = keeper('two', log);
    await one.start();
    await two.start();
    await one.stop();
    await step(two);
    expect(two.phase).toBe('owning');
    expect(log).toEqual(['one acquired 1', 'two acquired 2']);
    await two.stop();
  });

  it('tells an owner whose renewal was refused that it lost the lease, once, and stops claiming', async () => {
    const log: string[] = [];
    const one = keeper('one', log);
    await one.start();
    // Another server took the lease while `one` was away (e.g. paused past its expiry).
    await store.leases.claim({ name: 'loops', holder: 'two', holderUrl: 'http://two', nowMs: clock.now() + 10_000, ttlMs: 60_000 });
    await step(one);
    await step(one);
    expect(one.phase).toBe('lost');
    expect(log).toEqual(['one acquired 1', 'one lost']);
    expect(clock.pending).toBe(0);
    await one.stop();
    expect((await store.leases.get('loops'))?.holder).toBe('two');
  });

  it('keeps a fenced lease past its deadline while nobody took it, and loses it once someone did', async () => {
    const log: string[] = [];
    // Renewals stall (a loaded machine) while `stall` is set: the claims hang, then answer.
    let stall: (() => void)[] | null = null;
    const stalling: LeaseStore = {
      ...store.leases,
      claim: async (c) => {
        if (stall !== null) await new Promise<void>((resolve) => stall?.push(resolve));
        return store.leases.claim(c);
      },
    };
    const one = keeper('one', log, stalling, false);
    await one.start();
    stall = [];
    for (let i = 0; i < 10; i++) clock.advance(1_000);
    expect(one.phase).toBe('owning');
    const waiting = stall;
    stall = null;
    for (const resume of waiting) resume();
    await step(one);
    expect(one.phase).toBe('owning');
    await store.leases.claim({ name: 'loops', holder: 'two', holderUrl: 'http://two', nowMs: clock.now() + 10_000, ttlMs: 60_000 });
    await step(one);
    await step(one);
    expect(one.phase).toBe('lost');
    expect(log).toEqual(['one acquired 1', 'one lost']);
    await one.stop();
  });
});
