import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { Router, validateRouteTable } from '../../src/proxy/index.ts';

describe('Router', () => {
  it('spreads the canary share evenly (smooth weighted round robin)', () => {
    const r = new Router(['s1', 's2'], ['c'], { stable: 90, canary: 10 }, []);
    const picks = Array.from({ length: 1000 }, () => r.pick(false));
    expect(picks.filter((p) => p === 'c')).toHaveLength(100);
    // never two canary picks closer than 10 apart at 90/10
    const at = picks.flatMap((p, i) => (p === 'c' ? [i] : []));
    for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBe(10);
    expect(picks.filter((p) => p === 's1')).toHaveLength(450);
  });

  it('gives an empty pool weight to the other, and retries across pools without repeats', () => {
    expect(Array.from({ length: 10 }, () => new Router(['s'], [], { stable: 0, canary: 100 }, []).pick(false))).toEqual(
      Array(10).fill('s'),
    );
    expect(new Router([], [], { stable: 100, canary: 0 }, []).pick(false)).toBeNull();
    const r = new Router(['s1', 's2'], ['c'], { stable: 100, canary: 0 }, []);
    expect(r.pick(true)).toBe('c');
    expect(r.retry('s1', ['s1'])).toBe('s2');
    expect(r.retry('s1', ['s1', 's2'])).toBe('c');
    expect(r.retry('s1', ['s1', 's2', 'c'])).toBeNull();
  });

  it('rejects invalid tables listing every problem', () => {
    try {
      validateRouteTable({
        upstreams: [
          { id: 'a', host: 'h', port: 70000, pool: 'stable', version: '1' },
          { id: 'a', host: 'h', port: 1, pool: 'stable', version: '1' },
        ],
        weights: { stable: 90, canary: 20 },
        match: [{ cookie: 'c', regex: '[' }],
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      for (const bit of [/port must be/, /listed twice/, /sum to 100/, /regex does not compile/]) expect((e as Error).message).toMatch(bit);
    }
  });
});
