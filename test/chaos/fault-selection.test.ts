import { describe, expect, it } from 'vitest';
import type { ProxyFault } from '../../src/core/chaos-config.ts';
import {
  compileFaults,
  faultDelayMs,
  requestPath,
  resolveFaultReleases,
  seededRandom,
  selectFault,
  shareTestPValue,
  type FaultRequest,
} from '../../src/chaos/index.ts';

const latency = (patch: Partial<Extract<ProxyFault, { kind: 'latency' }>> = {}): Extract<ProxyFault, { kind: 'latency' }> => ({
  kind: 'latency',
  delayMs: 200,
  jitterMs: 50,
  distribution: 'uniform',
  percent: 10,
  match: {},
  ...patch,
});

function req(patch: Partial<FaultRequest> = {}): FaultRequest {
  return { method: 'GET', target: '/pay', headers: ['Host', 'shop'], release: 'r1', ...patch };
}

describe('selectFault', () => {
  it('takes 10 % of 10,000 matching requests within the binomial interval, and never one outside the match', () => {
    const faults = compileFaults([latency({ match: { path: '/pay' } })]);
    const random = seededRandom(42);
    let matchingTaken = 0;
    let otherTaken = 0;
    for (let i = 0; i < 10_000; i++) {
      if (selectFault(faults, req(), random) === 0) matchingTaken++;
      if (selectFault(faults, req({ target: '/cart' }), random) === 0) otherTaken++;
    }
    expect(otherTaken).toBe(0);
    expect(shareTestPValue(matchingTaken, 10_000, 0.1)).toBeGreaterThan(0.001);
    // and a share that is off is told apart: 12 % of 10,000 is far outside the interval.
    expect(shareTestPValue(1200, 10_000, 0.1)).toBeLessThan(1e-6);
  });

  it('needs every field of a match: method, path prefix, header, cookie and release', () => {
    const faults = compileFaults([
      {
        kind: 'abort',
        status: 503,
        percent: 100,
        match: {
          path: '/pay',
          method: 'post',
          header: { name: 'X-Test', value: 'chaos' },
          cookie: { name: 'tier', value: 'test' },
          release: 'r2',
        },
      },
    ]);
    const hit = req({ method: 'POST', target: '/pay/card?x=1', release: 'r2', headers: ['x-test', 'chaos', 'Cookie', 'a=1; tier=test'] });
    const always = () => 0;
    expect(selectFault(faults, hit, always)).toBe(0);
    expect(selectFault(faults, { ...hit, method: 'GET' }, always)).toBe(-1);
    expect(selectFault(faults, { ...hit, target: '/cart' }, always)).toBe(-1);
    expect(selectFault(faults, { ...hit, release: 'r1' }, always)).toBe(-1);
    expect(selectFault(faults, { ...hit, headers: ['Cookie', 'tier=test'] }, always)).toBe(-1);
    expect(selectFault(faults, { ...hit, headers: ['X-Test', 'chaos', 'Cookie', 'tier=prod'] }, always)).toBe(-1);
  });

  it('tries faults in order; a matching request draws once per fault it matches', () => {
    const faults = compileFaults([latency({ percent: 0 }), { kind: 'reset', percent: 100, match: {} }]);
    let draws = 0;
    const counting = () => {
      draws++;
      return 0.5;
    };
    expect(selectFault(faults, req(), counting)).toBe(1);
    expect(draws).toBe(2);
  });
});

describe('requestPath', () => {
  it('drops the query, and the scheme and authority of an absolute-form target', () => {
    expect(requestPath('/pay?x=1')).toBe('/pay');
    expect(requestPath('/pay')).toBe('/pay');
    expect(requestPath('http://shop:8080/pay/x?y')).toBe('/pay/x');
    expect(requestPath('http://shop')).toBe('/');
  });
});

describe('faultDelayMs', () => {
  it('keeps a uniform delay within ± jitter and a normal one around its mean, never negative', () => {
    const random = seededRandom(7);
    const uniform = Array.from({ length: 2000 }, () => faultDelayMs(latency(), random));
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(150);
    expect(Math.max(...uniform)).toBeLessThanOrEqual(250);
    const normal = Array.from({ length: 2000 }, () => faultDelayMs(latency({ distribution: 'normal', delayMs: 10, jitterMs: 20 }), random));
    expect(Math.min(...normal)).toBeGreaterThanOrEqual(0);
    const mean =
      Array.from({ length: 2000 }, () => faultDelayMs(latency({ distribution: 'normal', jitterMs: 20 }), random)).reduce((a, b) => a + b) /
      2000;
    expect(Math.abs(mean - 200)).toBeLessThan(2);
    expect(faultDelayMs(latency({ jitterMs: 0 }), random)).toBe(200);
  });
});

describe('resolveFaultReleases', () => {
  const onCanary: ProxyFault = { kind: 'abort', status: 503, percent: 50, match: { release: 'canary', path: '/pay' } };
  it('puts the release a rollout brings in where a fault names the canary, and the running one for stable', () => {
    const [canary, stable, other] = resolveFaultReleases(
      [onCanary, { kind: 'reset', percent: 1, match: { release: 'stable' } }, { kind: 'reset', percent: 1, match: { release: 'r7' } }],
      { stable: 'r1', canary: 'r2' },
    );
    expect(canary?.match).toEqual({ release: 'r2', path: '/pay' });
    expect(stable?.match).toEqual({ release: 'r1' });
    expect(other?.match).toEqual({ release: 'r7' });
  });

  it('refuses a fault on the canary when no rollout is under way', () => {
    expect(() => resolveFaultReleases([onCanary], { stable: 'r1', canary: null })).toThrow(/no rollout is under way/);
  });
});
