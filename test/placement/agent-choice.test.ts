import { describe, expect, it } from 'vitest';
import { candidatesFor, leastLoaded, type PlacementAgent } from '../../src/placement/index.ts';

const agents: PlacementAgent[] = [
  { name: 'c', labels: ['web', 'eu'], live: true },
  { name: 'a', labels: ['web'], live: true },
  { name: 'b', labels: ['web', 'eu'], live: false },
  { name: 'd', labels: ['eu'], live: true },
];

describe('which agents may run a placed environment', () => {
  it('takes the live agents carrying every label, in name order', () => {
    expect(candidatesFor(agents, { labels: ['web'] })).toEqual(['a', 'c']);
    expect(candidatesFor(agents, { labels: ['web', 'eu'] })).toEqual(['c']);
    expect(candidatesFor(agents, { labels: ['gpu'] })).toEqual([]);
  });

  it('keeps the first `spread` of them, so a lost one is replaced by the next', () => {
    expect(candidatesFor(agents, { labels: ['web'], spread: 1 })).toEqual(['a']);
    const aLost = agents.map((x) => (x.name === 'a' ? { ...x, live: false } : x));
    expect(candidatesFor(aLost, { labels: ['web'], spread: 1 })).toEqual(['c']);
  });

  it('gives new work to the least loaded candidate, ties to the first by name', () => {
    expect(leastLoaded(['b', 'a'], new Map())).toBe('a');
    expect(
      leastLoaded(
        ['a', 'b'],
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    ).toBe('b');
    expect(
      leastLoaded(
        ['a', 'b'],
        new Map([
          ['a', 1],
          ['b', 1],
        ]),
      ),
    ).toBe('a');
    expect(leastLoaded([], new Map())).toBeUndefined();
  });
});
