/** newId: 26 Crockford base32 characters, sortable by time, strictly increasing per generator. */
import { describe, expect, it } from 'vitest';
import { createIdGenerator, newId } from '../../src/core/ids.ts';

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function decodeTime(id: string): number {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  return [...id.slice(0, 10)].reduce((n, c) => n * 32 + alphabet.indexOf(c), 0);
}

describe('newId', () => {
  it('makes 26-character Crockford base32 ids whose prefix is the creation time', () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(id).toMatch(CROCKFORD);
    expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id)).toBeLessThanOrEqual(after);
  });

  it('is strictly increasing within one millisecond', () => {
    const next = createIdGenerator({ now: () => 1_700_000_000_000 });
    const ids = Array.from({ length: 2000 }, next);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids.map((id) => id.slice(0, 10))).size).toBe(1);
  });

  it('sorts by time across milliseconds and does not go back when the clock does', () => {
    let now = 1_700_000_000_000;
    const next = createIdGenerator({ now: () => now });
    const a = next();
    now += 1;
    const b = next();
    now -= 500; // clock stepped back
    const c = next();
    expect(a < b && b < c).toBe(true);
    expect(decodeTime(c)).toBe(decodeTime(b));
  });

  it('carries into the next millisecond when the randomness of one runs out', () => {
    const next = createIdGenerator({ now: () => 0, random: (bytes) => bytes.fill(0xff) });
    expect(next()).toBe(`0000000000${'Z'.repeat(16)}`);
    expect(next()).toBe(`0000000001${'0'.repeat(16)}`);
    expect(next()).toBe(`0000000001${'0'.repeat(15)}1`);
  });

  it('gives different ids to separate generators in the same millisecond', () => {
    const a = createIdGenerator({ now: () => 5 });
    const b = createIdGenerator({ now: () => 5 });
    expect(a()).not.toBe(b());
  });
});
